"""Intervals of float values, and how floats round, overflow and underflow.

An `Interval` is the set of float values a tensor's elements can hold, plus a few facts
the range rules need to prove guards (see `ranges.py`). Endpoints are floats of the
tensor's dtype: past the dtype's maximum they are infinite, and `round_to` gives the
value a float computation really produces (1e-8 is 0 in float16).
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import torch

INF = math.inf


@dataclass(frozen=True, slots=True)
class Interval:
    lo: float = -INF
    hi: float = INF
    origin: str | None = None
    guarded: bool = False
    exp: bool = False
    peak: tuple[int, float] | None = None
    max_of: tuple[str, int] | None = None

    @property
    def finite(self) -> bool:
        return -INF < self.lo and self.hi < INF

    def includes(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def describe(self) -> str:
        return f"[{fmt(self.lo)}, {fmt(self.hi)}]"


UNBOUNDED = Interval()
UNIT = Interval(0.0, 1.0)


def fmt(value: float) -> str:
    if value == INF:
        return "inf"
    if value == -INF:
        return "-inf"
    return f"{value:.3g}"


def point(value: float) -> Interval:
    return Interval(value, value)


def hull(*items: Interval) -> Interval:
    return Interval(min(i.lo for i in items), max(i.hi for i in items))


def _clean(lo: float, hi: float) -> tuple[float, float]:
    """NaN endpoints (inf - inf, 0 * inf) widen to the unbounded side."""
    return (-INF if lo != lo else lo), (INF if hi != hi else hi)


def mul_bound(a: float, b: float) -> float:
    """a * b with 0 * inf = 0: a zero factor is exact, the other end is only a bound."""
    if a == 0.0 or b == 0.0:
        return 0.0
    return a * b


def interval_mul(a: Interval, b: Interval) -> Interval:
    products = (mul_bound(a.lo, b.lo), mul_bound(a.lo, b.hi), mul_bound(a.hi, b.lo), mul_bound(a.hi, b.hi))
    return Interval(*_clean(min(products), max(products)))


def interval_add(a: Interval, b: Interval) -> Interval:
    return Interval(*_clean(a.lo + b.lo, a.hi + b.hi))


def _inverse(value: float) -> float:
    return 0.0 if value in (INF, -INF) else 1.0 / value


def reciprocal(a: Interval) -> Interval:
    if a.lo > 0 or a.hi < 0:
        return Interval(_inverse(a.hi), _inverse(a.lo))
    if a.lo == 0.0 and a.hi > 0.0:
        return Interval(_inverse(a.hi), INF)
    if a.hi == 0.0 and a.lo < 0.0:
        return Interval(-INF, _inverse(a.lo))
    return UNBOUNDED


# ---------------------------------------------------------------- floats

_FORMATS = {torch.float32: "f", torch.float16: "e"}


def float_info(dtype: torch.dtype | None) -> torch.finfo:
    if dtype is None or not dtype.is_floating_point:
        return torch.finfo(torch.float32)
    return torch.finfo(dtype)


def round_to(value: float, dtype: torch.dtype | None) -> float:
    """The nearest value of `dtype` (what the float computation really produces)."""
    if value != value or value in (INF, -INF):
        return value
    info = float_info(dtype)
    if abs(value) > info.max:
        return math.copysign(INF, value)
    code = _FORMATS.get(dtype or torch.float32)
    if code is not None:
        try:
            return struct.unpack(code, struct.pack(code, value))[0]
        except OverflowError:
            return math.copysign(INF, value)
    if dtype == torch.bfloat16:
        return float(torch.tensor(value, dtype=torch.bfloat16))
    return value


def fit(interval: Interval, dtype: torch.dtype | None) -> Interval:
    """Values beyond the dtype's maximum are infinite."""
    if dtype is not None and not dtype.is_floating_point:
        return interval
    limit = float_info(dtype).max
    if interval.hi > limit or interval.lo < -limit:
        return replace(interval, lo=-INF if interval.lo < -limit else interval.lo,
                       hi=INF if interval.hi > limit else interval.hi)
    return interval


def exp_overflow_point(dtype: torch.dtype | None) -> float:
    """The largest x whose exp is finite: 88.72 in float32, 11.09 in float16."""
    return math.log(float_info(dtype).max)


def _safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF
