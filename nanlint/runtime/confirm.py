"""Confirm a range-analysis hazard by constructing an input that triggers it (GRIST-style).

A graph finding says an op *can* go non-finite (its denominator range includes 0, its
log argument can reach 0...). This module runs the real model and searches its float
inputs for a witness: first a few starting points (the example inputs, all zeros, the
example scaled up), then a short gradient-guided search that drives a residual `r` of
the hazard's operand to its trigger point (r <= 0: the denominator's smallest |value|
reaches 0, the log argument's minimum reaches 0, the exp argument passes the overflow
point...). Each step tries Newton steps on `r` (which land on a root of a nearly linear
residual in one step and keep shrinking it to float underflow) and a normalized gradient
step on a log-scaled residual (for residuals such as a softmax tail that shrink
exponentially). The search is bounded in steps and seconds. The op is found in the live
run by its source line and op kind, so it works whether the model was traced with
symbolic_trace or torch.export. A witness is reported only when the real op, run on it,
triggers: a non-finite output (or, for sqrt/pow/inverse trig, an argument at the point
where the gradient is infinite).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from nanlint.findings import Analyzer, Evidence, Finding
from nanlint.runtime.observe import op_name, user_site
from nanlint.runtime.probe import SEED, restored
from nanlint.runtime.tensors import TensorSummary, is_finite, summarize, tensors_in


@dataclass(frozen=True)
class Budget:
    steps: int = 100
    seconds: float = 2.0
    # For all the hazards of one target together.
    total_seconds: float = 30.0


@dataclass(frozen=True)
class Goal:
    """How to reach the hazard: the residual to drive to <= 0, and what counts as triggered."""

    describe: str  # what the residual is, for the report ("min |denominator|")
    operand: str  # what the op's watched value is ("denominator")
    residual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    triggered: Callable[[torch.Tensor, torch.Tensor], bool]
    # Residuals that shrink multiplicatively towards 0 are searched on a log scale.
    log_scale: bool = False


def _min_abs(operand: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return operand.abs().min()


def _min(operand: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return operand.min()


def _nonfinite_output(operand: torch.Tensor, output: torch.Tensor) -> bool:
    return not is_finite(output)


def _exp_residual(operand: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return math.log(torch.finfo(operand.dtype).max) - operand.max()


def _overflow_residual(operand: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return math.log(torch.finfo(output.dtype).max) - output.abs().max().clamp_min(1e-30).log()


ZERO = Goal("min |denominator|", "denominator", _min_abs, lambda a, o: bool(a.abs().min() == 0), log_scale=True)
NONPOSITIVE = Goal("min argument", "argument", _min, lambda a, o: bool(a.min() <= 0), log_scale=True)
NEGATIVE = Goal("min base", "base", _min, _nonfinite_output)
UNIT = Goal("1 - max |argument|", "argument", lambda a, o: 1 - a.abs().max(), lambda a, o: bool(a.abs().max() >= 1))
EXP = Goal("overflow point - max argument", "argument", _exp_residual, _nonfinite_output)
OVERFLOW = Goal("log(dtype max) - log(max |value|)", "value", _overflow_residual, _nonfinite_output)
SHAPE = Goal("output", "output", lambda a, o: torch.zeros(()), _nonfinite_output)

# The goal of a finding: by its code where the code says more than the op (a `pow` is
# NAN204 at exponent 0.5, NAN205 at a fractional one), else by its op. Findings about the
# weights (NAN403, NAN404) have no goal: no input changes them.
GOALS_BY_CODE: dict[str, Goal] = {"NAN204": NONPOSITIVE, "NAN205": NEGATIVE, "NAN306": OVERFLOW, "NAN405": SHAPE}
GOALS_BY_OP: dict[str, Goal] = {
    "div": ZERO, "reciprocal": ZERO, "rsqrt": ZERO,
    "log": NONPOSITIVE, "log2": NONPOSITIVE, "log10": NONPOSITIVE, "log1p": NONPOSITIVE, "sqrt": NONPOSITIVE,
    "pow": NEGATIVE, "acos": UNIT, "asin": UNIT, "atanh": UNIT, "exp": EXP, "expm1": EXP,
}


def hazard_of(found: Finding) -> tuple[str, str, Goal] | None:
    """(code, op kind, goal) of the op a graph finding is about; for a finding about an op
    inside another (NAN501: the `log` inside a `torch.where`), the inner op."""
    extra = next((e.extra for e in found.evidence if e.analyzer == Analyzer.GRAPH and "op" in e.extra), None)
    if extra is None or found.code in ("NAN403", "NAN404"):
        return None
    code, kind = found.code, extra["op"]
    if "inner_op" in extra:
        code, kind = extra.get("inner_code", code), extra["inner_op"]
    goal = GOALS_BY_CODE.get(code) or GOALS_BY_OP.get(kind)
    return (code, kind, goal) if goal is not None else None


# Graph op kinds -> the names a live torch call of the same op has (op_name).
_KINDS = {"div": {"div", "rtruediv"}, "pow": {"pow"}, "log1p": {"log1p"}}


def _operand(name: str, code: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> torch.Tensor | None:
    """The value the hazard is about: the denominator, the log/sqrt/exp argument, the base."""
    if code in ("NAN306", "NAN405"):
        value = out
    elif name == "rtruediv":
        value = args[0] if args else None
    elif name == "div":
        value = args[1] if len(args) > 1 else kwargs.get("other")
    else:
        value = args[0] if args else kwargs.get("input")
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if name == "pow":
        exponent = args[1] if len(args) > 1 else kwargs.get("exponent")
        if isinstance(exponent, (int, float)) and float(exponent).is_integer():
            return None  # x ** 3 is defined for every x: only fractional powers are hazards
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        return None
    if name == "log1p":
        value = value + 1
    return value


class _HazardWatch(TorchFunctionMode):
    """Collects (operand, output) of every call of the op at one source line."""

    def __init__(self, code: str, path: str, line: int, kinds: set[str]) -> None:
        super().__init__()
        self.code, self.path, self.line, self.kinds = code, path, line, kinds
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = op_name(func)
        if name in self.kinds:
            site = user_site()
            if site is not None and site.line == self.line and site.path == self.path:
                operand = _operand(name, self.code, args, kwargs, out)
                output = next(iter(tensors_in(out)), None)
                if operand is not None and output is not None:
                    self.calls.append((operand, output))
        return out


@dataclass
class Witness:
    inputs: list[Any]
    how: str
    steps: int
    seconds: float
    operand: TensorSummary
    output: TensorSummary

    def summary(self) -> dict[str, Any]:
        return {"how": self.how, "steps": self.steps, "seconds": round(self.seconds, 3),
                "operand": self.operand.as_dict(), "op_output": self.output.as_dict(),
                "inputs": [summarize(t).as_dict() for t in self.inputs if isinstance(t, torch.Tensor)]}


@dataclass
class _Search:
    model: nn.Module
    template: tuple[Any, ...]
    kwargs: dict[str, Any]
    code: str
    goal: Goal
    watch_args: tuple[str, int, set[str]]
    ranges: dict[int, tuple[float, float]]
    budget: Budget
    start: float = field(default_factory=time.perf_counter)
    best: float = math.inf
    ran: bool = False

    def run(self, inputs: list[Any], grad: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        watch = _HazardWatch(self.code, *self.watch_args)
        with torch.random.fork_rng(devices=[]), torch.set_grad_enabled(grad):
            torch.manual_seed(SEED)
            try:
                with watch:
                    self.model(*inputs, **self.kwargs)
            except (Exception, SystemExit):  # an input the model rejects is simply not a witness
                return []
        self.ran = self.ran or bool(watch.calls)
        return watch.calls

    def residual(self, calls: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor | None:
        # In the op's own dtype (the exp overflow point is float32's); compared in float64.
        values = [self.goal.residual(a, o) for a, o in calls]
        values = [v for v in values if torch.isfinite(v)]
        return torch.stack([v.double() for v in values]).min() if values else None

    def triggered(self, calls: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor] | None:
        return next(((a, o) for a, o in calls if self.goal.triggered(a.detach(), o.detach())), None)

    def out_of_time(self) -> bool:
        return time.perf_counter() - self.start > self.budget.seconds

    def clip(self, inputs: list[Any]) -> list[Any]:
        clipped = []
        for index, value in enumerate(inputs):
            if index in self.ranges and isinstance(value, torch.Tensor) and value.is_floating_point():
                low, high = self.ranges[index]
                value = value.clamp(low, high)
            clipped.append(value)
        return clipped

    def try_point(self, inputs: list[Any], how: str, steps: int) -> tuple[Witness | None, float]:
        """A witness if `inputs` trigger the hazard; else the residual there (inf if unknown)."""
        calls = self.run(inputs, grad=False)
        hit = self.triggered(calls)
        if hit is not None:
            seconds = time.perf_counter() - self.start
            return Witness(inputs, how, steps, seconds, summarize(hit[0]), summarize(hit[1])), -math.inf
        value = self.residual(calls)
        residual = float(value) if value is not None else math.inf
        self.best = min(self.best, residual)
        return None, residual


def _starting_points(template: tuple[Any, ...]) -> list[tuple[str, list[Any]]]:
    floats = [i for i, t in enumerate(template) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    tensors = [i for i, t in enumerate(template) if isinstance(t, torch.Tensor)]
    points = [("the example inputs", list(template))]
    if floats:
        points.append(("all-zero float inputs",
                       [torch.zeros_like(t) if i in floats else t for i, t in enumerate(template)]))
    if len(tensors) > len(floats):
        points.append(("all-zero inputs", [torch.zeros_like(t) if i in tensors else t for i, t in enumerate(template)]))
    if floats:
        points.append(("the example float inputs times 1000",
                       [t * 1000.0 if i in floats else t for i, t in enumerate(template)]))
    return points


def _flat_norm(grads: Sequence[torch.Tensor | None]) -> float:
    return math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads if g is not None))


def _gradient_search(search: _Search) -> Witness | None:
    floats = [i for i, t in enumerate(search.template) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not floats:
        return None
    current = list(search.template)
    alpha = 0.1
    for step in range(1, search.budget.steps + 1):
        if search.out_of_time():
            return None
        leaves = [current[i].detach().clone().requires_grad_(True) for i in floats]
        inputs = list(current)
        for i, leaf in zip(floats, leaves):
            inputs[i] = leaf
        calls = search.run(inputs, grad=True)
        value = search.residual(calls)
        if value is None or not value.requires_grad:
            return None
        r = float(value.detach())
        # `value` is float64, where 1e-300 is a positive number.
        objective = value.clamp_min(1e-300).log() if search.goal.log_scale and r > 0 else value  # noqa: NAN301
        value_grads, objective_grads = _grads(value, objective, leaves)
        candidates = []
        norm = _flat_norm(value_grads)
        if norm > 0 and math.isfinite(norm):
            for factor in (1.0, 1.05, 2.0):
                scale = factor * r / norm ** 2
                candidates.append([t - scale * g.to(t.dtype) if g is not None else t
                                   for t, g in zip((current[i] for i in floats), value_grads)])
        norm = _flat_norm(objective_grads)
        if norm > 0 and math.isfinite(norm):
            size = alpha * max(math.sqrt(sum(float(current[i].double().pow(2).mean()) for i in floats)), 1.0)
            candidates.append([t - (size / norm) * g.to(t.dtype) if g is not None else t
                               for t, g in zip((current[i] for i in floats), objective_grads)])
        if not candidates:
            return None
        best_value, best_inputs = math.inf, None
        for moved in candidates:
            trial = list(current)
            for i, value_i in zip(floats, moved):
                trial[i] = value_i.detach()
            trial = search.clip(trial)
            witness, trial_value = search.try_point(trial, "gradient search", step)
            if witness is not None:
                return witness
            if trial_value < best_value:
                best_value, best_inputs = trial_value, trial
        if best_inputs is not None and best_value < r:
            current = best_inputs
            alpha = min(alpha * 2.0, 10.0)
        else:
            alpha *= 0.25
    return None


def _grads(
    value: torch.Tensor, objective: torch.Tensor, leaves: list[torch.Tensor]
) -> tuple[list[torch.Tensor | None], list[torch.Tensor | None]]:
    value_grads = torch.autograd.grad(value, leaves, allow_unused=True, retain_graph=True)
    objective_grads = torch.autograd.grad(objective, leaves, allow_unused=True)
    return list(value_grads), list(objective_grads)


def _mode(found: Finding) -> str:
    modes = [m for e in found.evidence for m in e.extra.get("modes", [])]
    return "eval" if "eval" in modes or not modes else modes[0]


def confirm(
    found: Finding,
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ranges: dict[int, tuple[float, float]],
    budget: Budget,
) -> Evidence | None:
    """Runtime evidence for a graph finding: a witness (`confirmed`), or how the search ended."""
    hazard = hazard_of(found)
    if hazard is None or found.path.startswith("<"):
        return None
    code, kind, goal = hazard
    kinds = _KINDS.get(kind, {kind})
    mode = _mode(found)
    search = _Search(model, tuple(args), kwargs, code, goal, (found.path, found.line, kinds), ranges, budget)
    with restored(model):
        model.train(mode == "train")
        witness = None
        for how, point in _starting_points(tuple(args)):
            witness, _ = search.try_point(search.clip(point), how, 0)
            if witness is not None or search.out_of_time():
                break
        if witness is None and search.ran:
            witness = _gradient_search(search)
    seconds = time.perf_counter() - search.start
    if witness is not None:
        inputs = "; ".join(summarize(t).describe() for t in witness.inputs if isinstance(t, torch.Tensor))
        detail = (f"confirmed in {mode} mode with {witness.how} ({witness.steps} search steps, "
                  f"{witness.seconds:.2f} s): `{kind}` on this line gets the {goal.operand} "
                  f"{witness.operand.value_text()} and returns {witness.output.value_text()}; inputs: {inputs}")
        return Evidence(Analyzer.RUNTIME, detail, node=kind, extra={"confirmed": True, "witness": witness.summary()})
    if not search.ran:
        reason = f"the `{kind}` on this line did not run in {mode} mode on the example inputs"
    else:
        closest = f"; closest {goal.describe}: {search.best:.3g}" if math.isfinite(search.best) else ""
        reason = (f"no input found within {budget.steps} steps / {budget.seconds:g} s "
                  f"({seconds:.2f} s used) that makes it non-finite{closest}")
    return Evidence(Analyzer.RUNTIME, f"not confirmed: {reason}", node=kind,
                    extra={"confirmed": False, "search_seconds": round(seconds, 3)})


def confirm_all(
    findings: list[Finding],
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ranges: dict[int, tuple[float, float]],
    budget: Budget = Budget(),
) -> list[Finding]:
    """The graph findings, each with the runtime evidence of its confirmation search (none
    once `budget.total_seconds` is spent)."""
    start = time.perf_counter()
    confirmed = []
    for found in findings:
        evidence = None
        if time.perf_counter() - start < budget.total_seconds:
            evidence = confirm(found, model, args, kwargs, ranges, budget)
        confirmed.append(found.with_evidence((evidence,)) if evidence is not None else found)
    return confirmed
