"""A traced graph as a flat list of `Op`s in one vocabulary, with weights and source lines.

Both dialects (an `fx.GraphModule` from `symbolic_trace`, an `ExportedProgram` from
`torch.export`) become the same list: every op has a canonical name (`ops.py`), its
arguments by name (graph values as `Ref`s, weights as tensors), its module path, the
source line it came from, and the shape and dtype of its output when known. Leaf
modules of a symbolic trace (`call_module`) become the functional op they compute,
with the module's weights as arguments, so the range rules see one form.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
import torch.nn as nn
from torch import fx

from nanlint.graph.ops import bind_arguments, canonical_name


@dataclass(frozen=True)
class Ref:
    """A reference to the output of the op called `name`."""

    name: str


@dataclass(frozen=True)
class Location:
    path: str
    line: int


@dataclass
class Op:
    name: str
    kind: str  # canonical op name, or "input" / "param" / "output"
    args: dict[str, Any] = field(default_factory=dict)
    module: str = ""
    location: Location | None = None
    shape: tuple[int, ...] | None = None
    dtype: torch.dtype | None = None
    # The tensor of a "param" op (a parameter, buffer or constant).
    value: torch.Tensor | None = None
    # For "input" ops: the position among the user inputs.
    index: int = -1
    # For leaf-module ops: the module itself.
    source_module: nn.Module | None = None
    # 1-based position in the graph: the "line" of a finding when no source is known.
    position: int = 0

    def refs(self) -> Iterable[Ref]:
        return _refs(self.args)


@dataclass
class Graph:
    ops: list[Op]
    # "fx" for symbolic_trace, "export" for torch.export
    dialect: str
    training: bool

    def by_name(self) -> dict[str, Op]:
        return {op.name: op for op in self.ops}


def _refs(value: Any) -> Iterable[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs(item)


def _convert(value: Any) -> Any:
    """fx Nodes become Refs; containers are rebuilt; everything else is kept."""
    if isinstance(value, fx.Node):
        return Ref(value.name)
    if isinstance(value, (list, tuple)):
        return tuple(_convert(v) for v in value)
    if isinstance(value, dict):
        return {k: _convert(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- source locations

_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


def user_location(stack_trace: str | None) -> Location | None:
    """The innermost frame of the trace that is not torch's own code."""
    if not stack_trace:
        return None
    found = None
    for match in _FRAME.finditer(stack_trace):
        path = match.group("path")
        if path.startswith(_TORCH_DIR) or path.startswith("<"):
            continue
        found = Location(path, int(match.group("line")))
    return found


def _module_path(node: fx.Node) -> str:
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return str(path)


def _shape_dtype(node: fx.Node) -> tuple[tuple[int, ...] | None, torch.dtype | None]:
    meta = node.meta.get("tensor_meta")
    if meta is None:
        meta = node.meta.get("val")
    if isinstance(meta, (list, tuple)) and meta and not hasattr(meta, "shape"):
        meta = meta[0]
    shape = getattr(meta, "shape", None)
    dtype = getattr(meta, "dtype", None)
    if shape is None:
        return None, dtype if isinstance(dtype, torch.dtype) else None
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):  # symbolic sizes
        dims = None
    return dims, dtype if isinstance(dtype, torch.dtype) else None


# ---------------------------------------------------------------- leaf modules


def _conv_args(m: nn.Module) -> dict[str, Any]:
    padding = m.padding if m.padding_mode == "zeros" else 0
    return {"weight": m.weight, "bias": m.bias, "stride": m.stride, "padding": padding,
            "dilation": m.dilation, "groups": m.groups}


def _batch_norm_args(m: nn.Module) -> dict[str, Any]:
    tracked = m.track_running_stats
    return {"weight": m.weight, "bias": m.bias,
            "running_mean": m.running_mean if tracked else None,
            "running_var": m.running_var if tracked else None,
            "training": m.training, "momentum": m.momentum, "eps": m.eps}


# Leaf module type -> (canonical op, arguments from the module). Modules not listed
# are traced through.
LEAF_MODULES: dict[type, tuple[str, Any]] = {
    nn.Linear: ("linear", lambda m: {"weight": m.weight, "bias": m.bias}),
    nn.Conv1d: ("conv", _conv_args), nn.Conv2d: ("conv", _conv_args), nn.Conv3d: ("conv", _conv_args),
    nn.BatchNorm1d: ("batch_norm", _batch_norm_args), nn.BatchNorm2d: ("batch_norm", _batch_norm_args),
    nn.BatchNorm3d: ("batch_norm", _batch_norm_args), nn.SyncBatchNorm: ("batch_norm", _batch_norm_args),
    nn.InstanceNorm1d: ("instance_norm", lambda m: {"weight": m.weight, "bias": m.bias, "eps": m.eps}),
    nn.InstanceNorm2d: ("instance_norm", lambda m: {"weight": m.weight, "bias": m.bias, "eps": m.eps}),
    nn.LayerNorm: ("layer_norm", lambda m: {"normalized_shape": m.normalized_shape, "weight": m.weight,
                                           "bias": m.bias, "eps": m.eps}),
    nn.GroupNorm: ("group_norm", lambda m: {"num_groups": m.num_groups, "weight": m.weight,
                                           "bias": m.bias, "eps": m.eps}),
    nn.Embedding: ("embedding", lambda m: {"weight": m.weight}),
    nn.Dropout: ("dropout", lambda m: {"p": m.p, "training": m.training}),
    nn.Dropout1d: ("dropout", lambda m: {"p": m.p, "training": m.training}),
    nn.Dropout2d: ("dropout", lambda m: {"p": m.p, "training": m.training}),
    nn.ReLU: ("relu", lambda m: {}), nn.ReLU6: ("relu6", lambda m: {}), nn.GELU: ("gelu", lambda m: {}),
    nn.SiLU: ("silu", lambda m: {}), nn.Sigmoid: ("sigmoid", lambda m: {}), nn.Tanh: ("tanh", lambda m: {}),
    nn.Mish: ("mish", lambda m: {}), nn.Identity: ("alias", lambda m: {}),
    nn.LeakyReLU: ("leaky_relu", lambda m: {"negative_slope": m.negative_slope}),
    nn.ELU: ("elu", lambda m: {"alpha": m.alpha}),
    nn.Softplus: ("softplus", lambda m: {"beta": m.beta}),
    nn.Hardtanh: ("hardtanh", lambda m: {"min_val": m.min_val, "max_val": m.max_val}),
    nn.Softmax: ("softmax", lambda m: {"dim": m.dim}), nn.LogSoftmax: ("log_softmax", lambda m: {"dim": m.dim}),
    nn.Flatten: ("view", lambda m: {}),
    nn.MaxPool1d: ("max_pool", lambda m: {}), nn.MaxPool2d: ("max_pool", lambda m: {}),
    nn.AdaptiveMaxPool2d: ("max_pool", lambda m: {}),
    nn.AvgPool1d: ("avg_pool", lambda m: {"padding": m.padding}),
    nn.AvgPool2d: ("avg_pool", lambda m: {"padding": m.padding}),
    nn.AdaptiveAvgPool1d: ("avg_pool", lambda m: {"padding": 0}),
    nn.AdaptiveAvgPool2d: ("avg_pool", lambda m: {"padding": 0}),
}
if hasattr(nn, "RMSNorm"):
    LEAF_MODULES[nn.RMSNorm] = ("rms_norm", lambda m: {"normalized_shape": m.normalized_shape,
                                                        "weight": m.weight, "eps": m.eps})


def is_modelled_leaf(module: nn.Module) -> bool:
    return type(module) in LEAF_MODULES


# ---------------------------------------------------------------- graph conversion


def from_graph_module(gm: fx.GraphModule, training: bool) -> Graph:
    """A symbolic_trace GraphModule (with ShapeProp metadata when it was run)."""
    ops: list[Op] = []
    inputs = 0
    for position, node in enumerate(gm.graph.nodes, start=1):
        shape, dtype = _shape_dtype(node)
        base = dict(name=node.name, module=_module_path(node), position=position,
                    location=user_location(node.meta.get("stack_trace")), shape=shape, dtype=dtype)
        if node.op == "placeholder":
            ops.append(Op(kind="input", index=inputs, **base))
            inputs += 1
        elif node.op == "get_attr":
            value = _fetch(gm, str(node.target))
            if isinstance(value, torch.Tensor):
                ops.append(Op(kind="param", value=value.detach(), **base))
            else:
                ops.append(Op(kind="constant", args={"value": value}, **base))
        elif node.op == "call_module":
            module = gm.get_submodule(str(node.target))
            kind, module_args = LEAF_MODULES.get(type(module), (f"module:{type(module).__name__}", lambda m: {}))
            args = {"input": _convert(node.args[0]) if node.args else None, **module_args(module)}
            ops.append(Op(kind=kind, args=args, source_module=module, **base))
        elif node.op in ("call_function", "call_method"):
            ops.append(_call(node, base))
        elif node.op == "output":
            ops.append(Op(kind="output", args={"input": _convert(node.args[0])}, **base))
    return Graph(ops, "fx", training)


def _fetch(root: nn.Module, target: str) -> Any:
    value: Any = root
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _call(node: fx.Node, base: dict[str, Any]) -> Op:
    kind = canonical_name(node.op, node.target)
    args = bind_arguments(node.op, node.target, kind, tuple(_convert(a) for a in node.args),
                          {k: _convert(v) for k, v in node.kwargs.items()})
    return Op(kind=kind, args=args, **base)


def from_exported(program: torch.export.ExportedProgram, training: bool) -> Graph:
    """An ExportedProgram: lifted parameters, buffers and constants become "param" ops."""
    signature = program.graph_signature
    lifted: dict[str, str] = {}
    lifted.update(signature.inputs_to_parameters)
    lifted.update(signature.inputs_to_buffers)
    lifted.update(signature.inputs_to_lifted_tensor_constants)
    state = program.state_dict
    constants = program.constants
    ops: list[Op] = []
    inputs = 0
    for position, node in enumerate(program.graph_module.graph.nodes, start=1):
        shape, dtype = _shape_dtype(node)
        base = dict(name=node.name, module=_module_path(node), position=position,
                    location=user_location(node.meta.get("stack_trace")), shape=shape, dtype=dtype)
        if node.op == "placeholder":
            fqn = lifted.get(node.name)
            value = None if fqn is None else state.get(fqn, constants.get(fqn))
            if isinstance(value, torch.Tensor):
                ops.append(Op(kind="param", value=value.detach(), **base))
            elif fqn is not None:
                ops.append(Op(kind="constant", args={"value": value}, **base))
            else:
                ops.append(Op(kind="input", index=inputs, **base))
                inputs += 1
        elif node.op == "get_attr":
            value = _fetch(program.graph_module, str(node.target))
            if isinstance(value, torch.Tensor):
                ops.append(Op(kind="param", value=value.detach(), **base))
            else:
                ops.append(Op(kind="constant", args={"value": None}, **base))
        elif node.op in ("call_function", "call_method"):
            ops.append(_call(node, base))
        elif node.op == "output":
            ops.append(Op(kind="output", args={"input": _convert(node.args[0])}, **base))
    return Graph(ops, "export", training)
