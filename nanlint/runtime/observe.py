"""Watch a model run op by op: where its first non-finite value is born, forward and backward.

Forward, a `TorchFunctionMode` sees every torch call the model's Python code makes
(`torch.log`, `x / y`, `F.batch_norm` inside `nn.BatchNorm1d`), with the live stack, so
each op gets the user's source line whether or not the model can be traced. An op whose
output holds NaN/Inf becomes an `OpEvent` that names where the non-finite value came
from: an earlier event, a parameter, a buffer, a model input, or nowhere (born there).
Hooks on every module keep the module path of each op and the first module whose output
is non-finite. Backward, a hook on every autograd node finds the first node that turns
finite incoming gradients into non-finite ones, mapped back to the forward op that made
it. Only non-finite values cost more than one `isfinite` per op.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

import nanlint
from nanlint.graph.ops import canonical_name
from nanlint.runtime.tensors import TensorSummary, all_finite, float_tensors, is_finite, summarize, tensors_in

# Frames in these folders are not the user's: the innermost other frame is the source line.
_NOT_USER = (os.path.dirname(torch.__file__) + os.sep, os.path.dirname(nanlint.__file__) + os.sep)

# Ops that only re-view, copy or inspect their input: they cannot create a non-finite value,
# so they are not checked; they pass the provenance of a non-finite input on.
_PASS_THROUGH = frozenset({
    "get", "view", "view_as", "reshape", "reshape_as", "transpose", "permute", "contiguous", "expand",
    "expand_as", "getitem", "squeeze", "unsqueeze", "flatten", "unflatten", "t", "clone", "detach",
    "narrow", "select", "split", "chunk", "unbind", "size", "dim", "numel", "stride", "requires_grad",
    "movedim", "repeat", "tile", "cat", "stack", "flip", "roll", "index_select", "gather",
})


@dataclass(frozen=True)
class Site:
    """A line of the user's source (absolute path)."""

    path: str
    line: int


def user_site() -> Site | None:
    """The innermost frame of the current stack that is neither torch's nor nanlint's."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_NOT_USER) and not filename.startswith("<"):
            return Site(filename, frame.f_lineno)
        frame = frame.f_back
    return None


def unobserved() -> Any:
    """A block whose torch calls no `Watch` sees (the probe's own checks inside hooks)."""
    return torch._C.DisableTorchFunction()


def op_name(func: Any) -> str:
    """The canonical name of a torch callable (`Tensor.__truediv__` -> `div`)."""
    name = getattr(func, "__name__", None) or str(func)
    if name in ("__get__", "__set__"):
        return "get"
    name = name.strip("_")
    if name.startswith("i") and name[1:] in ("truediv", "add", "sub", "mul", "pow"):
        name = name[1:]  # in-place operators: `x /= y`
    return canonical_name("call_method", name)


@dataclass
class OpEvent:
    """An op whose output holds NaN/Inf.

    Only an event without parents can be where a non-finite value is born, so only such
    an event summarizes its arguments and output (at once: later in-place ops may change
    them); the events down a chain cost no more than their `isfinite`.
    """

    index: int
    op: str
    site: Site | None
    module: str
    # Earlier events whose non-finite outputs this op received.
    parents: list["OpEvent"] = field(default_factory=list)
    # Non-finite arguments that no op made: "buffer `bn.running_var`", "model input 0".
    sources: list[str] = field(default_factory=list)
    # (what the argument is, its summary): "buffer `bn.running_var`", "input"; empty for
    # an event with parents.
    inputs: list[tuple[str, TensorSummary]] = field(default_factory=list)
    output: TensorSummary | None = None

    @property
    def born(self) -> bool:
        return not self.parents and not self.sources

    def origins(self) -> list["OpEvent"]:
        """The events at the start of the chains that lead here, earliest first."""
        found: dict[int, OpEvent] = {}
        pending = [self]
        seen: set[int] = set()
        while pending:
            event = pending.pop()
            if event.index in seen:
                continue
            seen.add(event.index)
            if event.parents:
                pending.extend(event.parents)
            else:
                found[event.index] = event
        return [found[i] for i in sorted(found)]


@dataclass
class ModuleEvent:
    """The first module (in completion order) whose output holds NaN/Inf."""

    path: str
    kind: str
    inputs: str
    output: str


@dataclass(frozen=True)
class OpSite:
    op: str
    site: Site | None
    module: str


class TensorNames:
    """What the non-finite argument of an op is, when no op made it."""

    def __init__(self, model: nn.Module, inputs: list[tuple[str, torch.Tensor]]) -> None:
        self._names: dict[int, str] = {}
        self._keep: list[torch.Tensor] = []
        for name, parameter in model.named_parameters():
            self._add(parameter, f"parameter `{name}`")
        for name, buffer in model.named_buffers():
            self._add(buffer, f"buffer `{name}`")
        for label, tensor in inputs:
            self._add(tensor, label)

    def _add(self, tensor: torch.Tensor, name: str) -> None:
        self._names.setdefault(id(tensor), name)
        self._keep.append(tensor)

    def name(self, tensor: torch.Tensor) -> str | None:
        name = self._names.get(id(tensor))
        base = tensor._base
        if name is None and base is not None:
            name = self._names.get(id(base))
        return name


class Watch(TorchFunctionMode):
    """Records non-finite events while active (`with watch:`), with `hook_modules` installed."""

    def __init__(self, model: nn.Module, names: TensorNames, map_backward: bool) -> None:
        super().__init__()
        self.names = names
        self.map_backward = map_backward
        self.events: list[OpEvent] = []
        self.first_module: ModuleEvent | None = None
        # Where each module is first called from (the line that calls it).
        self.module_sites: dict[str, Site | None] = {}
        # Forward op of each autograd node, to name the op a NaN gradient is born in.
        self.grad_sites: dict[Any, OpSite] = {}
        self._paths = {module: path for path, module in model.named_modules()}
        self._stack: list[str] = []
        # id -> (tensor, event): the tensor is kept so that its id is not reused.
        self._tracked: dict[int, tuple[torch.Tensor, OpEvent]] = {}

    # ---------------------------------------------------------------- ops

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        # The mode is off while its handler runs: the checks below are not observed.
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self._observe(func, args, kwargs, out)
        return out

    def _observe(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        name = op_name(func)
        outputs = float_tensors(out)
        if not outputs:
            return
        if name in _PASS_THROUGH:
            if self._tracked:
                self._pass_on((args, kwargs), outputs)
            return
        module = self._stack[-1] if self._stack else ""
        site = None
        if self.map_backward and any(t.grad_fn is not None for t in outputs):
            site = user_site()
            for tensor in outputs:
                if tensor.grad_fn is not None:
                    self.grad_sites.setdefault(tensor.grad_fn, OpSite(name, site, module))
        bad = [t for t in outputs if not is_finite(t)]
        if not bad:
            return
        parents, sources = self._provenance((args, kwargs))
        event = OpEvent(index=len(self.events), op=name, site=site or user_site(), module=module,
                        parents=parents, sources=sources)
        if not parents:
            event.inputs = [(self.names.name(t) or ("input" if i == 0 else f"argument {i}"), summarize(t))
                            for i, t in enumerate(float_tensors((args, kwargs)))]
            event.output = summarize(bad[0])
        self.events.append(event)
        for tensor in bad:
            self._tracked[id(tensor)] = (tensor, event)

    def _event_of(self, tensor: torch.Tensor) -> OpEvent | None:
        entry = self._tracked.get(id(tensor))
        if entry is None and tensor._base is not None:
            entry = self._tracked.get(id(tensor._base))
        return entry[1] if entry is not None else None

    def _pass_on(self, arguments: Any, outputs: list[torch.Tensor]) -> None:
        for tensor in float_tensors(arguments):
            event = self._event_of(tensor)
            if event is not None:
                for output in outputs:
                    self._tracked.setdefault(id(output), (output, event))
                return

    def _provenance(self, arguments: Any) -> tuple[list[OpEvent], list[str]]:
        parents: list[OpEvent] = []
        untracked = []
        for tensor in float_tensors(arguments):
            event = self._event_of(tensor)
            if event is None:
                untracked.append(tensor)
            elif event not in parents:
                parents.append(event)
        sources: list[str] = []
        if all_finite(untracked):
            return parents, sources
        for tensor in untracked:
            if is_finite(tensor):
                continue
            source = self.names.name(tensor) or "a tensor made outside the model's torch calls"
            sources.append(f"{source} ({summarize(tensor).value_text()})")
        return parents, sources

    def origin_of(self, output: Any) -> OpEvent | None:
        """The event where the non-finite values of `output` were born (earliest chain)."""
        reached = [e for t in float_tensors(output) if (e := self._event_of(t)) is not None]
        if not reached:
            return self.events[0] if self.events else None
        origins = [o for event in reached for o in event.origins()]
        return min(origins, key=lambda e: e.index)

    # ---------------------------------------------------------------- modules

    def _record_site(self, module: nn.Module, args: Any) -> None:
        path = self._paths.get(module, "")
        if path not in self.module_sites:
            self.module_sites[path] = user_site()

    def _before(self, module: nn.Module, args: Any) -> None:
        self._record_site(module, args)
        self._stack.append(self._paths.get(module, ""))

    def _after(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._stack:
            self._stack.pop()
        if self.first_module is not None:
            return
        with unobserved():
            if not all_finite(output):
                self.first_module = ModuleEvent(
                    path=self._paths.get(module, ""),
                    kind=type(module).__name__,
                    inputs="; ".join(summarize(t).describe() for t in float_tensors(args)) or "no float input",
                    output="; ".join(summarize(t).describe() for t in float_tensors(output)),
                )

    def hook_modules(self, model: nn.Module, watched: bool) -> list[Any]:
        """Hooks on every module: the line each is called from; `watched`, also the module
        stack (the module of each op) and the first module whose output is non-finite."""
        handles = []
        for module in model.modules():
            if watched:
                handles.append(module.register_forward_pre_hook(self._before))
                handles.append(module.register_forward_hook(self._after))
            else:
                handles.append(module.register_forward_pre_hook(self._record_site))
        return handles


@dataclass
class BackwardEvent:
    """The first autograd node that turned finite incoming gradients into NaN/Inf."""

    node: str
    forward: OpSite | None
    incoming: str
    produced: str


class BackwardWatch:
    """Hooks on every node of the autograd graph of `roots`, gone when the graph is freed."""

    def __init__(self, roots: list[torch.Tensor], grad_sites: dict[Any, OpSite]) -> None:
        self.first: BackwardEvent | None = None
        self.births = 0
        self._sites = grad_sites
        for node in _nodes([t.grad_fn for t in roots if t.grad_fn is not None]):
            if type(node).__name__ != "AccumulateGrad":
                node.register_hook(self._hook(node))

    def _hook(self, node: Any) -> Any:
        def hook(grad_inputs: tuple[Any, ...], grad_outputs: tuple[Any, ...]) -> None:
            produced = [g for g in grad_inputs if isinstance(g, torch.Tensor)]
            if all(is_finite(g) for g in produced):
                return
            incoming = [g for g in grad_outputs if isinstance(g, torch.Tensor)]
            if not all(is_finite(g) for g in incoming):
                return
            self.births += 1
            if self.first is None:
                self.first = BackwardEvent(
                    node=node.name(),
                    forward=self._sites.get(node),
                    incoming="; ".join(summarize(g).value_text() for g in incoming) or "none",
                    produced="; ".join(summarize(g).value_text() for g in produced),
                )
        return hook


def _nodes(roots: list[Any]) -> Iterator[Any]:
    pending = list(roots)
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        pending.extend(child for child, _ in node.next_functions if child is not None)


def input_labels(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, torch.Tensor]]:
    labels = []
    for index, value in enumerate(args):
        labels.extend((f"model input {index}", t) for t in tensors_in(value))
    for key, value in kwargs.items():
        labels.extend((f"model input `{key}`", t) for t in tensors_in(value))
    return labels
