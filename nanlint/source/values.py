"""What the source says about the value of an expression: a tiny abstract interpreter.

Every hazard rule asks the same questions ("can this denominator be 0?", "can this
log argument be <= 0?", "is it guarded?"), so they share one answer instead of each
rule pattern-matching its own guards. A `Value` is an interval of the float values the
expression can take, plus what we know about where it came from:

- `known`: the interval follows from operations whose semantics are modelled. A
  function parameter or an unknown call is not known, and rules never flag it: a false
  positive costs more trust than a missed hazard.
- `guarded`: the value went through an explicit guard (`+ eps`, `clamp(min=c>0)`,
  `clamp_min`, `maximum(., c>0)`, `softplus`, `exp`), so its author thought about the
  bad domain even when the interval cannot prove it (`x + eps` with `x` unbounded).
- `tags`: origins the rules name in their messages (`norm`, `sum`, `prob`, `mask`...).

Intervals are of floats, not reals: softmax, sigmoid and exp can return exactly 0 by
underflow, so their intervals are closed at 0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import libcst as cst

from nanlint.source.conditions import FLIPPED, compact_text, excludes_zero, facts, where_branches
from nanlint.source.names import Scope, qualified_name

INF = math.inf

_EPS_NAME = re.compile(r"(?:^|_)(eps|epsilon|tiny|smooth|smoothing)(?:$|_|\d)", re.IGNORECASE)
_MASK_NAME = re.compile(r"(?:^|_)masks?$", re.IGNORECASE)
# `num_masks`, `n_masks`, `total_masks` count masks (mask2former clamps it to >= 1): not a 0/1 mask.
_COUNT_NAME = re.compile(r"^(num|n|number|total|count|len)_", re.IGNORECASE)
# Unknown values whose names say what they hold: a log-probability is at most 0, and
# `x - x_max` is the stabilising shift of a softmax (the max came from a helper).
_LOG_PROB_NAME = re.compile(r"(?:^|_)(log_?probs?|logp)(?:$|_)", re.IGNORECASE)
_MAX_NAME = re.compile(r"(?:^|_)(max|maxes|amax|maximum)(?:$|_)", re.IGNORECASE)
_BELOW_ONE = math.nextafter(1.0, 0.0)
# `constraints.positive` (also inside `independent(...)`), not positive (semi)definite matrices.
_POSITIVE_CONSTRAINT = re.compile(r"constraints\.positive(?!_(semi)?definite)\b")


@dataclass(frozen=True)
class Value:
    lo: float = -INF
    hi: float = INF
    tensor: bool = False
    number: bool = False
    known: bool = False
    guarded: bool = False
    tags: frozenset[str] = frozenset()

    @property
    def can_be_zero(self) -> bool:
        return self.known and not self.guarded and self.lo <= 0.0 <= self.hi

    @property
    def can_be_negative(self) -> bool:
        """Below 0 somewhere, as far as the analysis can tell: its range has a finite
        negative lower bound or lies at or below 0; or it is centred on its own mean (`x - x.mean()`); or it is
        `signed`, a reduction of values that nothing forces positive (GeM's
        `mean(x ** p)`, `x.sum()`), also plus or minus something known (`a.sum() -
        b.sum()`) or times or over something positive. A -inf bound from arithmetic the
        intervals cannot follow (a ratio of norms, `n + 1 - cumsum(ones)`) is not
        enough: nothing says that value is ever below 0."""
        if self.guarded or self.lo >= 0.0:
            return False
        if "centred" in self.tags:
            return True
        return self.known and (self.lo > -INF or self.hi <= 0.0 or "signed" in self.tags)

    def negative_origin(self) -> str:
        """A short phrase for messages: why a value can be below 0."""
        if "centred" in self.tags:
            return "it is centred on its own mean, so the entries below the mean are negative"
        if self.lo > -INF or self.hi <= 0.0:
            return f"its range is {self.describe()}"
        return "nothing forces it above 0: it is negative wherever the values it is computed from are"

    @property
    def can_be_nonpositive(self) -> bool:
        return self.known and not self.guarded and self.lo <= 0.0

    @property
    def is_tensor_hazard_subject(self) -> bool:
        """A known tensor value, the only kind a rule may flag."""
        return self.tensor and self.known and not self.number

    def origin(self) -> str:
        """A short phrase for messages: where a possibly-zero value comes from."""
        for tag, phrase in _ORIGINS:
            if tag in self.tags:
                return phrase
        return f"its range {self.describe()} includes 0"

    def describe(self) -> str:
        def fmt(x: float) -> str:
            return "inf" if x == INF else "-inf" if x == -INF else f"{x:g}"

        return f"[{fmt(self.lo)}, {fmt(self.hi)}]"


_ORIGINS = (
    ("norm", "a norm is 0 for an all-zero vector"),
    ("std", "a standard deviation is 0 for constant values"),
    ("var", "a variance is 0 for constant values"),
    ("count", "a count is 0 when nothing matches"),
    ("mask", "a 0/1 mask is 0 where it masks"),
    ("difference", "a difference is 0 when both sides are equal"),
    ("sum", "a sum is 0 for an all-zero or empty input"),
    ("prob", "a probability can underflow to exactly 0"),
    ("square", "a square is 0 at 0"),
    ("max", "a maximum is 0 when all values are 0"),
    ("mean", "a mean is 0 for an all-zero input"),
    ("random", "`torch.rand` can return exactly 0"),
)

UNKNOWN = Value()
UNKNOWN_TENSOR = Value(tensor=True)
# `None` passed for a bound (`clamp(x, None, 1)`): unknown like any name, but no floor.
_NONE = Value(tags=frozenset({"none"}))


def number(x: float) -> Value:
    return Value(lo=x, hi=x, number=True, known=True)


def tensor(lo: float, hi: float, *tags: str, guarded: bool = False) -> Value:
    return Value(lo=lo, hi=hi, tensor=True, known=True, guarded=guarded, tags=frozenset(tags))


# An eps we cannot see (`eps`, `self.eps`) is positive; its lower bound is a tiny positive
# number rather than 0 so that `1 - eps` stays strictly below 1 and `clamp(-1 + eps,
# 1 - eps)` is provably inside the domain of acos/atanh.
_UNSEEN_EPS = 1e-12
EPS = Value(lo=_UNSEEN_EPS, hi=INF, number=True, known=True, guarded=True, tags=frozenset({"eps"}))


# ---------------------------------------------------------------- interval arithmetic


def _mul(a: float, b: float) -> float:
    if a == 0.0 or b == 0.0:
        return 0.0  # an unbounded side times an exact 0 is 0, not NaN
    return a * b


def _add_range(a: Value, b: Value) -> tuple[float, float]:
    return a.lo + b.lo, a.hi + b.hi


def _mul_range(a: Value, b: Value) -> tuple[float, float]:
    products = [_mul(a.lo, b.lo), _mul(a.lo, b.hi), _mul(a.hi, b.lo), _mul(a.hi, b.hi)]
    return min(products), max(products)


def _combine(a: Value, b: Value, lo: float, hi: float, *, guarded: bool = False, tags: Iterable[str] = ()) -> Value:
    is_number = a.number and b.number
    return Value(
        lo=lo if not math.isnan(lo) else -INF,
        hi=hi if not math.isnan(hi) else INF,
        tensor=(a.tensor or b.tensor) and not is_number,
        number=is_number,
        known=a.known and b.known,
        guarded=guarded,
        tags=frozenset(tags),
    )


def _is_guard_constant(v: Value) -> bool:
    return v.number and (v.lo > 0 or v.guarded)


def add(a: Value, b: Value) -> Value:
    lo, hi = _add_range(a, b)
    # `x + eps` is the guard idiom, trusted even when the sign of `x` is unknown.
    guard = (
        _is_guard_constant(a)
        or _is_guard_constant(b)
        or (a.guarded and b.lo >= 0)
        or (b.guarded and a.lo >= 0)
    )
    # A sum of sums is still a sum (for the message), but no longer a normalization; a
    # signed reduction plus or minus something known is still of the data's sign.
    tags = (a.tags | b.tags) & {"exp"} | (a.tags & b.tags) - {"reduction"}
    if "signed" in a.tags | b.tags and a.known and b.known:
        tags |= {"signed"}
    return _combine(a, b, lo, hi, guarded=guard, tags=tags)


def neg(a: Value) -> Value:
    return replace(a, lo=-a.hi, hi=-a.lo, guarded=False, tags=a.tags & {"exp", "signed"})


def sub(a: Value, b: Value) -> Value:
    result = add(a, neg(b))
    hi, tags = result.hi, (result.tags - {"exp"}) | {"difference"}
    if {"max", "reduction"} <= b.tags:
        # `x - x.amax(dim, keepdim=True)` (or `- logsumexp(x)`) is the stabilising shift
        # of a softmax: at most 0, so an `exp` of it cannot overflow.
        hi, tags = min(hi, 0.0), tags | {"shifted"}
    if {"max", "reduction"} <= a.tags:
        # `x.max(dim, keepdim=True) - x` is 0 at the maximum (phimoe's sparse mixer masks
        # the experts whose gap to the best is above a threshold: never the best one).
        tags |= {"gap_to_max"}
    return replace(result, hi=hi, guarded=a.guarded and b.hi <= 0, tags=tags)


def mul(a: Value, b: Value) -> Value:
    lo, hi = _mul_range(a, b)
    if _nonzero(a) and _nonzero(b):
        lo, hi = _no_underflow(lo, hi)
    guard = (a.guarded or a.lo > 0) and (b.guarded or b.lo > 0)
    keep = (a.tags | b.tags) & {"exp", "prob", "square"} | _random_of(a, b) | _signed_by(a, b) | _signed_by(b, a)
    return _combine(a, b, lo, hi, guarded=guard, tags=keep)


def _signed_by(a: Value, positive: Value) -> frozenset[str]:
    """`signed` for `a` times or over a positive value: it is negative wherever `a` is
    (`(c - 1) / c` for a positive `c` below 1), though its range may reach -inf."""
    negative = "signed" in a.tags or -INF < a.lo < 0
    return frozenset({"signed"}) if positive.lo > 0 and negative else frozenset()


def _nonzero(v: Value) -> bool:
    return v.lo > 0 or v.hi < 0


def _no_underflow(lo: float, hi: float) -> tuple[float, float]:
    """A product of nonzero values is nonzero: its bound does not underflow to 0 (a
    declared-positive `concentration` squared, whatever small positive it is)."""
    if lo == 0.0 < hi:
        return _SMALLEST, hi
    if hi == 0.0 > lo:
        return lo, -_SMALLEST
    return lo, hi


def _random_of(*values: Value) -> frozenset[str]:
    """`random` (no gradient) when every operand is a random draw or a number."""
    drawn = all("random" in v.tags or v.number for v in values) and any("random" in v.tags for v in values)
    return frozenset({"random"}) if drawn else frozenset()


def div(a: Value, b: Value) -> Value:
    if "gap_to_max" in a.tags:
        # 0 / b is 0 (or NaN for b = 0): at the maximum, neither is above a threshold >= 0.
        return _combine(a, b, -INF, INF, tags={"gap_to_max"})
    numbers = a.number and b.number
    if numbers and b.lo == 0.0 < b.hi:
        # Python raises ZeroDivisionError instead of dividing a number by 0: a quotient
        # of numbers that was computed had a positive divisor (`1.0 / n ** 0.5`).
        b = replace(b, lo=_SMALLEST)
    if b.lo > 0 or b.hi < 0:
        # The denominator keeps one sign: the interval quotient.
        quotients = [_quotient(x, y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        lo = min(quotients)
        if numbers and a.lo > 0 and b.lo > 0:
            lo = max(lo, _SMALLEST)  # positive over positive and finite: not 0
        # A ratio of two positive (or guarded) values is positive whatever its bounds say:
        # `x.clamp(min=eps) / (1 - x).clamp(min=eps)` is never 0.
        guard = (a.guarded or a.lo > 0) and (b.guarded or b.lo > 0)
        return _combine(a, b, lo, max(quotients), guarded=guard, tags=_signed_by(a, b))
    # A numerator of one sign over anything is never 0 (x / 0 is inf, not 0): the
    # quantisation scale `x.clamp(min=1e-6) / max_int` is a safe divisor.
    return _combine(a, b, -INF, INF, guarded=a.lo > 0 or a.hi < 0)


_SMALLEST = math.ulp(0.0)


def _within(v: Value, operator: str, c: float) -> Value:
    """`v` where `v <operator> c` holds."""
    lo, hi = v.lo, v.hi
    if operator == ">":
        lo = max(lo, math.nextafter(c, INF))
    elif operator == ">=":
        lo = max(lo, c)
    elif operator == "<":
        hi = min(hi, math.nextafter(c, -INF))
    elif operator == "<=":
        hi = min(hi, c)
    elif operator == "==":
        lo, hi = max(lo, c), min(hi, c)
    elif operator == "!=" and c == 0.0:
        return _without_zero(v)
    return replace(v, lo=lo, hi=hi) if lo <= hi else v


def _without_zero(v: Value) -> Value:
    """`v` where a condition rules 0 out."""
    if v.lo == 0.0 < v.hi:
        return replace(v, lo=_SMALLEST)
    if v.hi == 0.0 > v.lo:
        return replace(v, hi=-_SMALLEST)
    return replace(v, guarded=True) if v.lo < 0 < v.hi else v


def _spares_the_maximum(node: cst.Comparison, operands: list[Value]) -> bool:
    """A mask that never masks a row's maximum, so never a whole row: `gap > t` (t >= 0)
    or `t < gap`, with `gap` 0 at the row maximum; `x < v` (or `v > x`) with `v` an entry
    of each row of `x` (`v, _ = x.topk(k)` ... `x < v[:, [-1]]`)."""
    if len(node.comparisons) != 1:
        return False
    operator, (left, right) = node.comparisons[0].operator, operands
    smaller = node.comparisons[0].comparator
    if isinstance(operator, (cst.LessThan, cst.LessThanEqual)):
        left, right, smaller, strict = right, left, node.left, isinstance(operator, cst.LessThan)
    elif isinstance(operator, (cst.GreaterThan, cst.GreaterThanEqual)):
        strict = isinstance(operator, cst.GreaterThan)
    else:
        return False
    if strict and _ROW_ENTRY + compact_text(smaller) in left.tags:
        return True  # the maximum is not below an entry of its own row
    if "gap_to_max" not in left.tags or not right.known:
        return False
    return right.lo >= 0 if strict else right.lo > 0


def _column_pick(node: cst.Subscript) -> cst.BaseSlice | None:
    """The index of `v[:, [-1]]`, `v[..., -1, None]`, `v[:, -1:]`: every row kept, columns
    picked along the last indexed dim (a leading `:` or `...` says which dim that is)."""
    elements = [e.slice for e in node.slice if not _is_none_index(e.slice)]
    if len(elements) < 2 or not all(_whole_dim(e) for e in elements[:-1]):
        return None
    return elements[-1]


def picks_one_column(node: cst.Subscript) -> bool:
    """`m[..., 0]`, `m[:, -1]`, `m[..., :1]`, `m[..., -n:]`: at least one column of every row."""
    last = _column_pick(node)
    if isinstance(last, cst.Index):
        return _integer(last.value) is not None
    if not isinstance(last, cst.Slice) or last.step is not None:
        return False
    if last.upper is None:
        # `-n:` is the last n columns, or all of them for n = 0: never none.
        return isinstance(last.lower, cst.UnaryOperation) and isinstance(last.lower.operator, cst.Minus)
    upper = _integer(last.upper)
    return last.lower is None and upper is not None and upper >= 1


def _integer(node: cst.BaseExpression) -> int | None:
    """The value of an integer literal, negated or not."""
    sign = 1
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node, sign = node.expression, -1
    return sign * node.evaluated_value if isinstance(node, cst.Integer) else None  # type: ignore[operator]


def _is_none_index(element: cst.BaseSlice) -> bool:
    return isinstance(element, cst.Index) and isinstance(element.value, cst.Name) and element.value.value == "None"


def _whole_dim(element: cst.BaseSlice) -> bool:
    if isinstance(element, cst.Slice):
        return element.lower is None and element.upper is None and element.step is None
    return isinstance(element, cst.Index) and isinstance(element.value, cst.Ellipsis)


def _quotient(x: float, y: float) -> float:
    if math.isinf(y):
        return 0.0 if not math.isinf(x) else math.copysign(INF, x) * math.copysign(1.0, y)
    return x / y


def hull(*values: Value) -> Value:
    return Value(
        lo=min(v.lo for v in values),
        hi=max(v.hi for v in values),
        tensor=any(v.tensor for v in values),
        number=all(v.number for v in values),
        known=all(v.known for v in values),
        guarded=all(v.guarded for v in values),
        tags=frozenset().union(*(v.tags for v in values)),
    )


def _pow(base: Value, exponent: Value) -> Value:
    if exponent.number and exponent.lo == exponent.hi:
        e = exponent.lo
        if e == 2 or (e.is_integer() and e % 2 == 0 and e > 0):
            top = max(abs(base.lo), abs(base.hi))
            bottom = 0.0 if base.lo <= 0 <= base.hi else max(min(abs(base.lo), abs(base.hi)) ** e, _SMALLEST)
            square = frozenset({"square"}) | _random_of(base)
            return replace(base, lo=bottom, hi=top**e if top != INF else INF, guarded=base.guarded, tags=square)
        if e == 0.5:
            return sqrt(base)
        if e.is_integer() and e > 0:
            lo = base.lo**e if base.lo != -INF else -INF
            hi = base.hi**e if base.hi != INF else INF
            return replace(base, lo=lo, hi=hi, guarded=False, tags=frozenset())
        if base.known and base.lo > 0:
            # A positive base is monotone in any power: `2 ** -9` is a constant, and
            # `(n.clamp(min=19) - 15) ** (1 / 3)` stays above 4 ** (1 / 3).
            ends = sorted((_positive_power(base.lo, e), _positive_power(base.hi, e)))
            lo = max(ends[0], _SMALLEST) if e > 0 else ends[0]
            return replace(base, lo=lo, hi=ends[1], tags=frozenset())
    if base.lo >= 0:
        return replace(base, lo=0.0, hi=INF, guarded=base.guarded, tags=frozenset())
    return replace(base, lo=-INF, hi=INF, guarded=False, tags=frozenset(), known=base.known)


def _positive_power(x: float, e: float) -> float:
    if x == INF:
        return INF if e > 0 else 0.0
    try:
        return x**e
    except OverflowError:
        return INF


def sqrt(a: Value) -> Value:
    lo = math.sqrt(a.lo) if a.lo > 0 else 0.0
    hi = math.sqrt(a.hi) if a.hi > 0 else 0.0
    # sqrt(var) is a std and sqrt(sum of squares) a norm: still reductions for NAN102.
    tags = a.tags & {"reduction"}
    if a.tags & {"var", "std"}:
        tags |= {"std"}
    return replace(a, lo=lo, hi=hi, tags=tags)


def _reduce_sum(a: Value) -> Value:
    lo = 0.0 if a.lo == 0.0 else (-INF if a.lo < 0 else a.lo)
    hi = 0.0 if a.hi == 0.0 else (INF if a.hi > 0 else a.hi)
    tags = (a.tags & {"exp", "prob", "random"}) | {"sum", "reduction"} | _signed(lo)
    return replace(a, lo=lo, hi=hi, known=_reduction_known(a), tags=tags)


def _signed(lo: float) -> frozenset[str]:
    """`signed` for a reduction whose range reaches -inf: of values nothing forces
    positive, it is negative wherever they make it so (see `Value.can_be_negative`)."""
    return frozenset({"signed"}) if lo == -INF else frozenset()


# ---------------------------------------------------------------- the analyzer

# A function spec maps the argument values to the result. Positional receivers come
# first for methods (`x.sum()` is `sum(x)`).
Spec = Callable[["Args"], Value]


@dataclass
class Args:
    positional: list[Value]
    keywords: dict[str, Value]
    nodes: list[cst.Arg]
    # The tensor the call applies to (the receiver of a method, else the first positional
    # argument): row tags name it by its source text.
    subject: cst.BaseExpression | None = None

    def get(self, index: int, name: str, default: Value = UNKNOWN) -> Value:
        if name in self.keywords:
            return self.keywords[name]
        if index < len(self.positional):
            return self.positional[index]
        return default

    @property
    def first(self) -> Value:
        return self.positional[0] if self.positional else UNKNOWN_TENSOR


def _clamp(args: Args) -> Value:
    x = args.first
    low = args.get(1, "min", Value(lo=-INF, hi=-INF, number=True, known=True))
    high = args.get(2, "max", Value(lo=INF, hi=INF, number=True, known=True))
    lo = max(x.lo, low.lo) if low.known else x.lo
    hi = min(x.hi, high.hi) if high.known else x.hi
    guard = low.known and low.lo > 0 or _unseen_floor(low)
    # An explicit lower bound is reached wherever the input is below it, whatever the input.
    known = x.known or (low.known and low.lo > -INF)
    return replace(
        x, lo=lo, hi=hi, known=known, guarded=guard or x.guarded and lo >= 0, tags=x.tags & {"unit"} | {"clamped"}, tensor=True
    )


def _unseen_floor(low: Value) -> bool:
    """`clamp(min=self.norm_min)`: a floor we cannot see was set on purpose, as an unseen
    eps is (ernie's router clamps its normaliser to a configured minimum)."""
    return not low.known and not low.tensor and "none" not in low.tags


def _clamp_min(args: Args) -> Value:
    x, low = args.first, args.get(1, "min")
    guard = low.known and low.lo > 0 or _unseen_floor(low)
    return replace(x, lo=max(x.lo, low.lo) if low.known else x.lo, guarded=guard, tags=frozenset(), tensor=True)


def _clamp_max(args: Args) -> Value:
    x, high = args.first, args.get(1, "max")
    return replace(x, hi=min(x.hi, high.hi) if high.known else x.hi, tags=frozenset(), tensor=True)


def _maximum(args: Args) -> Value:
    # `torch.max(x)` and `torch.max(x, dim)` are reductions; `torch.max(a, b)` takes tensors.
    second = args.positional[1] if len(args.positional) > 1 else None
    # An eps-named second argument (`torch.max(scale, self.eps)`) is a floor, not a dim.
    if second is None or (second.number and "eps" not in second.tags) or "dim" in args.keywords:
        tags = args.first.tags & {"exp", "prob"} | {"reduction", "max"} | _signed(args.first.lo) | _row_entries(args, _dim_text(args, 1))
        result = replace(args.first, known=_reduction_known(args.first), tags=tags, tensor=True)
        if _CIRCLE + (_dim_text(args, 1) or "") in args.first.tags:
            result = replace(result, lo=max(result.lo, math.sqrt(0.5)))  # max(|cos t|, |sin t|)
        return result
    a, b = args.positional[0], args.positional[1]
    guard = (b.known and b.lo > 0) or (a.known and a.lo > 0)
    return Value(lo=max(a.lo, b.lo), hi=max(a.hi, b.hi), tensor=True, known=a.known and b.known or guard, guarded=guard)


def _full(args: Args) -> Value:
    fill = args.get(1, "fill_value")
    return replace(fill, tensor=True, number=False) if fill.known else UNKNOWN_TENSOR


def _full_like(args: Args) -> Value:
    fill = args.get(1, "fill_value")
    return replace(fill, tensor=True, number=False) if fill.known else UNKNOWN_TENSOR


def _as_tensor(args: Args) -> Value:
    data = args.first
    if data.known:
        return replace(data, tensor=True, number=False)
    if args.nodes and isinstance(args.nodes[0].value, (cst.List, cst.Tuple)):
        # `torch.tensor([width, height])`: the caller's numbers (sizes), not data that
        # can hold a zero row; its reductions are as unknown as the numbers.
        return _OF_SCALARS
    return UNKNOWN_TENSOR


_OF_SCALARS = Value(tensor=True, tags=frozenset({"scalars"}))


def _bincount(args: Args) -> Value:
    """Counts per bin, 0 for a bin nothing falls in; with `weights`, the sums of the weights."""
    if len(args.positional) > 1 or "weights" in args.keywords:
        return replace(_reduce_sum(args.get(1, "weights")), tensor=True)
    return tensor(0.0, INF, "count", "reduction")


def _index_add(args: Args) -> Value:
    base, source = args.first, args.get(3, "source")
    return replace(hull(base, _reduce_sum(source)), tags=(base.tags | source.tags) & {"exp"} | {"sum"}, tensor=True)


def _log(args: Args) -> Value:
    x = args.first
    lo = math.log(x.lo) if x.lo > 0 else -INF
    hi = math.log(x.hi) if x.hi > 0 else -INF
    return replace(x, lo=lo, hi=hi if x.hi < INF else INF, guarded=False, tags=frozenset({"log"}), tensor=True)


def _log1p(args: Args) -> Value:
    x = args.first
    lo = math.log1p(x.lo) if x.lo > -1 else -INF
    hi = math.log1p(x.hi) if -1 < x.hi < INF else (INF if x.hi == INF else -INF)
    return replace(x, lo=lo, hi=hi, guarded=False, tags=frozenset({"log"}), tensor=True)


def _arange(args: Args) -> Value:
    if len(args.positional) >= 2 or "start" in args.keywords:
        start = args.get(0, "start")
        return Value(lo=start.lo, hi=INF, tensor=True, known=start.known)
    return tensor(0.0, INF)  # `arange(end)` starts at 0


def _scatter_reduce(args: Args) -> Value:
    # `scatter_reduce(..., reduce="amax")` is a per-group maximum: subtracting it shifts.
    for arg in args.nodes:
        if isinstance(arg.value, cst.SimpleString) and arg.value.evaluated_value in ("amax", "max"):
            return Value(tensor=True, known=True, tags=frozenset({"reduction", "max"}))
    return UNKNOWN_TENSOR


# The indices of a `sort` along a dim (or an `argsort`) hold each position of a row once.
PERMUTATION = Value(tensor=True, tags=frozenset({"permutation"}))


def _scatter(args: Args) -> Value:
    """`m.scatter(dim, sort_indices, m)` (top-p filtering back in vocabulary order): the
    index is a permutation, so every position is written and each row of the result holds
    the entries of a row of `src`; a mask that leaves a column of every row unmasked
    (`spares_column`) still leaves one."""
    index, source = args.get(2, "index"), args.get(3, "src")
    if "permutation" in index.tags and "spares_column" in source.tags:
        return tensor(0.0, 1.0, "mask", "spares_column")
    return UNKNOWN_TENSOR


def _triangle(args: Args) -> Value:
    # `tril(ones(n, n))` and `triu(..., diagonal=1)` build causal masks: no row is all masked.
    x = args.first
    return replace(hull(x, tensor(0.0, 0.0)), tensor=True, number=False, tags=x.tags & {"mask"} | {"causal"})


def _exp2(args: Args) -> Value:
    x = args.first
    hi = 2.0 ** min(x.hi, 1000.0) if x.hi < 1000 else INF
    return replace(x, lo=0.0, hi=hi, guarded=True, tags=frozenset({"exp"}), tensor=True)


def _uniform(args: Args) -> Value:
    # `x.uniform_(a, b)` draws from [a, b): the upper bound is never reached.
    low, high = args.get(1, "from", number(0.0)), args.get(2, "to", number(1.0))
    if not (low.known and high.known):
        return Value(tensor=True, tags=frozenset({"random"}))
    return Value(lo=low.lo, hi=math.nextafter(high.hi, -INF), tensor=True, known=True, tags=frozenset({"random"}))


def _exp(args: Args) -> Value:
    x = args.first
    hi = math.exp(min(x.hi, 700.0)) if x.hi < 700 else INF
    # Below about -87 float32 underflows towards 0; above that the bound is exact.
    lo = math.exp(x.lo) if x.lo > -80.0 else 0.0
    return replace(x, lo=lo, hi=hi, guarded=True, tags=frozenset({"exp"}), tensor=True)


def _fixed(lo: float, hi: float, *tags: str, guarded: bool = False) -> Spec:
    def spec(args: Args) -> Value:
        return Value(lo=lo, hi=hi, tensor=True, known=True, guarded=guarded, tags=frozenset(tags))

    return spec


def _unary(fn: Callable[[Value], Value]) -> Spec:
    return lambda args: replace(fn(args.first), tensor=True)


def _abs(a: Value) -> Value:
    if a.lo >= 0:
        return a
    top = max(abs(a.lo), abs(a.hi))
    circle = frozenset(t for t in a.tags if t.startswith(_CIRCLE))
    return replace(a, lo=0.0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi)), hi=top, guarded=False, tags=circle)


def _relu(a: Value) -> Value:
    # Like a clamp at 0: exactly 0 wherever the input is not positive, whatever the input.
    return replace(a, lo=max(a.lo, 0.0), hi=max(a.hi, 0.0), known=True, guarded=False, tags=frozenset())


def _reduction(tag: str, *, entries: bool = False, centre: bool = False) -> Spec:
    """`entries`: the result is an entry of each row reduced (`amax`); `centre`: the input
    minus the result is negative somewhere (`mean`, `median`)."""

    def spec(args: Args) -> Value:
        tags = args.first.tags & {"exp", "prob"} | {"reduction", tag} | _signed(args.first.lo)
        if entries:
            tags |= _row_entries(args, _dim_text(args, 1))
        if centre and args.subject is not None:
            tags |= {_CENTRE_OF + compact_text(args.subject)}
        return replace(args.first, known=_reduction_known(args.first), tensor=True, tags=tags)

    return spec


def _reduction_known(x: Value) -> bool:
    """A reduction of data can be 0 whatever the data; of the caller's numbers, it is unknown."""
    return x.known or "scalars" not in x.tags


def _dropout(args: Args) -> Value:
    x = args.first
    return replace(hull(x, tensor(0.0, 0.0)), lo=min(x.lo, 0.0), hi=INF if x.hi > 0 else 0.0, tags=frozenset(), guarded=False)


# A softmax sums to 1 along its dim, so its sum along that dim, and the sum or norm of its
# top-k there (at least its maximum, 1 / n), is positive: MoE routers renormalise
# `topk(softmax(logits, -1), k).values` by their sum. The tags carry the dim's source
# text; whatever reshapes or selects drops them.
_SUMS_TO_ONE = "sums_to_one@"
_TOP_OF_ONE = "top_of_one@"


# Values taken from each row of a tensor along its last dim (`topk`, `sort`, `kthvalue`,
# `max(-1)` of `logits`: `row_entry_of@logits`) are at most the row's maximum, so
# `logits < v[..., -1:]` never masks it (top-k sampling filters). Picking a column of
# them (`v[:, [-1]]`) keeps the tag; any other reshape or selection drops it.
_ROW_ENTRY = "row_entry_of@"
# The mean or median of a tensor (`centre_of@x`): `x` minus it is negative wherever `x` is
# below it, so `x - x.mean()` is `centred`. Reshapes and selections drop it.
_CENTRE_OF = "centre_of@"


# `stack([t.cos(), t.sin()], dim)` holds points of the unit circle: along `dim` the norm
# is 1 and the largest |coordinate| at least 1 / sqrt(2) (DETR-family deformable
# attention initialises its sampling offsets from one, normalised by that maximum).
_CIRCLE = "circle@"


def _centres(value: Value, subject: cst.BaseExpression) -> bool:
    """Is `value` the mean or median of `subject`? (Its text is made only when it can be.)"""
    return any(t.startswith(_CENTRE_OF) for t in value.tags) and _CENTRE_OF + compact_text(subject) in value.tags


def _without_row_tags(tags: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in tags if not t.startswith((_SUMS_TO_ONE, _TOP_OF_ONE, _CIRCLE, _ROW_ENTRY, _CENTRE_OF)))


def _positive_along(x: Value, dim: str | None) -> bool:
    """Is a sum (dim None: of everything) or a norm of `x` along `dim` positive?"""
    rows = [t for t in x.tags if t.startswith((_SUMS_TO_ONE, _TOP_OF_ONE))]
    return bool(rows) and (dim is None or any(t.endswith("@" + dim) for t in rows))


def _dim_text(args: Args, index: int, keyword: str = "dim") -> str | None:
    """The source text of an argument, by keyword or by position (a method's receiver
    counts as position 0, as in `Args.positional`)."""
    for arg in args.nodes:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return compact_text(arg.value)
    nodes = [a.value for a in args.nodes if a.keyword is None and not a.star]
    position = index - (len(args.positional) - len(nodes))
    return compact_text(nodes[position]) if 0 <= position < len(nodes) else None


def _softmax(args: Args) -> Value:
    dim = _dim_text(args, 1)
    rows = {_SUMS_TO_ONE + dim} if dim is not None else set()
    return tensor(0.0, 1.0, "prob", "softmax", *rows)


def _topk(args: Args) -> Value:
    x = args.first
    dim = _dim_text(args, 2) or "-1"
    largest = _dim_text(args, 3, "largest") in (None, "True")
    tags = _without_row_tags(x.tags) | _row_entries(args, dim)
    if largest and _SUMS_TO_ONE + dim in x.tags:
        tags |= {_TOP_OF_ONE + dim}
    return replace(x, tensor=True, tags=tags)


def _row_entries(args: Args, dim: str | None) -> frozenset[str]:
    """`row_entry_of@x` for values taken from each row of `x` along its last dim."""
    if dim != "-1" or args.subject is None:
        return frozenset()
    return frozenset({_ROW_ENTRY + compact_text(args.subject)})


def _entries_along(dim_index: int) -> Spec:
    """`sort`, `kthvalue`: the range of the input, entries of its rows along `dim` (last by default)."""
    return lambda args: replace(
        args.first, tensor=True, tags=_without_row_tags(args.first.tags) | _row_entries(args, _dim_text(args, dim_index) or "-1")
    )


def _sum(args: Args) -> Value:
    result = replace(_reduce_sum(args.first), tensor=True)
    if _positive_along(args.first, _dim_text(args, 1)):
        result = replace(result, lo=max(result.lo, _SMALLEST))
    return result


def _norm(args: Args) -> Value:
    # `torch.norm(x, p, dim)`, `x.norm(p, dim)`, `linalg.vector_norm(x, ord, dim)`.
    dim = _dim_text(args, 2)
    positive = _positive_along(args.first, dim) or _CIRCLE + (dim or "") in args.first.tags
    return tensor(_SMALLEST if positive else 0.0, INF, "norm", "reduction")


def _stack(args: Args) -> Value:
    if args.nodes and args.nodes[0].keyword is None and _cos_sin_of_one_angle(args.nodes[0].value):
        return tensor(-1.0, 1.0, "unit", _CIRCLE + (_dim_text(args, 1) or "0"))
    return UNKNOWN_TENSOR


def _cos_sin_of_one_angle(node: cst.BaseExpression) -> bool:
    """`[t.cos(), t.sin()]` or `(torch.sin(t), torch.cos(t))`."""
    if not isinstance(node, (cst.List, cst.Tuple)) or len(node.elements) != 2:
        return False
    angles: dict[str, str] = {}
    for element in node.elements:
        call = element.value
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)) or len(call.args) > 1:
            return False
        angle = call.args[0].value if call.args else call.func.value
        angles[call.func.attr.value] = compact_text(angle)
    return set(angles) == {"cos", "sin"} and angles["cos"] == angles["sin"]


def _binary(fn: Callable[[Value, Value], Value]) -> Spec:
    def spec(args: Args) -> Value:
        if len(args.positional) < 2 and "other" not in args.keywords:
            return UNKNOWN_TENSOR
        return replace(fn(args.first, args.get(1, "other")), tensor=True)

    return spec


# Canonical torch names (after `names.canonical`) without the `torch.` prefix; tensor
# methods use the same table, so `x.sum()` and `torch.sum(x)` are one entry.
_TORCH_SPECS: dict[str, Spec] = {
    # casts: the range and the origin of the input
    **dict.fromkeys(
        "float double half bfloat16 to type type_as detach clone contiguous cpu cuda requires_grad_ nan_to_num".split(),
        lambda args: replace(args.first, tensor=True),
    ),
    # reshaping and selecting: the range of the input, but its dims are not the same rows
    **dict.fromkeys(
        "view view_as reshape reshape_as squeeze unsqueeze permute transpose t flatten unflatten expand expand_as "
        "repeat repeat_interleave narrow select index_select gather roll flip movedim swapaxes chunk split unbind "
        "masked_select take_along_dim tile squeeze_ unsqueeze_ cumprod cummax cummin bool".split(),
        lambda args: replace(args.first, tensor=True, tags=_without_row_tags(args.first.tags)),
    ),
    "topk": _topk,
    "sort": _entries_along(1),
    "kthvalue": _entries_along(2),
    "stack": _stack,
    "sum": _sum,
    "nansum": lambda args: replace(_reduce_sum(args.first), tensor=True),
    "cumsum": lambda args: replace(_reduce_sum(args.first), tensor=True),
    "mean": _reduction("mean", centre=True),
    "nanmean": _reduction("mean", centre=True),
    "median": _reduction("mean", centre=True),
    "amax": _reduction("max", entries=True),
    "amin": _reduction("min"),
    "min": _reduction("min"),
    "max": _maximum,
    "maximum": _maximum,
    "fmax": _maximum,
    "norm": _norm,
    "linalg.norm": _norm,
    "linalg.vector_norm": _norm,
    "linalg.matrix_norm": _fixed(0.0, INF, "norm", "reduction"),
    "std": _fixed(0.0, INF, "std", "reduction"),
    "var": _fixed(0.0, INF, "var", "reduction"),
    "count_nonzero": _fixed(0.0, INF, "count", "reduction"),
    "bincount": _bincount,
    "histc": _fixed(0.0, INF, "count", "reduction"),
    "abs": _unary(_abs),
    "square": lambda args: replace(_pow(args.first, number(2.0)), tensor=True),
    "relu": _unary(_relu),
    "relu6": lambda args: replace(_relu(args.first), hi=min(_relu(args.first).hi, 6.0), tensor=True),
    "exp": _exp,
    "softplus": _fixed(0.0, INF, guarded=True),
    "sigmoid": _fixed(0.0, 1.0, "prob"),
    "softmax": _softmax,
    "log_softmax": _fixed(-INF, 0.0, "log"),
    "nn.functional.logsigmoid": _fixed(-INF, 0.0, "log"),
    "tanh": _fixed(-1.0, 1.0, "unit"),
    "sin": _fixed(-1.0, 1.0, "unit"),
    "cos": _fixed(-1.0, 1.0, "unit"),
    "erf": _fixed(-1.0, 1.0, "unit"),
    "nn.functional.normalize": _fixed(-1.0, 1.0, "unit"),
    "nn.functional.cosine_similarity": _fixed(-1.0, 1.0, "unit", "cosine"),
    "cosine_similarity": _fixed(-1.0, 1.0, "unit", "cosine"),
    "nn.functional.one_hot": _fixed(0.0, 1.0, "mask"),
    "bernoulli": _fixed(0.0, 1.0, "mask"),
    "clamp": _clamp,
    "clip": _clamp,
    "clamp_": _clamp,
    "clamp_min": _clamp_min,
    "clamp_min_": _clamp_min,
    "clamp_max": _clamp_max,
    "sqrt": _unary(sqrt),
    "log": _log,
    "log2": _log,
    "log10": _log,
    "log1p": _log1p,
    "logsumexp": _reduction("max"),
    "arange": _arange,
    "tril": _triangle,
    "scatter_reduce": _scatter_reduce,
    "scatter": _scatter,
    "argsort": lambda args: PERMUTATION,
    "triu": _triangle,
    "acos": _fixed(0.0, math.pi),
    "arccos": _fixed(0.0, math.pi),
    "asin": _fixed(-math.pi / 2, math.pi / 2),
    "arcsin": _fixed(-math.pi / 2, math.pi / 2),
    "expit": _fixed(0.0, 1.0, "prob"),
    "softmin": _fixed(0.0, 1.0, "prob", "softmax"),
    "nn.functional.gumbel_softmax": _fixed(0.0, 1.0, "prob", "softmax"),
    **dict.fromkeys(
        "avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d".split(),
        _reduction("mean"),
    ),
    "zeros": _fixed(0.0, 0.0),
    "zeros_like": _fixed(0.0, 0.0),
    "new_zeros": _fixed(0.0, 0.0),
    "ones": _fixed(1.0, 1.0),
    "ones_like": _fixed(1.0, 1.0),
    "new_ones": _fixed(1.0, 1.0),
    "full": _full,
    "full_like": _full_like,
    "new_full": _full_like,
    # `torch.rand` draws from [0, 1): 0 can come out, 1 cannot.
    "rand": _fixed(0.0, _BELOW_ONE, "random"),
    "rand_like": _fixed(0.0, _BELOW_ONE, "random"),
    "randn": _fixed(-INF, INF, "random", "signed"),
    "randn_like": _fixed(-INF, INF, "random", "signed"),
    "uniform": _uniform,
    "exp2": _exp2,
    "erfcx": _fixed(0.0, INF, guarded=True),
    "erfc": _fixed(0.0, 2.0),
    "tensor": _as_tensor,
    "as_tensor": _as_tensor,
    "index_add": _index_add,
    "index_add_": _index_add,
    "scatter_add": _index_add,
    "scatter_add_": _index_add,
    "dropout": _dropout,
    "add": _binary(add),
    "sub": _binary(sub),
    "mul": _binary(mul),
    "div": _binary(div),
    "true_divide": _binary(div),
    "pow": lambda args: replace(_pow(args.first, args.get(1, "exponent")), tensor=True),
    "neg": _unary(neg),
}

# Torch functions that are not Tensor methods: `F.softplus(x)` on an unknown `F` is not
# `Tensor.softplus`, it is someone else's function.
_FUNCTIONS_ONLY = frozenset(
    "softplus zeros zeros_like ones ones_like full full_like rand rand_like randn randn_like "
    "tensor as_tensor dropout cosine_similarity arange avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d "
    "adaptive_avg_pool2d adaptive_avg_pool3d".split()
)

# Calls whose result is a plain Python number (shape sizes, counts, math), never a tensor.
_NUMBER_METHODS = frozenset({"size", "numel", "dim", "item", "nelement", "element_size", "tolist", "__len__"})
_NUMBER_BUILTINS = frozenset({"len", "int", "float", "round", "abs", "min", "max", "sum", "pow", "divmod"})
_NUMBER_MODULES = ("math.", "numpy.prod", "numpy.sqrt", "operator.")
_SHAPE_ATTRS = frozenset({"shape", "ndim", "dtype", "device", "training", "in_features", "out_features", "num_features"})

_BINOPS: dict[type, Callable[[Value, Value], Value]] = {
    cst.Add: add,
    cst.Subtract: sub,
    cst.Multiply: mul,
    cst.Divide: div,
}


def spec_for(name: str) -> Spec | None:
    """The spec of a canonical torch name; `F.x` falls back to `torch.x` of the same name."""
    spec = _TORCH_SPECS.get(name)
    if spec is None and name.startswith("nn.functional."):
        spec = _TORCH_SPECS.get(name[len("nn.functional."):])
    return spec


@dataclass(frozen=True)
class Binding:
    """A local variable's last assignment: the expression and its value at that point."""

    expr: cst.BaseExpression | None
    value: Value


_MAX_DEPTH = 150
# Index expressions that can be a boolean mask (`x[x > 0]`, `x[~m]`, `x[keep]`).
_CONDITIONS = (cst.Comparison, cst.UnaryOperation, cst.BinaryOperation, cst.BooleanOperation, cst.Name)
# Calls that return (values, indices) with dim: unpacking or `[0]` gives the values.
VALUES_AND_INDICES = frozenset({"topk", "sort", "max", "min", "kthvalue", "median", "mode", "cummax", "cummin"})
_CASTS = frozenset({"float", "double", "half", "bfloat16", "to", "type_as", "long", "int", "bool"})


def _strip_parens(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=(), rpar=()) if getattr(node, "lpar", None) else node


def _strip_casts(node: cst.BaseExpression) -> cst.BaseExpression:
    """`(x > 0).float()` -> `x > 0`."""
    node = _strip_parens(node)
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _CASTS:
        node = _strip_parens(node.func.value)
    return node


class ValueAnalyzer:
    """Computes `Value`s for expressions of one file, memoised per node.

    Names resolve through the bindings of the current scope, which the engine updates
    in source order, so a name means what it was last assigned before its use.
    """

    def __init__(self, scope: Scope) -> None:
        # Keyed by id(); the node is kept alongside so a recycled id cannot alias.
        self._memo: dict[int, tuple[cst.CSTNode, Value]] = {}
        self.scope = scope
        self._depth = 0

    def value(self, node: cst.BaseExpression) -> Value:
        found = self._memo.get(id(node))
        if found is not None and found[0] is node:
            return found[1]
        if self._depth > _MAX_DEPTH:
            return UNKNOWN  # generated code nested thousands deep: give up, never overflow the stack
        self._memo[id(node)] = (node, UNKNOWN)  # breaks cycles such as `x = x / x.sum()`
        self._depth += 1
        try:
            result = self._compute(node)
        finally:
            self._depth -= 1
        self._memo[id(node)] = (node, result)
        return result

    def binding(self, name: str) -> Binding | None:
        scope: Scope | None = self.scope
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None

    def qualname(self, node: cst.BaseExpression) -> str | None:
        return qualified_name(node, self.scope)

    # The cases are ordered by how often they occur in real code.
    def _compute(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, cst.Name):
            return self._name(node)
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.Attribute):
            return self._attribute(node)
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node)
        if isinstance(node, (cst.Integer, cst.Float)):
            return number(float(node.evaluated_value))
        if isinstance(node, cst.Subscript):
            base = self.value(node.value)
            if base.number:
                return Value(lo=0.0, hi=INF, number=True, known=True)
            if not base.tensor:
                return UNKNOWN
            # `topk(...)[0]` is the values; any other index selects other rows.
            if self._values_of_pair(node):
                return base
            index = node.slice[0].slice if len(node.slice) == 1 else None
            if "permutation" in base.tags and isinstance(index, cst.Index) and "spares_column" in self.value(index.value).tags:
                # `sorted_indices[remove]` with `remove` sparing a column: not every index of the row.
                return Value(tensor=True, tags=frozenset({"spares_column"}))
            if isinstance(index, cst.Index) and isinstance(index.value, _CONDITIONS):
                base = self.narrowed(node.value, index.value, holds=True)  # `df[df > 2]` is above 2
            kept = {t for t in base.tags if t.startswith(_ROW_ENTRY)} if _column_pick(node) is not None else set()
            return replace(base, tags=_without_row_tags(base.tags) | kept)
        if isinstance(node, cst.UnaryOperation):
            inner = self.value(node.expression)
            if isinstance(node.operator, cst.Minus):
                return neg(inner)
            if isinstance(node.operator, cst.Plus):
                return inner
            if isinstance(node.operator, cst.BitInvert) and inner.tensor:
                return tensor(0.0, 1.0, "mask", *(inner.tags & {"causal"}))
            return UNKNOWN
        if isinstance(node, cst.Comparison):
            # A bool or a 0/1 mask, whatever the operands: `(x > 0).float()` is a mask.
            operands = [self.value(o) for o in (node.left, *(c.comparator for c in node.comparisons))]
            causal = frozenset().union(*(o.tags & {"causal"} for o in operands))
            if _spares_the_maximum(node, operands):
                causal |= {"keeps_max"}
            return Value(0.0, 1.0, tensor=any(o.tensor for o in operands), known=True, tags=causal | {"mask"})
        if isinstance(node, cst.IfExp):
            return hull(self.value(node.body), self.value(node.orelse))
        return UNKNOWN

    def _name(self, node: cst.Name) -> Value:
        name = node.value
        bound = self.binding(name)
        if bound is None or not bound.value.known:
            if _LOG_PROB_NAME.search(name):
                return Value(lo=-INF, hi=0.0, tensor=True, tags=frozenset({"log"}))
            if _MAX_NAME.search(name):
                return Value(tensor=True, tags=frozenset({"max", "reduction"}))
        if bound is not None and bound.value is not UNKNOWN:
            if name in self.scope.zero_checked:
                return replace(bound.value, guarded=True)
            return bound.value
        if _EPS_NAME.search(name):
            return EPS
        if _MASK_NAME.search(name) and not _COUNT_NAME.search(name):
            return tensor(0.0, 1.0, "mask")
        if name in ("inf", "nan"):
            return number(math.inf if name == "inf" else math.nan)
        if name == "None":
            return _NONE
        return UNKNOWN

    def _attribute(self, node: cst.Attribute) -> Value:
        attr = node.attr.value
        if _EPS_NAME.search(attr):
            return EPS
        if attr in _SHAPE_ATTRS:
            return Value(lo=0.0, hi=INF, number=True, known=True)
        if attr in ("T", "mT", "data", "real", "values"):
            return self.value(node.value)
        qual = self.qualname(node)
        if qual is not None:
            if qual in ("math.inf", "torch.inf", "numpy.inf"):
                return number(INF)
            if qual in ("math.pi", "torch.pi", "numpy.pi"):
                return number(math.pi)
            if qual.startswith("math."):
                return Value(number=True)
        if _MASK_NAME.search(attr) and not _COUNT_NAME.search(attr):
            return tensor(0.0, 1.0, "mask")
        if isinstance(node.value, cst.Name) and node.value.value == "self" and self._declared_positive(attr):
            return tensor(_SMALLEST, INF)
        return UNKNOWN

    def _declared_positive(self, attr: str) -> bool:
        """A torch.distributions class declares `arg_constraints = {"concentration":
        constraints.positive}`: its `self.concentration` is validated positive."""
        scope: Scope | None = self.scope
        while scope is not None and scope.kind != "class":
            scope = scope.parent
        bound = scope.bindings.get("arg_constraints") if scope is not None else None
        if bound is None or not isinstance(bound.expr, cst.Dict):
            return False
        for element in bound.expr.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == attr
            ):
                return bool(_POSITIVE_CONSTRAINT.search(compact_text(element.value)))
        return False

    def _binary(self, node: cst.BinaryOperation) -> Value:
        op = type(node.operator)
        left, right = self.value(node.left), self.value(node.right)
        if op is cst.Power:
            return _pow(left, right)
        if op is cst.Multiply and node.left.deep_equals(node.right):
            return _pow(left, number(2.0))  # `x * x` is a square: never negative, 0 at 0
        if op is cst.Multiply:
            selected = self._sign_selected(node)
            if selected is not None:
                return selected
        fn = _BINOPS.get(op)
        if fn is None:
            return UNKNOWN_TENSOR if left.tensor or right.tensor else UNKNOWN
        result = fn(left, right)
        if op is cst.Subtract and _centres(right, node.left):
            result = replace(result, tags=result.tags | {"centred"})  # `x - x.mean()`
        return result

    def _sign_selected(self, node: cst.BinaryOperation) -> Value | None:
        """`x * (x <= 0).float()` keeps one sign of `x` (a relu written with a mask)."""
        for factor, indicator in ((node.left, node.right), (node.right, node.left)):
            test = _strip_casts(indicator)
            if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
                continue
            comparison = test.comparisons[0]
            bound = comparison.comparator
            if not (isinstance(bound, (cst.Integer, cst.Float)) and float(bound.evaluated_value) == 0.0):
                continue
            subject, sign = _strip_parens(factor), 1
            if isinstance(subject, cst.UnaryOperation) and isinstance(subject.operator, cst.Minus):
                subject, sign = _strip_parens(subject.expression), -1
            if not subject.deep_equals(_strip_parens(test.left)):
                continue
            keeps_positive = isinstance(comparison.operator, (cst.GreaterThan, cst.GreaterThanEqual))
            value = self.value(factor)
            if keeps_positive == (sign > 0):
                return Value(lo=0.0, hi=max(value.hi, 0.0), tensor=True, known=value.known)
            return Value(lo=min(value.lo, 0.0), hi=0.0, tensor=True, known=value.known)
        return None

    def narrowed(self, subject: cst.BaseExpression, condition: cst.BaseExpression, holds: bool) -> Value:
        """The value of `subject` where `condition` is `holds`: `x[x > 2]` is above 2, and
        after `x[x <= 2] = nan` the rest of `x` is above 2 too."""
        value, target = self.value(subject), compact_text(subject)
        for left, operator, right in facts(self, condition, holds):
            if compact_text(left) == target:
                bound = self.value(right)
            elif compact_text(right) == target:
                bound, operator = self.value(left), FLIPPED[operator]
            else:
                continue
            if not (bound.known and bound.lo == bound.hi) or math.isnan(bound.lo):
                continue
            value = _within(value, operator, bound.lo)
        return value

    def _values_of_pair(self, node: cst.Subscript) -> bool:
        """`x.topk(k)[0]`, `x.max(-1)[0]`: the values of a (values, indices) result."""
        index = node.slice[0].slice if len(node.slice) == 1 else None
        return (
            isinstance(node.value, cst.Call)
            and self.call_name(node.value)[0] in VALUES_AND_INDICES
            and isinstance(index, cst.Index)
            and isinstance(index.value, cst.Integer)
            and index.value.evaluated_value == 0
        )

    def _where(self, node: cst.Call) -> Value:
        """The hull of the branches; a branch the condition keeps away from 0 where it is
        selected (`torch.where(d == 0, 1, d)`) is nonzero."""
        parts = where_branches(self, node)
        if parts is None or parts[1] is None or parts[2] is None:
            return UNKNOWN_TENSOR
        condition, branches = parts[0], []
        for selected_when_true, branch in ((True, parts[1]), (False, parts[2])):
            value = self.value(branch)
            if excludes_zero(self, condition, branch, selected_when_true):
                value = _without_zero(value)
            branches.append(value)
        result = replace(hull(*branches), tensor=True, number=False)
        if all(v.guarded or v.lo > 0 or v.hi < 0 for v in branches) and result.lo <= 0 <= result.hi:
            result = replace(result, guarded=True)  # nonzero, though of either sign
        return result

    def _args(self, call: cst.Call, receiver: Value | None) -> Args:
        positional: list[Value] = [] if receiver is None else [receiver]
        keywords: dict[str, Value] = {}
        for arg in call.args:
            if arg.star:
                continue
            if arg.keyword is not None:
                keywords[arg.keyword.value] = self.value(arg.value)
            else:
                positional.append(self.value(arg.value))
        if receiver is not None:
            subject: cst.BaseExpression | None = call.func.value  # type: ignore[attr-defined]
        else:
            subject = next((a.value for a in call.args if a.keyword is None and not a.star), None)
        return Args(positional, keywords, list(call.args), subject)

    def call_name(self, call: cst.Call) -> tuple[str | None, bool]:
        """(canonical name without `torch.`, is_method) of a call, or (None, False).

        `torch.log(x)` and `x.log()` both give `log`; `F.softmax` gives
        `nn.functional.softmax`; a method on a module alias (`math.log`) is not a method.
        """
        func = call.func
        qual = self.qualname(func)
        if qual is not None:
            if qual.startswith("torch."):
                return qual[len("torch."):], False
            return "@" + qual, False
        if isinstance(func, cst.Attribute):
            return func.attr.value, True
        return None, False

    def _call(self, node: cst.Call) -> Value:
        name, is_method = self.call_name(node)
        if name == "where":
            return self._where(node)
        if name is None:
            if isinstance(node.func, cst.Name) and node.func.value in _NUMBER_BUILTINS:
                if node.func.value == "float" and node.args and isinstance(node.args[0].value, cst.SimpleString):
                    text = node.args[0].value.evaluated_value
                    if isinstance(text, str) and text.strip().lstrip("+-").lower() in ("inf", "infinity", "nan"):
                        value = math.nan if "nan" in text.lower() else (-INF if text.strip().startswith("-") else INF)
                        return number(value)
                return Value(number=True)
            return UNKNOWN
        if name.startswith("@"):
            if name.startswith(_NUMBER_MODULES):
                return Value(number=True)
            return UNKNOWN
        if is_method:
            receiver_node = node.func.value  # type: ignore[attr-defined]
            if isinstance(receiver_node, cst.Name) and receiver_node.value in ("self", "cls"):
                return UNKNOWN  # `self.norm(x)` calls a submodule, not Tensor.norm
            if name in _NUMBER_METHODS:
                return Value(number=True)
            receiver = self.value(receiver_node)
            spec = None if name in _FUNCTIONS_ONLY else _TORCH_SPECS.get(name)
            if spec is None and name.endswith("_") and name[:-1] not in _FUNCTIONS_ONLY:
                spec = _TORCH_SPECS.get(name[:-1])  # `x.add_(y)` leaves `x` holding `x + y`
            if receiver.number or spec is None:
                return UNKNOWN_TENSOR if receiver.tensor else UNKNOWN
            return spec(self._args(node, replace(receiver, tensor=True)))
        spec = spec_for(name)
        if spec is None:
            return UNKNOWN_TENSOR
        return spec(self._args(node, None))
