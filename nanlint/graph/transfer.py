"""Transfer functions: the output interval of each canonical op from its arguments'.

One function per op (or family), registered in `TRANSFER` by canonical name (`ops.py`).
They read arguments through the `Context` (ranges, shapes, weights, dtype) and return an
`Interval`, or a tuple of them for ops with several outputs (`var_mean`, `max(dim)`).
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

import torch

from nanlint.graph.intervals import (
    INF,
    UNBOUNDED,
    UNIT,
    Interval,
    _clean,
    _safe_exp,
    float_info,
    hull,
    interval_add,
    interval_mul,
    mul_bound,
    point,
    reciprocal,
    round_to,
)
from nanlint.graph.ir import Ref
from nanlint.graph.weights import affine_bounds

if TYPE_CHECKING:
    from nanlint.graph.ranges import Context

Transfer = Callable[["Context"], Any]

def refs_in(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in refs_in(v)]
    return []


def _normalize_dim(dim: Any, rank: int | None) -> Any:
    if isinstance(dim, int) and rank is not None and dim >= 0:
        return dim - rank
    return dim


def _dims(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def reduced_count(shape: tuple[int, ...] | None, dim: Any) -> int | None:
    """How many elements a reduction over `dim` combines (None when unknown)."""
    if shape is None:
        return None
    dims = _dims(dim)
    if dims is None or len(dims) == 0:
        return math.prod(shape) if dim is None or dims == () else None
    try:
        return math.prod(shape[d] for d in dims)
    except IndexError:
        return None


def _single_dim(ctx: Context, name: str = "dim") -> int | None:
    dims = _dims(ctx.arg(name))
    if dims is None or len(dims) != 1:
        return None
    shape = ctx.shape()
    return _normalize_dim(dims[0], len(shape) if shape is not None else None)


def _range_only(x: Interval) -> Interval:
    return Interval(x.lo, x.hi, origin=x.origin, guarded=x.guarded, exp=x.exp)


def _monotone(function: Callable[[float], float], rounding: bool = True) -> Transfer:
    def transfer(ctx: Context) -> Interval:
        x = ctx.input()
        lo, hi = function(x.lo), function(x.hi)
        if rounding:
            lo, hi = round_to(lo, ctx.dtype), round_to(hi, ctx.dtype)
        return Interval(*_clean(lo, hi))

    return transfer


def _with_minimum(function: Callable[[float], float], x_min: float) -> Transfer:
    """A function that decreases to a single minimum at x_min, then increases (gelu, silu)."""

    def transfer(ctx: Context) -> Interval:
        x = ctx.input()
        values = [function(x.lo), function(x.hi)]
        if x.lo <= x_min <= x.hi:
            values.append(function(x_min))
        return Interval(*_clean(min(values), max(values)))

    return transfer


def _gelu(x: float) -> float:
    if x == -INF:
        return 0.0
    if x == INF:
        return INF
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def _silu(x: float) -> float:
    if x == -INF:
        return 0.0
    if x == INF:
        return INF
    return x / (1.0 + _safe_exp(-x))


def _mish(x: float) -> float:
    if x == -INF:
        return 0.0
    if x == INF:
        return INF
    return x * math.tanh(_softplus(x))


def _softplus(x: float) -> float:
    if x == INF:
        return INF
    if x > 30:
        return x
    return math.log1p(_safe_exp(x))


def _sigmoid(x: float) -> float:
    if x == INF:
        return 1.0
    if x == -INF:
        return 0.0
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x) if x > -745 else 0.0
    return e / (1.0 + e)


# ---------------------------------------------------------------- transfer functions


def t_add(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    alpha = ctx.arg("alpha", 1)
    if isinstance(alpha, (int, float)) and alpha != 1:
        b = interval_mul(b, point(float(alpha)))
    out = interval_add(a, b)
    guarded = _is_positive_constant(ctx, "other", b) or _is_positive_constant(ctx, "input", a)
    peak = None
    if a.peak is not None and ctx.is_constant(ctx.arg("other")) and b.finite:
        peak = (a.peak[0], a.peak[1] + b.lo)
    return replace(out, guarded=guarded or (a.guarded and b.lo >= 0), exp=a.exp or b.exp, peak=peak,
                   origin=a.origin if ctx.is_constant(ctx.arg("other")) else None)


def _is_positive_constant(ctx: Context, name: str, value: Interval) -> bool:
    return ctx.is_constant(ctx.arg(name)) and value.lo > 0


def t_sub(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    alpha = ctx.arg("alpha", 1)
    if isinstance(alpha, (int, float)) and alpha != 1:
        b = interval_mul(b, point(float(alpha)))
    out = interval_add(a, Interval(-b.hi, -b.lo))
    source = ctx.arg("input")
    if b.max_of is not None and isinstance(source, Ref) and b.max_of[0] == source.name:
        # x - x.amax(d): every slice along d has an element exactly 0, none above.
        return Interval(*_clean(a.lo - a.hi, 0.0), peak=(b.max_of[1], 0.0))
    return replace(out, exp=a.exp or b.exp)


def t_rsub(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    return interval_add(b, Interval(-a.hi, -a.lo))


def t_mul(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    if ctx.arg("input") == ctx.arg("other") and isinstance(ctx.arg("input"), Ref):
        return _square(a)
    out = interval_mul(a, b)
    for x, other_name, other in ((a, "other", b), (b, "input", a)):
        if x.peak is not None and ctx.is_constant(ctx.arg(other_name)) and other.lo > 0:
            return replace(out, peak=(x.peak[0], x.peak[1] * other.lo), exp=x.exp, origin=x.origin)
        if ctx.is_constant(ctx.arg(other_name)) and other.lo > 0:
            return replace(out, exp=x.exp, origin=x.origin, guarded=x.guarded)
    return replace(out, exp=a.exp or b.exp)


def _square(a: Interval) -> Interval:
    origin = "normed" if a.origin == "normed" else None
    if a.lo >= 0:
        return Interval(a.lo * a.lo, a.hi * a.hi, origin=origin)
    if a.hi <= 0:
        return Interval(a.hi * a.hi, a.lo * a.lo, origin=origin)
    return Interval(0.0, max(a.lo * a.lo, a.hi * a.hi), origin=origin)


def t_div(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    out = interval_mul(a, reciprocal(b))
    if (b.lo <= 0 <= b.hi) and a.lo >= 0 and b.lo >= 0:
        out = Interval(0.0, INF)
    if a.peak is not None and ctx.is_constant(ctx.arg("other")) and b.lo > 0:
        out = replace(out, peak=(a.peak[0], a.peak[1] / b.hi))
    return replace(out, exp=a.exp, origin=a.origin if ctx.is_constant(ctx.arg("other")) else None)


def t_reciprocal(ctx: Context) -> Interval:
    return reciprocal(ctx.input())


def t_neg(ctx: Context) -> Interval:
    x = ctx.input()
    return Interval(-x.hi, -x.lo)


def t_abs(ctx: Context) -> Interval:
    x = ctx.input()
    if x.lo >= 0:
        return replace(_range_only(x))
    if x.hi <= 0:
        return Interval(-x.hi, -x.lo, origin=x.origin)
    return Interval(0.0, max(-x.lo, x.hi), origin=x.origin)


def t_square(ctx: Context) -> Interval:
    return _square(ctx.input())


def t_pow(ctx: Context) -> Interval:
    x = ctx.input()
    exponent = ctx.arg("exponent")
    if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
        return UNBOUNDED
    p = float(exponent)
    if p == 0:
        return point(1.0)
    if p == 1:
        return x
    if p == 2:
        return _square(x)
    if p == 0.5:
        return t_sqrt(ctx)
    if p.is_integer():
        if p > 0:
            if int(p) % 2 == 0:
                sq = _square(x)
                return Interval(_pow(sq.lo, p / 2), _pow(sq.hi, p / 2))
            return Interval(_pow(x.lo, p), _pow(x.hi, p))
        base = _square(x) if int(p) % 2 == 0 else x
        inner = Interval(_pow(base.lo, abs(p) if int(p) % 2 else abs(p) / 2),
                         _pow(base.hi, abs(p) if int(p) % 2 else abs(p) / 2))
        return reciprocal(inner)
    low = max(x.lo, 0.0)
    if p > 0:
        return Interval(_pow(low, p), _pow(max(x.hi, 0.0), p), origin=x.origin)
    return reciprocal(Interval(_pow(low, -p), _pow(max(x.hi, 0.0), -p)))


def _pow(base: float, p: float) -> float:
    if base == INF:
        return INF if p > 0 else 0.0
    if base == -INF:
        return (INF if int(p) % 2 == 0 else -INF) if p > 0 else 0.0
    try:
        return math.pow(base, p)
    except OverflowError:
        return INF if base > 0 or int(p) % 2 == 0 else -INF
    except ValueError:
        return INF


def t_sqrt(ctx: Context) -> Interval:
    x = ctx.input()
    origin = {"var": "std", "sum": "norm"}.get(x.origin or "", x.origin)
    return Interval(math.sqrt(max(x.lo, 0.0)), math.sqrt(x.hi) if x.hi >= 0 else 0.0,
                    origin=origin, guarded=x.guarded or (x.origin == "size" and x.lo > 0))


def t_rsqrt(ctx: Context) -> Interval:
    x = ctx.input()
    root = Interval(math.sqrt(max(x.lo, 0.0)), math.sqrt(x.hi) if x.hi >= 0 else 0.0)
    return reciprocal(root)


def t_exp(ctx: Context) -> Interval:
    x = ctx.input()
    lo, hi = round_to(_safe_exp(x.lo), ctx.dtype), round_to(_safe_exp(x.hi), ctx.dtype)
    peak = (x.peak[0], round_to(_safe_exp(x.peak[1]), ctx.dtype)) if x.peak is not None else None
    return Interval(lo, hi, exp=True, peak=peak, guarded=True)


def t_expm1(ctx: Context) -> Interval:
    x = ctx.input()
    return Interval(round_to(_safe_exp(x.lo) - 1, ctx.dtype), round_to(_safe_exp(x.hi) - 1, ctx.dtype))


def _log_of(function: Callable[[float], float]) -> Transfer:
    def transfer(ctx: Context) -> Interval:
        x = ctx.input()
        lo = function(x.lo) if x.lo > 0 else -INF
        hi = function(x.hi) if x.hi > 0 else -INF
        return Interval(*_clean(lo, max(lo, hi)))

    return transfer


def t_log1p(ctx: Context) -> Interval:
    x = ctx.input()
    lo = math.log1p(x.lo) if x.lo > -1 else -INF
    hi = math.log1p(x.hi) if x.hi > -1 else -INF
    return Interval(lo, hi)


def t_sigmoid(ctx: Context) -> Interval:
    x = ctx.input()
    return Interval(round_to(_sigmoid(x.lo), ctx.dtype), round_to(_sigmoid(x.hi), ctx.dtype), origin="prob")


def t_softplus(ctx: Context) -> Interval:
    x = ctx.input()
    beta = ctx.arg("beta", 1.0)
    beta = float(beta) if isinstance(beta, (int, float)) else 1.0
    lo = round_to(_softplus(beta * x.lo) / beta if x.lo != -INF else 0.0, ctx.dtype)
    return Interval(lo, _softplus(beta * x.hi) / beta if x.hi != INF else INF, guarded=True)


def t_relu(ctx: Context) -> Interval:
    x = ctx.input()
    return Interval(max(x.lo, 0.0), max(x.hi, 0.0), peak=x.peak if x.peak and x.peak[1] > 0 else None)


def t_relu6(ctx: Context) -> Interval:
    x = ctx.input()
    return Interval(min(max(x.lo, 0.0), 6.0), min(max(x.hi, 0.0), 6.0))


def t_leaky_relu(ctx: Context) -> Interval:
    x = ctx.input()
    slope = ctx.arg("negative_slope", 0.01)
    slope = float(slope) if isinstance(slope, (int, float)) else 0.01
    f = lambda v: v if v >= 0 else v * slope  # noqa: E731
    return Interval(f(x.lo), f(x.hi))


def t_elu(ctx: Context) -> Interval:
    x = ctx.input()
    alpha = ctx.arg("alpha", 1.0)
    alpha = float(alpha) if isinstance(alpha, (int, float)) else 1.0
    f = lambda v: v if v >= 0 else alpha * (_safe_exp(v) - 1)  # noqa: E731
    return Interval(f(x.lo), f(x.hi))


def t_hardtanh(ctx: Context) -> Interval:
    x = ctx.input()
    low, high = ctx.arg("min_val", -1.0), ctx.arg("max_val", 1.0)
    return Interval(min(max(x.lo, low), high), min(max(x.hi, low), high))


def t_clamp(ctx: Context) -> Interval:
    x = ctx.input()
    low = ctx.range(ctx.arg("min"))
    high = ctx.range(ctx.arg("max"))
    lo, hi = x.lo, x.hi
    if isinstance(low, Interval):
        lo, hi = max(lo, low.lo), max(hi, low.hi)
    if isinstance(high, Interval):
        lo, hi = min(lo, high.lo), min(hi, high.hi)
    guarded = isinstance(low, Interval) and low.lo > 0
    return Interval(lo, hi, guarded=guarded or x.guarded, origin=x.origin)


def t_maximum(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    out = Interval(max(a.lo, b.lo), max(a.hi, b.hi))
    return replace(out, guarded=out.lo > 0 or a.guarded or b.guarded, origin=a.origin)


def t_minimum(ctx: Context) -> Interval:
    a, b = ctx.input(), ctx.input("other")
    return Interval(min(a.lo, b.lo), min(a.hi, b.hi))


def _reduce_setup(ctx: Context) -> tuple[Interval, int | None, Any]:
    x = ctx.input()
    dim = ctx.arg("dim")
    count = reduced_count(ctx.shape(), dim)
    return x, count, dim


def t_sum(ctx: Context) -> Interval:
    x, n, dim = _reduce_setup(ctx)
    if isinstance(dim, Ref):  # torch.sum(x, dtype) forms never pass tensors as dim
        return UNBOUNDED
    if n is None:
        lo = -INF if x.lo < 0 else x.lo if x.lo > 0 else 0.0
        hi = INF if x.hi > 0 else x.hi if x.hi < 0 else 0.0
        if x.lo > 0:
            lo = x.lo
    else:
        lo, hi = mul_bound(x.lo, n), mul_bound(x.hi, n)
    if x.peak is not None and x.lo >= 0 and x.peak[0] == _single_dim(ctx):
        lo = max(lo, x.peak[1])
    return Interval(*_clean(lo, hi), origin="sum", exp=x.exp, guarded=x.guarded and lo > 0)


def t_mean(ctx: Context) -> Interval:
    x, n, _ = _reduce_setup(ctx)
    lo = x.lo
    if x.peak is not None and x.lo >= 0 and x.peak[0] == _single_dim(ctx) and n:
        lo = max(lo, x.peak[1] / n)
    return Interval(lo, x.hi, origin="mean", exp=x.exp)


def t_amax(ctx: Context) -> Any:
    x = ctx.input()
    dim_arg = ctx.arg("dim")
    if isinstance(dim_arg, Ref):  # torch.max(a, b): elementwise
        return t_maximum(ctx) if ctx.op.kind == "max" else t_minimum(ctx)
    source = ctx.arg("input")
    dim = _single_dim(ctx)
    lo = x.lo
    if x.peak is not None and x.peak[0] == dim:
        lo = max(lo, x.peak[1])
    out = Interval(lo, x.hi, origin="max" if ctx.op.kind in ("amax", "max") else None,
                   max_of=(source.name, dim) if isinstance(source, Ref) and dim is not None and
                   ctx.op.kind in ("amax", "max") else None)
    if ctx.op.kind in ("max", "min") and dim_arg is not None:
        return (out, Interval(0.0, INF))  # (values, indices)
    return out


def t_logsumexp(ctx: Context) -> Interval:
    x, n, _ = _reduce_setup(ctx)
    return Interval(x.lo, x.hi + math.log(n) if n else INF)


def t_prod(ctx: Context) -> Interval:
    x = ctx.input()
    if 0 <= x.lo and x.hi <= 1:
        return Interval(0.0, x.hi)
    return UNBOUNDED


def t_cumsum(ctx: Context) -> Interval:
    x = ctx.input()
    shape = ctx.shape()
    dim = ctx.arg("dim")
    n = shape[dim] if shape is not None and isinstance(dim, int) and -len(shape) <= dim < len(shape) else None
    if n is None:
        return Interval(-INF if x.lo < 0 else x.lo, INF if x.hi > 0 else x.hi)
    return Interval(min(x.lo, mul_bound(x.lo, n)), max(x.hi, mul_bound(x.hi, n)))


def correction_of(ctx: Context) -> float:
    correction = ctx.arg("correction")
    if isinstance(correction, (int, float)) and not isinstance(correction, bool):
        return float(correction)
    unbiased = ctx.arg("unbiased")
    if isinstance(unbiased, bool):
        return 1.0 if unbiased else 0.0
    return 1.0


def _variance(ctx: Context) -> Interval:
    x, n, _ = _reduce_setup(ctx)
    correction = correction_of(ctx)
    width = x.hi - x.lo
    if n is None:
        factor = INF if correction else 1.0
    elif n - correction <= 0:
        factor = INF
    else:
        factor = n / (n - correction)
    top = mul_bound(width * width / 4.0, factor) if width != INF else INF
    return Interval(0.0, top, origin="var")


def t_var(ctx: Context) -> Interval:
    return _variance(ctx)


def t_std(ctx: Context) -> Interval:
    v = _variance(ctx)
    return Interval(0.0, math.sqrt(v.hi), origin="std")


def t_var_mean(ctx: Context) -> tuple[Interval, Interval]:
    x = ctx.input()
    var = _variance(ctx)
    if ctx.op.kind == "std_mean":
        var = Interval(0.0, math.sqrt(var.hi), origin="std")
    return var, Interval(x.lo, x.hi, origin="mean")


def t_norm(ctx: Context) -> Interval:
    x = ctx.input()
    p = ctx.arg("p", 2)
    p = 2.0 if p in (None, "fro") or not isinstance(p, (int, float)) else float(p)
    n = reduced_count(ctx.shape(), ctx.arg("dim"))
    small = 0.0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
    large = max(abs(x.lo), abs(x.hi))
    if p == INF:
        return Interval(small, large, origin="norm")
    if p <= 0:
        return Interval(0.0, INF, origin="norm")
    scale = n ** (1.0 / p) if n is not None else INF
    return Interval(small, mul_bound(large, scale), origin="norm")


def t_normalize(ctx: Context) -> Interval:
    return Interval(-1.0, 1.0)


def _softmax_count(ctx: Context) -> tuple[int | None, int | None]:
    shape = ctx.shape()
    dim = ctx.arg("dim")
    if shape is None or not isinstance(dim, int) or not -len(shape) <= dim < len(shape):
        return None, _normalize_dim(dim, None) if isinstance(dim, int) else None
    return shape[dim], _normalize_dim(dim, len(shape))


def t_softmax(ctx: Context) -> Interval:
    x = ctx.input()
    n, dim = _softmax_count(ctx)
    if n == 1:
        return Interval(1.0, 1.0, origin="prob", peak=(dim, 1.0) if dim is not None else None)
    width = x.hi - x.lo
    if n is None or width == INF:
        lo = 0.0
        hi = 1.0
    else:
        lo = 1.0 / (1.0 + (n - 1) * _safe_exp(width))
        hi = 1.0 / (1.0 + (n - 1) * _safe_exp(-width))
    peak_bound = 1.0 / n if n else float_info(ctx.dtype).tiny
    return Interval(round_to(lo, ctx.dtype), round_to(hi, ctx.dtype), origin="prob",
                    peak=(dim, round_to(peak_bound, ctx.dtype)) if dim is not None else None)


def t_log_softmax(ctx: Context) -> Interval:
    x = ctx.input()
    n, _ = _softmax_count(ctx)
    if n is None or x.hi - x.lo == INF:
        return Interval(-INF, 0.0)
    return Interval(x.lo - x.hi - math.log(n), 0.0)


def _matmul_of(a: Interval, b: Interval, k: int | None) -> Interval:
    product = interval_mul(a, b)
    if k is None:
        lo = -INF if product.lo < 0 else 0.0
        hi = INF if product.hi > 0 else 0.0
        return Interval(lo, hi)
    return Interval(*_clean(mul_bound(product.lo, k), mul_bound(product.hi, k)))


def t_linear(ctx: Context) -> Interval:
    weight = ctx.tensor("weight")
    x = ctx.input()
    bias = ctx.tensor("bias")
    if weight is None:
        w = ctx.range(ctx.arg("weight")) or UNBOUNDED
        shape = ctx.shape()
        out = _matmul_of(x, w, shape[-1] if shape else None)
        b = ctx.range(ctx.arg("bias"))
        return interval_add(out, b) if isinstance(b, Interval) else out
    pos, neg = ctx.analysis.weights.signed_sums(weight, "rows")
    return affine_bounds(pos, neg, x, bias)


def t_conv(ctx: Context) -> Interval:
    weight = ctx.tensor("weight")
    x = ctx.input()
    padding = ctx.arg("padding", 0)
    if padding not in (0, (0,), (0, 0), (0, 0, 0), "valid", None):
        x = hull(x, point(0.0))
    if weight is None:
        return UNBOUNDED
    layout = "in_rows" if ctx.op.kind == "conv_transpose" or ctx.arg("transposed") is True else "rows"
    if layout == "in_rows":
        x = hull(x, point(0.0))
    pos, neg = ctx.analysis.weights.signed_sums(weight, layout)
    return affine_bounds(pos, neg, x, ctx.tensor("bias"))


def t_matmul(ctx: Context) -> Interval:
    left_name, right_name = ("input", "other") if "other" in ctx.op.args else ("input", "mat2")
    a, b = ctx.input(left_name), ctx.input(right_name)
    right = ctx.tensor(right_name)
    left = ctx.tensor(left_name)
    if right is not None and right.dim() >= 1 and left is None:
        pos, neg = ctx.analysis.weights.signed_sums(right, "cols")
        return affine_bounds(pos, neg, a, None)
    if left is not None and left.dim() >= 1 and right is None:
        pos, neg = ctx.analysis.weights.signed_sums(left, "rows" if left.dim() == 2 else "cols")
        return affine_bounds(pos, neg, b, None) if left.dim() == 2 else UNBOUNDED
    shape = ctx.shape(ctx.arg(left_name))
    return _matmul_of(a, b, shape[-1] if shape else None)


def t_bmm_add(ctx: Context) -> Interval:
    """addmm / baddbmm: beta * input + alpha * (m1 @ m2)."""
    names = ("mat1", "mat2") if ctx.op.kind == "addmm" else ("batch1", "batch2")
    first, second = ctx.input(names[0]), ctx.input(names[1])
    weight = ctx.tensor(names[1])
    if weight is not None and ctx.tensor(names[0]) is None and weight.dim() == 2:
        pos, neg = ctx.analysis.weights.signed_sums(weight, "cols")
        product = affine_bounds(pos, neg, first, None)
    else:
        shape = ctx.shape(ctx.arg(names[0]))
        product = _matmul_of(first, second, shape[-1] if shape else None)
    beta, alpha = ctx.arg("beta", 1), ctx.arg("alpha", 1)
    term = interval_mul(ctx.input(), point(float(beta))) if isinstance(beta, (int, float)) else ctx.input()
    if isinstance(alpha, (int, float)):
        product = interval_mul(product, point(float(alpha)))
    return interval_add(term, product)


def t_sdpa(ctx: Context) -> Interval:
    """Each output row is a convex combination of value rows (dropout rescales it)."""
    value = ctx.input("value")
    p = ctx.arg("dropout_p", 0.0)
    if isinstance(p, (int, float)) and 0 < p < 1:
        return hull(point(0.0), interval_mul(value, point(1.0 / (1.0 - p))))
    return Interval(value.lo, value.hi)


def t_embedding(ctx: Context) -> Interval:
    weight = ctx.range(ctx.arg("weight"))
    return weight if isinstance(weight, Interval) else UNBOUNDED


def _affine_per_channel(
    x: Interval, scale: torch.Tensor, shift: torch.Tensor
) -> Interval:
    """min/max over channels c of scale_c * x + shift_c."""
    candidates = []
    for bound in (x.lo, x.hi):
        if bound in (INF, -INF):
            term = torch.where(scale == 0, torch.zeros_like(scale), scale * bound)
        else:
            term = scale * bound
        candidates.append(term + shift)
    stacked = torch.stack(candidates)
    if not bool(torch.isfinite(stacked).all()) and bool(torch.isnan(stacked).any()):
        return UNBOUNDED
    return Interval(*_clean(float(stacked.min()), float(stacked.max())))


def _affine_params(ctx: Context, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    weight = ctx.tensor("weight")
    bias = ctx.tensor("bias")
    w = weight.detach().to(torch.float64).reshape(-1) if weight is not None else torch.ones(channels, dtype=torch.float64)
    b = bias.detach().to(torch.float64).reshape(-1) if bias is not None else torch.zeros(channels, dtype=torch.float64)
    return w, b


def _normalized_bound(count: int | None) -> float:
    """|x_i - mean| / std over `count` values is at most sqrt(count - 1)."""
    if count is None:
        return INF
    return math.sqrt(max(count - 1, 0))


def uses_batch_statistics(ctx: Context) -> bool:
    return bool(ctx.arg("training")) or ctx.arg("running_mean") is None or ctx.arg("running_var") is None


def t_batch_norm(ctx: Context) -> Any:
    x = ctx.input()
    shape = ctx.shape()
    running_var = ctx.tensor("running_var")
    running_mean = ctx.tensor("running_mean")
    channels = shape[1] if shape is not None and len(shape) > 1 else None
    if channels is None:
        for t in (running_var, ctx.tensor("weight")):
            if t is not None:
                channels = t.numel()
    if channels is None:
        return UNBOUNDED
    w, b = _affine_params(ctx, channels)
    if uses_batch_statistics(ctx):
        per_channel = math.prod(shape) // channels if shape is not None else None
        s = 0.0 if x.lo == x.hi else _normalized_bound(per_channel)
        out = replace(_affine_per_channel(Interval(-s, s), w, b), origin="normed")
    else:
        assert running_var is not None and running_mean is not None
        eps = ctx.arg("eps", 1e-5)
        eps = float(eps) if isinstance(eps, (int, float)) else 1e-5
        var = running_var.detach().to(torch.float64).reshape(-1)
        mean = running_mean.detach().to(torch.float64).reshape(-1)
        if not bool(torch.isfinite(var).all() and torch.isfinite(mean).all()) or bool((var + eps <= 0).any()):
            return UNBOUNDED
        scale = w / torch.sqrt(var + eps)
        out = _affine_per_channel(x, scale, b - mean * scale)
    return out


def t_layer_norm(ctx: Context) -> Interval:
    x = ctx.input()
    normalized = ctx.arg("normalized_shape")
    count = math.prod(normalized) if isinstance(normalized, (list, tuple)) and all(
        isinstance(n, int) for n in normalized) else None
    return _normed(ctx, x, count, centered=True)


def _normed(ctx: Context, x: Interval, count: int | None, centered: bool) -> Interval:
    s = _normalized_bound(count) if centered else (math.sqrt(count) if count is not None else INF)
    if x.lo == x.hi and centered:
        s = 0.0
    weight, bias = ctx.tensor("weight"), ctx.tensor("bias")
    w = weight.detach().to(torch.float64).reshape(-1).abs() if weight is not None else torch.ones(1, dtype=torch.float64)
    b = bias.detach().to(torch.float64).reshape(-1) if bias is not None else torch.zeros(1, dtype=torch.float64)
    if w.numel() != b.numel() and w.numel() > 1 and b.numel() > 1:
        return UNBOUNDED
    if s == INF:
        spread = torch.where(w == 0, torch.zeros_like(w), w * INF)
    else:
        spread = w * s
    # "normed": the interval bounds each element alone; together they have unit variance,
    # so sums of them are far below the interval's worst case (NAN306 skips them).
    return Interval(*_clean(float((b - spread).min()), float((b + spread).max())), origin="normed")


def t_group_norm(ctx: Context) -> Interval:
    shape = ctx.shape()
    groups = ctx.arg("num_groups")
    count = None
    if shape is not None and len(shape) >= 2 and isinstance(groups, int) and groups > 0:
        count = math.prod(shape[1:]) // groups
    return _normed(ctx, ctx.input(), count, centered=True)


def t_instance_norm(ctx: Context) -> Interval:
    shape = ctx.shape()
    count = math.prod(shape[2:]) if shape is not None and len(shape) > 2 else None
    return _normed(ctx, ctx.input(), count, centered=True)


def t_rms_norm(ctx: Context) -> Interval:
    normalized = ctx.arg("normalized_shape")
    count = math.prod(normalized) if isinstance(normalized, (list, tuple)) and all(
        isinstance(n, int) for n in normalized) else None
    return _normed(ctx, ctx.input(), count, centered=False)


def t_dropout(ctx: Context) -> Any:
    x = ctx.input()
    p = ctx.arg("p", 0.5)
    if not ctx.arg("training", False) or not isinstance(p, (int, float)) or p <= 0:
        out = x
    elif p >= 1:
        out = point(0.0)
    else:
        out = hull(point(0.0), interval_mul(x, point(1.0 / (1.0 - p))))
    return out


def t_where(ctx: Context) -> Interval:
    a = ctx.range(ctx.arg("input"))
    b = ctx.range(ctx.arg("other"))
    items = [i for i in (a, b) if isinstance(i, Interval)]
    return hull(*items) if len(items) == 2 else UNBOUNDED


def t_masked_fill(ctx: Context) -> Interval:
    value = ctx.range(ctx.arg("value"))
    return hull(ctx.input(), value) if isinstance(value, Interval) else UNBOUNDED


def t_cat(ctx: Context) -> Interval:
    tensors = ctx.arg("tensors") or ctx.arg("input")
    if not isinstance(tensors, (list, tuple)) or not tensors:
        return UNBOUNDED
    items = [ctx.range(t) for t in tensors]
    if not all(isinstance(i, Interval) for i in items):
        return UNBOUNDED
    return hull(*items)


def t_getitem(ctx: Context) -> Any:
    source = ctx.range(ctx.arg("input"))
    index = ctx.arg("index")
    if isinstance(source, tuple):
        if isinstance(index, int) and -len(source) <= index < len(source):
            return source[index]
        return UNBOUNDED
    if isinstance(source, Interval):
        if source.origin == "size":
            return source
        return _range_only(source) if not isinstance(index, int) else Interval(source.lo, source.hi,
                                                                                origin=source.origin)
    return UNBOUNDED


def t_getattr(ctx: Context) -> Any:
    source = ctx.range(ctx.arg("input"))
    name = ctx.arg("name")
    if name == "shape":
        return Interval(0.0, INF, origin="size")
    if isinstance(source, tuple) and name in ("values", "indices"):
        return source[0 if name == "values" else 1]
    return UNBOUNDED


def t_size(ctx: Context) -> Interval:
    shape = ctx.shape()
    dim = ctx.arg("dim")
    if shape is not None and isinstance(dim, int) and -len(shape) <= dim < len(shape):
        return Interval(float(shape[dim]), float(shape[dim]), origin="size")
    return Interval(0.0, INF, origin="size")


def t_full(ctx: Context) -> Interval:
    value = ctx.arg("fill_value")
    return point(float(value)) if isinstance(value, (int, float)) else UNBOUNDED


def t_scalar(ctx: Context) -> Interval:
    for name in ("value", "data", "input"):
        value = ctx.arg(name)
        if isinstance(value, (int, float)):
            return point(round_to(float(value), ctx.dtype))
        if isinstance(value, (Ref, torch.Tensor)):
            found = ctx.range(value)
            return found if isinstance(found, Interval) else UNBOUNDED
    return UNBOUNDED


def t_arange(ctx: Context) -> Interval:
    numbers = [v for k, v in sorted(ctx.op.args.items()) if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k in ("input", "start", "end", "step", "arg1")]
    if not numbers:
        return UNBOUNDED
    if len(numbers) == 1:
        return Interval(0.0, float(numbers[0]))
    return Interval(float(min(numbers[:2])), float(max(numbers[:2])))


def t_pad(ctx: Context) -> Interval:
    value = ctx.arg("value", 0.0)
    return hull(ctx.input(), point(float(value) if isinstance(value, (int, float)) else 0.0))


def t_avg_pool(ctx: Context) -> Interval:
    x = ctx.input()
    padding = ctx.arg("padding", 0)
    if padding not in (0, (0,), (0, 0), None, [0, 0], [0]):
        return hull(x, point(0.0))
    return _range_only(x)


def t_index_add(ctx: Context) -> Interval:
    """input with (any number of) source values added at indexed rows: scatter sums."""
    base, source = ctx.input(), ctx.input("source")
    lo = base.lo + (0.0 if source.lo >= 0 else -INF)
    hi = base.hi + (0.0 if source.hi <= 0 else INF)
    return Interval(*_clean(min(lo, base.lo), max(hi, base.hi)), exp=source.exp, origin="sum")


def t_index_put(ctx: Context) -> Interval:
    base, values = ctx.input(), ctx.input("values")
    if ctx.arg("accumulate"):
        return hull(base, interval_add(base, Interval(min(values.lo, 0.0) * INF if values.lo < 0 else 0.0,
                                                      INF if values.hi > 0 else 0.0)))
    return hull(base, values)


def t_diff(ctx: Context) -> Interval:
    x = ctx.input()
    return interval_add(x, Interval(-x.hi, -x.lo))


def t_tril(ctx: Context) -> Interval:
    return hull(_range_only(ctx.input()), point(0.0))


def t_convert(ctx: Context) -> Interval:
    x = ctx.input()
    return replace(x, lo=round_to(x.lo, ctx.dtype), hi=round_to(x.hi, ctx.dtype))




def _constant(interval: Interval) -> Transfer:
    return lambda ctx: interval


# Ops whose output holds the same values as the input (or a subset): layout changes,
# copies, indexing. Those that keep the last dimension keep the facts too.
KEEP_FACTS = frozenset({
    "unsqueeze", "expand", "expand_as", "contiguous", "clone", "detach", "alias", "lift_fresh_copy",
    "copy", "type_as", "float", "half", "bfloat16", "double", "to", "to_copy", "dropout_eval", "identity",
})
PASSTHROUGH = frozenset({
    "view", "reshape", "permute", "transpose", "t", "squeeze", "flatten", "unflatten",
    "repeat", "select", "slice", "narrow", "index_select", "gather", "take", "roll", "flip",
    "movedim", "swapaxes", "view_as", "reshape_as", "index", "masked_select", "max_pool", "max_pool1d",
    "max_pool2d", "max_pool3d", "max_pool2d_with_indices", "adaptive_max_pool2d", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "repeat_interleave", "tile", "sort", "topk", "kthvalue",
    "median", "nanmedian", "quantile", "as_strided", "diagonal", "chunk", "split", "unbind",
    "split_with_sizes", "tensor_split", "upsample_nearest2d", "upsample_bilinear2d", "interpolate",
    "adaptive_avg_pool2d", "adaptive_avg_pool1d", "permute_copy", "view_copy", "expand_copy", "select_copy",
    "slice_copy", "squeeze_copy", "unsqueeze_copy", "transpose_copy", "scatter",
    "new_tensor", "resolve_conj", "resolve_neg", "narrow_copy", "unfold",
})
BOOLEAN = frozenset({
    "compare", "logical", "eq", "ne", "gt", "ge", "lt", "le", "logical_not", "logical_and", "logical_or",
    "logical_xor", "isnan", "isinf", "isfinite", "isneginf", "isposinf", "bitwise_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "any", "all", "signbit", "rand", "rand_like", "bernoulli",
    "and", "or", "xor", "invert", "isin",
})


TRANSFER: dict[str, Transfer] = {
    "add": t_add, "sub": t_sub, "rsub": t_rsub, "mul": t_mul, "div": t_div, "neg": t_neg, "abs": t_abs,
    "reciprocal": t_reciprocal, "square": t_square, "pow": t_pow, "sqrt": t_sqrt, "rsqrt": t_rsqrt,
    "exp": t_exp, "exp2": _monotone(lambda v: 2.0 ** v if v < 1024 else INF), "expm1": t_expm1,
    "log": _log_of(math.log), "log2": _log_of(math.log2), "log10": _log_of(math.log10), "log1p": t_log1p,
    "sigmoid": t_sigmoid, "tanh": _monotone(math.tanh), "erf": _monotone(math.erf),
    "atan": _monotone(math.atan), "sign": _constant(Interval(-1.0, 1.0)),
    "sin": _constant(Interval(-1.0, 1.0)), "cos": _constant(Interval(-1.0, 1.0)),
    "acos": _constant(Interval(0.0, math.pi)), "asin": _constant(Interval(-math.pi / 2, math.pi / 2)),
    "relu": t_relu, "relu6": t_relu6, "hardtanh": t_hardtanh, "leaky_relu": t_leaky_relu, "elu": t_elu,
    "gelu": _with_minimum(_gelu, -0.7517916), "silu": _with_minimum(_silu, -1.2784645),
    "mish": _with_minimum(_mish, -1.1924), "softplus": t_softplus, "logsigmoid": _monotone(
        lambda v: -_softplus(-v) if v != -INF else -INF, rounding=False),
    "hardsigmoid": _constant(UNIT), "hardswish": _with_minimum(lambda v: v * min(max(v + 3, 0), 6) / 6
                                                               if abs(v) != INF else max(v, 0.0), -1.5),
    "clamp": t_clamp, "clamp_min": t_clamp, "clamp_max": t_clamp, "maximum": t_maximum, "fmax": t_maximum,
    "minimum": t_minimum, "fmin": t_minimum,
    "sum": t_sum, "nansum": t_sum, "mean": t_mean, "nanmean": t_mean, "amax": t_amax, "amin": t_amax,
    "max": t_amax, "min": t_amax, "logsumexp": t_logsumexp, "prod": t_prod, "cumsum": t_cumsum,
    "var": t_var, "std": t_std, "var_mean": t_var_mean, "std_mean": t_var_mean,
    "norm": t_norm, "normalize": t_normalize,
    "softmax": t_softmax, "log_softmax": t_log_softmax,
    "linear": t_linear, "conv": t_conv, "conv_transpose": t_conv,
    "matmul": t_matmul, "mm": t_matmul, "bmm": t_matmul, "addmm": t_bmm_add, "baddbmm": t_bmm_add,
    "scaled_dot_product_attention": t_sdpa, "embedding": t_embedding,
    "batch_norm": t_batch_norm, "layer_norm": t_layer_norm, "group_norm": t_group_norm,
    "instance_norm": t_instance_norm, "rms_norm": t_rms_norm, "dropout": t_dropout,
    "where": t_where, "masked_fill": t_masked_fill, "cat": t_cat, "stack": t_cat,
    "getitem": t_getitem, "getattr": t_getattr, "size": t_size, "sym_size": t_size,
    "dim": _constant(Interval(0.0, INF, origin="size")), "numel": _constant(Interval(0.0, INF, origin="size")),
    "full": t_full, "full_like": t_full, "new_full": t_full, "fill": t_full,
    "zeros": _constant(point(0.0)), "zeros_like": _constant(point(0.0)), "new_zeros": _constant(point(0.0)),
    "ones": _constant(point(1.0)), "ones_like": _constant(point(1.0)), "new_ones": _constant(point(1.0)),
    "scalar_tensor": t_scalar, "tensor": t_scalar, "arange": t_arange,
    "pad": t_pad, "constant_pad_nd": t_pad, "avg_pool": t_avg_pool, "avg_pool1d": t_avg_pool,
    "avg_pool2d": t_avg_pool, "tril": t_tril, "triu": t_tril, "diff": t_diff,
    "index_add": t_index_add, "scatter_add": t_index_add, "index_put": t_index_put,
    "floor": _monotone(math.floor, rounding=False), "ceil": _monotone(math.ceil, rounding=False),
    "round": _monotone(lambda v: float(round(v)) if abs(v) != INF else v, rounding=False),
    "trunc": _monotone(lambda v: float(math.trunc(v)) if abs(v) != INF else v, rounding=False),
}
TRANSFER.update({name: lambda ctx: ctx.input() for name in KEEP_FACTS})
TRANSFER.update({name: lambda ctx: _range_only(ctx.input()) for name in PASSTHROUGH})
TRANSFER.update({name: _constant(UNIT) for name in BOOLEAN})
for _name in ("to", "type_as", "float", "half", "bfloat16", "double", "to_copy"):
    TRANSFER[_name] = t_convert
