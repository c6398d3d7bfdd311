"""Trace a model in train and in eval mode: `symbolic_trace` first, `torch.export` second.

Tracing freezes the training flag (`F.dropout(training=self.training)`, BatchNorm's
choice of statistics), so each mode is traced on its own. The model is run (a forward
to check it works, ShapeProp for shapes); its buffers are restored afterwards, so a
train-mode run leaves no trace in the running statistics we then inspect.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
import torch.nn as nn
from torch import fx
from torch.fx.passes.shape_prop import ShapeProp

from nanlint.graph.ir import Graph, from_exported, from_graph_module, is_modelled_leaf
from nanlint.graph.load import TraceFailure, one_line


class _Tracer(fx.Tracer):
    """Keeps the modules the range rules model as single ops; traces through the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_modelled_leaf(m)


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        return any(_has_tensor(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    return False


@contextlib.contextmanager
def preserved(module: nn.Module) -> Iterator[None]:
    """Restore the buffers (running statistics) and the training flags afterwards."""
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    modes = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)
        for m, training in modes:
            m.training = training


def check_forward(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Run the model once in eval mode: NAN002 for a forward that raises or returns no tensor."""
    module.eval()
    try:
        with torch.no_grad():
            output = module(*args, **kwargs)
    except (Exception, SystemExit) as error:  # whatever the user's forward raises is the reason
        raise TraceFailure(f"forward raised {one_line(error)}") from None
    if not _has_tensor(output):
        raise TraceFailure(f"forward returned {type(output).__name__}, not a tensor")


def trace_modes(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Graph]:
    """The eval graph, then the train graph."""
    with preserved(module):
        check_forward(module, args, kwargs)
        graphs = []
        for training in (False, True):
            module.train(training)
            graphs.append(trace(module, args, kwargs, training))
    return graphs


def trace(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], training: bool) -> Graph:
    try:
        return _symbolic(module, args, kwargs, training)
    except Exception as fx_error:  # real models raise anything from data-dependent control flow
        try:
            program = torch.export.export(module, args, kwargs or None, strict=False)
        except Exception as export_error:
            raise TraceFailure(
                f"symbolic_trace failed ({one_line(fx_error)}) and torch.export failed ({one_line(export_error)})"
            ) from None
        return from_exported(program, training)


def _symbolic(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], training: bool) -> Graph:
    if kwargs:
        raise TypeError("keyword inputs need torch.export")
    tracer = _Tracer()
    graph = tracer.trace(module)
    gm = fx.GraphModule(tracer.root, graph)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(args) > len(placeholders):
        raise TypeError(f"{len(args)} inputs for {len(placeholders)} forward arguments")
    with torch.no_grad():
        ShapeProp(gm).propagate(*args)
    return from_graph_module(gm, training)
