"""Interval range propagation over a traced graph, with the model's real weights.

Every op gets an `Interval` of the float values its output can hold, computed from the
input ranges, the actual min/max (and row sums) of the weights, and a transfer
function per op. The intervals are of floats, not reals: `exp`, `sigmoid` and
`softmax` round to exactly 0 or 1 at the ends of their range (so `log(softmax(x))` and
`1 - sigmoid(x)` can meet 0), values past the dtype's maximum become infinite, and
constants are rounded to the dtype first (1e-8 is 0 in float16).

Plain intervals cannot prove the guards real models rely on, so a value also carries
a few facts:

- `guarded`: it came out of an explicit guard (`+ c` with c > 0, `clamp(min=c>0)`,
  `maximum(x, c>0)`, `softplus`), so its author handled the bad domain even when the
  interval cannot show it;
- `peak`: along dimension `d`, every slice has an element >= c (softmax: 1/n; after
  `x - x.amax(d)`: 0, so `exp` of it has an element equal to 1, and its sum is >= 1);
- `max_of`: the value is the max of another op's output along `d` (to recognise
  `x - x.max(d)`);
- `origin`: the reduction that made it (`norm`, `sum`, `std`...), for NAN102 and messages.

Unknown ops give an unbounded interval, never an error.
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from nanlint.graph.intervals import UNBOUNDED, UNIT, Interval, fit, hull, point, round_to
from nanlint.graph.ir import Graph, Op, Ref
from nanlint.graph.transfer import TRANSFER, refs_in
from nanlint.graph.weights import Weights

# The range of a weight nobody has read yet (see Analysis.range_of).
_LAZY = Interval(origin="lazy")


class Context:
    """What a transfer function sees: the op, its argument ranges, shapes, dtype."""

    def __init__(self, analysis: "Analysis", op: Op) -> None:
        self.analysis = analysis
        self.op = op
        self.dtype = analysis.dtype_of(op)

    def arg(self, name: str, default: Any = None) -> Any:
        return self.op.args.get(name, default)

    def range(self, value: Any) -> Interval | None:
        return self.analysis.range_of(value, self.dtype)

    def input(self, name: str = "input") -> Interval:
        found = self.range(self.op.args.get(name))
        return found if isinstance(found, Interval) else UNBOUNDED

    def shape(self, value: Any = None) -> tuple[int, ...] | None:
        return self.analysis.shape_of(self.op.args.get("input") if value is None else value)

    def tensor(self, name: str) -> torch.Tensor | None:
        return self.analysis.tensor_of(self.op.args.get(name))

    def is_constant(self, value: Any) -> bool:
        return self.analysis.is_constant(value)


class Analysis:
    """The ranges of one graph: `ranges[op name]` is an Interval (or a tuple of them)."""

    def __init__(
        self,
        graph: Graph,
        input_ranges: Mapping[int, tuple[float, float]] | None = None,
        dtype: torch.dtype | None = None,
        weights: Weights | None = None,
    ) -> None:
        self.graph = graph
        self.ops = graph.by_name()
        self.input_ranges = dict(input_ranges or {})
        self.forced_dtype = dtype
        self.weights = weights or Weights()
        self.ranges: dict[str, Any] = {}
        self._users: dict[str, list[tuple[Op, str]]] | None = None

    # -- lookups used by transfer functions and checks

    def dtype_of(self, op: Op) -> torch.dtype | None:
        if self.forced_dtype is not None and (op.dtype is None or op.dtype.is_floating_point):
            return self.forced_dtype
        return op.dtype

    def range_of(self, value: Any, dtype: torch.dtype | None = None) -> Any:
        if isinstance(value, Ref):
            found = self.ranges.get(value.name, UNBOUNDED)
            if found is _LAZY:  # a weight's range is computed when something reads it
                found = self.ranges[value.name] = self.weights.range(self.ops[value.name].value)
            return found
        if isinstance(value, bool):
            return point(float(value))
        if isinstance(value, (int, float)):
            return point(round_to(float(value), dtype))
        if isinstance(value, torch.Tensor):
            return self.weights.range(value)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (Ref, torch.Tensor)) for v in value):
            return hull(*(self.range_of(v, dtype) for v in value if isinstance(self.range_of(v, dtype), Interval)))
        return None

    def shape_of(self, value: Any) -> tuple[int, ...] | None:
        if isinstance(value, Ref):
            op = self.ops.get(value.name)
            return op.shape if op is not None else None
        if isinstance(value, torch.Tensor):
            return tuple(value.shape)
        return None

    def tensor_of(self, value: Any) -> torch.Tensor | None:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, Ref):
            op = self.ops.get(value.name)
            if op is not None and op.kind == "param":
                return op.value
        return None

    def is_constant(self, value: Any) -> bool:
        """A Python number or a single-element weight: `+ eps` guards use these."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        tensor = self.tensor_of(value)
        return tensor is not None and tensor.numel() == 1

    def users(self) -> dict[str, list[tuple[Op, str]]]:
        """For each op name, the ops that read it and under which argument name."""
        if self._users is None:
            users: dict[str, list[tuple[Op, str]]] = {}
            for op in self.graph.ops:
                for argument, value in op.args.items():
                    for ref in refs_in(value):
                        users.setdefault(ref.name, []).append((op, argument))
            self._users = users
        return self._users

    # -- the pass

    def run(self) -> "Analysis":
        for op in self.graph.ops:
            try:
                result = self._transfer(op)
            except Exception:  # a transfer function meeting an unforeseen argument form
                result = UNBOUNDED
            if isinstance(result, Interval) and result is not _LAZY:
                result = fit(result, self.dtype_of(op))
            self.ranges[op.name] = result
        return self

    def _transfer(self, op: Op) -> Any:
        if op.kind == "input":
            return self._input_range(op)
        if op.kind == "param":
            return _LAZY
        if op.kind == "constant":
            value = op.args.get("value")
            return point(float(value)) if isinstance(value, (int, float)) else UNBOUNDED
        function = TRANSFER.get(op.kind)
        if function is None:
            return UNBOUNDED
        return function(Context(self, op))

    def _input_range(self, op: Op) -> Interval:
        given = self.input_ranges.get(op.index)
        if given is not None:
            return Interval(float(given[0]), float(given[1]))
        dtype = op.dtype
        if dtype == torch.bool:
            return UNIT
        if dtype is not None and not dtype.is_floating_point and not dtype.is_complex:
            return Interval(0.0, float(torch.iinfo(dtype).max))
        return UNBOUNDED


def analyze(
    graph: Graph,
    input_ranges: Mapping[int, tuple[float, float]] | None = None,
    dtype: torch.dtype | None = None,
    weights: Weights | None = None,
) -> Analysis:
    return Analysis(graph, input_ranges, dtype, weights).run()
