"""Hazard checks on the computed ranges, under the same codes as the static rules.

Each check looks at one op and the ranges of its arguments and says what can go
non-finite there, with the range as evidence. A check never fires on a value that a
guard produced (`+ eps`, `clamp(min=c>0)`...), on shape sizes, or on denominators made
by `exp` (a hand-written softmax is NAN207's, reported once at the `exp`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from nanlint.graph.ir import Op, Ref
from nanlint.graph.intervals import Interval, exp_overflow_point, float_info
from nanlint.graph.ranges import Analysis, Context
from nanlint.graph.transfer import correction_of, reduced_count

# Denominator origins that make a division a normalization (NAN102).
REDUCTIONS = frozenset({"norm", "sum", "mean", "std", "var", "max"})

_ORIGIN_PHRASES = {
    "norm": "a norm is 0 for an all-zero vector",
    "std": "a standard deviation is 0 for constant values",
    "var": "a variance is 0 for constant values",
    "sum": "a sum is 0 for an all-zero (or cancelling) slice",
    "mean": "a mean is 0 for an all-zero slice",
    "max": "a maximum is 0 for an all-zero slice",
    "prob": "softmax and sigmoid round to exactly 0 for inputs far below the rest",
}

_NORMALIZATION_FIX = {
    "norm": "`F.normalize(x, dim=..., eps=1e-12)` or `x.norm(...).clamp_min(eps)`",
    "std": "`std + eps` (or `torch.sqrt(var + eps)`)",
    "var": "`torch.sqrt(var + eps)`",
}


@dataclass
class Hazard:
    code: str
    op: Op
    detail: str
    fields: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _bound(value: float) -> float | str:
    """A range end for JSON output, which has no infinity: "inf" / "-inf" as strings."""
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _range_extra(interval: Interval) -> dict[str, Any]:
    return {"range": [_bound(interval.lo), _bound(interval.hi)]}


def _operand_name(value: Any) -> str:
    return value.name if isinstance(value, Ref) else repr(value)


def _why(interval: Interval) -> str:
    phrase = _ORIGIN_PHRASES.get(interval.origin or "")
    return phrase or f"its range {interval.describe()} includes 0"


def _can_be_zero(interval: Interval) -> bool:
    return interval.lo <= 0.0 <= interval.hi and not interval.guarded and interval.origin != "size"


def _is_float(analysis: Analysis, op: Op) -> bool:
    dtype = analysis.dtype_of(op)
    return dtype is None or dtype.is_floating_point


def _denominator(analysis: Analysis, op: Op, value: Any, detail_prefix: str) -> list[Hazard]:
    if not isinstance(value, Ref) or not _is_float(analysis, op):
        if isinstance(value, (int, float)) and value == 0 and not isinstance(value, bool):
            interval = Interval(0.0, 0.0)
        else:
            return []
    else:
        interval = analysis.range_of(value)
    if not isinstance(interval, Interval) or not _can_be_zero(interval) or interval.exp:
        return []
    name = _operand_name(value)
    detail = f"{detail_prefix} `{name}` has range {interval.describe()}, which includes 0"
    fields = {"denominator": name, "why": _why(interval), "result": _quotient_at_zero(analysis, op)}
    if interval.origin in REDUCTIONS:
        fields["instead"] = _NORMALIZATION_FIX.get(interval.origin, "`.clamp_min(eps)` on the denominator")
        return [Hazard("NAN102", op, detail, fields, _range_extra(interval))]
    return [Hazard("NAN101", op, detail, fields, _range_extra(interval))]


def _quotient_at_zero(analysis: Analysis, op: Op) -> str:
    """What the division gives where its denominator is 0: a reciprocal or a numerator that
    cannot be 0 gives Inf; a numerator that can be 0 with it (`x / x.norm()`) gives 0/0."""
    if op.kind != "div":
        return "nonzero/0 = Inf"
    numerator = op.args.get("input")
    interval = analysis.range_of(numerator) if isinstance(numerator, Ref) else None
    if isinstance(numerator, (int, float)) and numerator != 0:
        return "nonzero/0 = Inf"
    if isinstance(interval, Interval) and not interval.lo <= 0.0 <= interval.hi:
        return "nonzero/0 = Inf"
    return "0/0 = NaN"


def check_div(analysis: Analysis, op: Op) -> list[Hazard]:
    if op.args.get("rounding_mode") is not None:
        return []
    return _denominator(analysis, op, op.args.get("other"), "denominator")


def check_reciprocal(analysis: Analysis, op: Op) -> list[Hazard]:
    return _denominator(analysis, op, op.args.get("input"), f"{op.kind} argument")


def check_rsqrt(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    interval = analysis.range_of(value)
    if not isinstance(interval, Interval):
        return []
    if interval.origin == "var":
        interval = Interval(interval.lo, interval.hi, origin="std", guarded=interval.guarded)
    if not isinstance(value, Ref) or not (interval.lo <= 0.0) or interval.guarded or interval.origin == "size":
        return []
    name = _operand_name(value)
    detail = f"rsqrt argument `{name}` has range {interval.describe()}, which reaches 0"
    fields = {"denominator": f"sqrt({name})", "why": _why(interval), "result": "nonzero/0 = Inf"}
    if interval.origin in REDUCTIONS:
        fields["instead"] = _NORMALIZATION_FIX.get(interval.origin, "`.clamp_min(eps)` on the argument")
        return [Hazard("NAN102", op, detail, fields, _range_extra(interval))]
    return [Hazard("NAN101", op, detail, fields, _range_extra(interval))]


_LOG_SPACE = {
    "softmax": "use `log_softmax(x, dim)`",
    "sigmoid": "use `F.logsigmoid(x)`",
}


def check_log(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    interval = analysis.range_of(value)
    if not isinstance(value, Ref) or not isinstance(interval, Interval) or interval.guarded:
        return []
    floor = -1.0 if op.kind == "log1p" else 0.0
    if interval.lo > floor:
        return []
    name = _operand_name(value)
    producer = analysis.ops.get(name)
    if interval.origin == "prob" and producer is not None and floor == 0.0:
        detail = (f"log of `{name}` ({producer.kind}), whose float range {interval.describe()} "
                  "reaches 0 by underflow")
        fields = {"arg": name, "why": _ORIGIN_PHRASES["prob"],
                  "instead": _LOG_SPACE.get(producer.kind, "stay in log space (`log_softmax`, `logsumexp`)")}
        return [Hazard("NAN202", op, detail, fields, _range_extra(interval))]
    negative = interval.lo < floor
    what = ("below -1" if negative else "-1") if floor else ("negative" if negative else "0")
    detail = f"{op.kind} argument `{name}` has range {interval.describe()}, which can be {what}"
    fields = {"function": op.kind, "arg": name, "what": what, "why": f"its range is {interval.describe()}",
              "result": "NaN" if negative else "-inf",
              "instead": "clamp it first (`.clamp_min(eps)`) or stay in log space"}
    return [Hazard("NAN201", op, detail, fields, _range_extra(interval))]


def _sqrt_hazard(analysis: Analysis, op: Op, value: Any, interval: Interval) -> list[Hazard]:
    if interval.lo > 0 or interval.guarded or interval.origin == "size":
        return []
    name = _operand_name(value)
    if interval.lo < 0:
        what, effect = "negative", "the square root of a negative number is NaN"
        instead = "clamp it first (`.clamp_min(eps)`)"
    else:
        what, effect = "exactly 0", "the gradient 1 / (2 sqrt(x)) is infinite there and backpropagates as NaN"
        instead = "add an eps inside (`sqrt(x + eps)`) or clamp it (`.clamp_min(eps)`)"
    detail = f"sqrt argument `{name}` has range {interval.describe()}, which can be {what}"
    fields = {"arg": name, "what": what, "why": _why(interval) if what == "exactly 0" else
              f"its range is {interval.describe()}", "effect": effect, "instead": instead}
    return [Hazard("NAN204", op, detail, fields, _range_extra(interval))]


def check_sqrt(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    interval = analysis.range_of(value)
    if not isinstance(value, Ref) or not isinstance(interval, Interval):
        return []
    return _sqrt_hazard(analysis, op, value, interval)


def check_pow(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    exponent = op.args.get("exponent")
    interval = analysis.range_of(value)
    if not isinstance(value, Ref) or not isinstance(interval, Interval) or interval.guarded:
        return []
    if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
        return []
    p = float(exponent)
    if p == 0.5:
        return _sqrt_hazard(analysis, op, value, interval)
    name = _operand_name(value)
    if p < 0 and interval.lo <= 0 <= interval.hi and interval.origin != "size":
        return _denominator(analysis, op, value, f"base of the power {p:g}")
    if p.is_integer():
        return []
    if interval.lo < 0:
        what, why = "negative", f"its range is {interval.describe()}"
        effect = "a negative number to a non-integer power is NaN"
    elif interval.lo == 0 and 0 < p < 1:
        what, why = "exactly 0", _why(interval)
        effect = f"the gradient {p:g} * x ** {p - 1:g} is infinite at 0 and backpropagates as NaN"
    else:
        return []
    detail = f"base `{name}` has range {interval.describe()}; exponent {p:g}"
    fields = {"base": name, "kind": f"the non-integer exponent {p:g}", "what": what, "why": why, "effect": effect}
    return [Hazard("NAN205", op, detail, fields, _range_extra(interval))]


_AT_THE_EDGE = {
    "acos": "the gradient of acos at +-1 is infinite",
    "asin": "the gradient of asin at +-1 is infinite",
    "atanh": "atanh is infinite at +-1",
}


def check_inverse_trig(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    interval = analysis.range_of(value)
    if not isinstance(value, Ref) or not isinstance(interval, Interval):
        return []
    if -1.0 < interval.lo and interval.hi < 1.0:
        return []
    name = _operand_name(value)
    beyond = interval.lo < -1.0 or interval.hi > 1.0
    edge = _AT_THE_EDGE.get(op.kind, "the gradient at +-1 is infinite")
    effect = f"{edge}, and NaN beyond" if beyond else edge
    reaches = "goes beyond +-1" if beyond else "reaches +-1"
    detail = f"{op.kind} argument `{name}` has range {interval.describe()}, not strictly inside (-1, 1)"
    fields = {"function": op.kind, "arg": name, "range": interval.describe(), "reaches": reaches, "effect": effect}
    return [Hazard("NAN206", op, detail, fields, _range_extra(interval))]


# Ops an exp's output flows through on its way to a ratio or a log (sums, shifts, layout).
_EXP_FLOW = frozenset({"sum", "add", "mul", "mean", "unsqueeze", "view", "reshape", "expand", "expand_as",
                       "contiguous", "clone", "getitem", "to", "float", "squeeze", "index", "index_select",
                       "index_add", "scatter_add", "gather"})
_SUMMING = frozenset({"sum", "index_add", "scatter_add"})
_EXP_PATTERNS = {
    "softmax": ("exp(x) / sum(exp(x))", "`torch.softmax(x, dim)`"),
    "sigmoid": ("1 / (1 + exp(-x))", "`torch.sigmoid(x)`"),
    "logsumexp": ("log(sum(exp(x)))", "`torch.logsumexp(x, dim)`"),
}


def _exp_pattern(analysis: Analysis, op: Op) -> str | None:
    """Which hand-written pattern the exp feeds: a ratio, a sigmoid, or log(sum(exp))."""
    users = analysis.users()
    frontier = [(op.name, False)]
    seen = set()
    for _ in range(8):
        following = []
        for name, summed in frontier:
            for user, argument in users.get(name, ()):
                if user.kind == "div":
                    if argument == "other":
                        return "softmax" if summed else "sigmoid"
                    other = analysis.range_of(user.args.get("other"))
                    if isinstance(other, Interval) and other.exp:
                        return "softmax"
                elif user.kind in ("log", "log2", "log10") and summed:
                    return "logsumexp"
                elif user.kind in ("reciprocal",):
                    return "sigmoid"
                elif user.kind in _EXP_FLOW and (user.name, summed) not in seen:
                    seen.add((user.name, summed))
                    following.append((user.name, summed or user.kind in _SUMMING))
        frontier = following
    return None


def check_exp(analysis: Analysis, op: Op) -> list[Hazard]:
    value = op.args.get("input")
    interval = analysis.range_of(value)
    if not isinstance(value, Ref) or not isinstance(interval, Interval):
        return []
    dtype = analysis.dtype_of(op)
    limit = exp_overflow_point(dtype)
    if interval.hi <= limit:
        return []
    pattern = _exp_pattern(analysis, op)
    if pattern is None:
        return []
    name = _operand_name(value)
    type_name = str(dtype or torch.float32).replace("torch.", "")
    written, instead = _EXP_PATTERNS[pattern]
    detail = (f"exp argument `{name}` has range {interval.describe()}, above {limit:.4g} "
              f"where {type_name} exp overflows to inf; it feeds {written}")
    fields = {"arg": name, "pattern": written, "instead": instead}
    return [Hazard("NAN207", op, detail, fields, _range_extra(interval))]


def check_variance(analysis: Analysis, op: Op) -> list[Hazard]:
    ctx = Context(analysis, op)
    correction = correction_of(ctx)
    if correction <= 0:
        return []
    count = reduced_count(ctx.shape(), op.args.get("dim"))
    if count is None or count > correction:
        return []
    dim = op.args.get("dim")
    detail = (f"{op.kind} over dim {dim} of size {count} (traced shape) with correction {correction:g} "
              f"divides by {count} - {correction:g} = {count - correction:g}")
    fields = {"function": op.kind, "dim": str(dim), "correction": f"{correction:g}",
              "why": f"that dimension has size {count} in the traced shapes, so n - {correction:g} = "
                     f"{count - correction:g} degrees of freedom"}
    return [Hazard("NAN405", op, detail, fields, {"size": count, "correction": correction})]


_OVERFLOW_OPS = frozenset({"sum", "nansum", "cumsum", "prod", "pow", "square", "mul"})


def check_fp16_overflow(analysis: Analysis, op: Op) -> list[Hazard]:
    """A float16 value that is finite going in and overflows here (sums, powers, squares)."""
    if analysis.dtype_of(op) != torch.float16 or op.kind not in _OVERFLOW_OPS:
        return []
    if op.kind == "mul" and op.args.get("input") != op.args.get("other"):
        return []
    out = analysis.ranges.get(op.name)
    if not isinstance(out, Interval) or out.finite:
        return []
    operands = [analysis.range_of(v) for v in op.refs()]
    if not operands or not all(isinstance(r, Interval) and r.finite and r.origin != "normed" for r in operands):
        return []
    limit = float_info(torch.float16).max
    source = _operand_name(op.args.get("input"))
    inputs = ", ".join(r.describe() for r in operands)
    detail = (f"{op.kind} of `{source}` (range {inputs}) can exceed the float16 maximum "
              f"{limit:g} and become inf")
    fields = {"op": op.kind, "argument": source, "range": inputs, "limit": f"{limit:g}"}
    return [Hazard("NAN306", op, detail, fields, {"input_ranges": [[_bound(r.lo), _bound(r.hi)] for r in operands]})]


def check_batch_norm(analysis: Analysis, op: Op) -> list[Hazard]:
    """NAN403 (running statistics that are non-finite or tiny) and NAN404 (no running statistics)."""
    if analysis.graph.training:
        return []
    module = op.module or "<root>"
    running_mean = analysis.tensor_of(op.args.get("running_mean"))
    running_var = analysis.tensor_of(op.args.get("running_var"))
    if op.args.get("running_mean") is None and op.args.get("running_var") is None:
        detail = "built with track_running_stats=False: eval mode normalizes by the batch's own statistics"
        return [Hazard("NAN404", op, detail, {"module": module}, {})]
    if running_var is None or running_mean is None or op.args.get("training"):
        return []
    eps = op.args.get("eps", 1e-5)
    eps = float(eps) if isinstance(eps, (int, float)) else 1e-5
    var = running_var.detach().to(torch.float64).reshape(-1)
    mean = running_mean.detach().to(torch.float64).reshape(-1)
    channels = var.numel()
    problems = []
    effect = ""
    bad_var = int((~torch.isfinite(var)).sum())
    bad_mean = int((~torch.isfinite(mean)).sum())
    if bad_var:
        problems.append(f"running_var holds NaN/Inf in {bad_var} of {channels} channels")
    if bad_mean:
        problems.append(f"running_mean holds NaN/Inf in {bad_mean} of {channels} channels")
    if problems:
        effect = "is NaN in those channels"
    else:
        finite_var = var[torch.isfinite(var)]
        smallest = float(finite_var.min()) if finite_var.numel() else 1.0
        if smallest + eps <= 0:
            problems.append(f"running_var + eps is {smallest + eps:.3g}")
            effect = "divides by sqrt of a non-positive number: Inf or NaN"
        else:
            amplification = 1.0 / math.sqrt(smallest + eps)
            if smallest < eps and amplification >= 100:
                tiny = int((var < eps).sum())
                problems.append(f"running_var is {smallest:.3g} next to eps {eps:.3g} in {tiny} of "
                                f"{channels} channels, an amplification 1/sqrt(var+eps) of {amplification:.3g}x")
                effect = f"multiplies any deviation from the running mean by up to {amplification:.3g}x"
    if not problems:
        return []
    problem = "; ".join(problems)
    detail = f"{problem}; only in eval mode, where BatchNorm uses its running statistics"
    return [Hazard("NAN403", op, detail, {"module": module, "problem": problem, "effect": effect},
                   {"channels": channels, "nonfinite_var": bad_var, "nonfinite_mean": bad_mean})]


CHECKS: dict[str, Callable[[Analysis, Op], list[Hazard]]] = {
    "div": check_div, "reciprocal": check_reciprocal, "rsqrt": check_rsqrt,
    "log": check_log, "log2": check_log, "log10": check_log, "log1p": check_log,
    "sqrt": check_sqrt, "pow": check_pow,
    "acos": check_inverse_trig, "asin": check_inverse_trig, "atanh": check_inverse_trig,
    "exp": check_exp, "expm1": check_exp,
    "var": check_variance, "std": check_variance, "var_mean": check_variance, "std_mean": check_variance,
    "batch_norm": check_batch_norm,
}


def find_hazards(analysis: Analysis) -> list[Hazard]:
    hazards: list[Hazard] = []
    for op in analysis.graph.ops:
        check = CHECKS.get(op.kind)
        if check is not None:
            hazards.extend(check(analysis, op))
        hazards.extend(check_fp16_overflow(analysis, op))
    return _where_traps(analysis, _drop_roots_of_flagged_denominators(hazards))


def _drop_roots_of_flagged_denominators(hazards: list[Hazard]) -> list[Hazard]:
    """`y / sqrt(v)`: the division is reported (NAN101/NAN102) and its fix fixes both, as in
    the static rule; reporting the root as well would be one hazard twice."""
    flagged = {h.op.args.get("other") for h in hazards if h.code in ("NAN101", "NAN102") and h.op.kind == "div"}
    return [h for h in hazards if not (h.code == "NAN204" and Ref(h.op.name) in flagged)]


# Hazards that a `torch.where` branch hides in the forward pass but not in the backward.
_TRAPPABLE = {
    "NAN101": "inf", "NAN102": "NaN", "NAN201": "-inf or NaN", "NAN202": "-inf",
    "NAN204": "NaN or of infinite slope", "NAN205": "NaN or of infinite slope", "NAN206": "NaN or of infinite slope",
}
# Elementwise ops a branch value may pass through between the hazard and the where.
_BRANCH_FLOW = frozenset({"add", "sub", "rsub", "mul", "div", "neg", "abs", "pow", "square", "to", "clone",
                          "contiguous", "alias", "unsqueeze", "expand", "view", "reshape", "relu", "clamp"})


def _only_feeds_where(analysis: Analysis, op: Op) -> Op | None:
    """The where whose branch is the only consumer of `op`'s output (through elementwise ops)."""
    users = analysis.users()
    found: Op | None = None
    frontier = [op.name]
    for _ in range(6):
        following = []
        for name in frontier:
            consumers = users.get(name, [])
            if not consumers:
                return None  # an output of the model: the forward value is used as it is
            for user, argument in consumers:
                if user.kind == "where" and argument in ("input", "other"):
                    if found is not None and found.name != user.name:
                        return None
                    found = user
                elif user.kind in _BRANCH_FLOW:
                    following.append(user.name)
                else:
                    return None
        if not following:
            return found
        frontier = following
    return None


def _where_traps(analysis: Analysis, hazards: list[Hazard]) -> list[Hazard]:
    """`torch.where(c, log(x), y)`: the log's NaN is discarded forward but its gradient is not:
    reported at the where as NAN501, as the static rule does, instead of the inner code."""
    result: list[Hazard] = []
    reported: set[str] = set()
    for hazard in hazards:
        where = _only_feeds_where(analysis, hazard.op) if hazard.code in _TRAPPABLE else None
        if where is None:
            result.append(hazard)
            continue
        if where.name in reported:
            continue
        reported.add(where.name)
        detail = f"`{hazard.op.name}` feeds a branch of `{where.name}`: {hazard.detail}"
        fields = {"op": hazard.op.kind, "condition": _operand_name(where.args.get("condition")),
                  "bad": _TRAPPABLE[hazard.code]}
        # The inner hazard, for a runtime confirmation that searches for its bad operand.
        extra = {**hazard.extra, "inner_code": hazard.code, "inner_op": hazard.op.kind, "inner_node": hazard.op.name}
        result.append(Hazard("NAN501", where, detail, fields, extra))
    return result
