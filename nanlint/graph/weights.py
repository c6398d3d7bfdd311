"""Ranges and row sums of weight tensors: the real weights in the range analysis."""
from __future__ import annotations

from typing import Any

import torch

from nanlint.graph.intervals import INF, UNBOUNDED, Interval, _clean


class Weights:
    """Ranges and row sums of weight tensors, computed once per tensor.

    One pass over a tensor for its range (`aminmax`: a NaN or Inf anywhere shows in the
    min or max) and two for a weight's row sums (a matrix-vector product and the L1
    norm): on a 2-core machine the passes over BERT-base's 110M weights are the
    analysis' main cost, and a weight only a linear layer reads never gets its range. Keys
    are the storage, shape and version, so the train and eval graphs of one model (two
    `detach()`ed views of the same parameter) share the work.
    """

    def __init__(self) -> None:
        self._ranges: dict[tuple[Any, ...], tuple[torch.Tensor, Interval]] = {}
        self._sums: dict[tuple[Any, ...], tuple[torch.Tensor, Any]] = {}

    @staticmethod
    def _key(tensor: torch.Tensor, *extra: Any) -> tuple[Any, ...]:
        return (tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype, tensor._version, *extra)

    def range(self, tensor: torch.Tensor) -> Interval:
        key = self._key(tensor)
        cached = self._ranges.get(key)
        if cached is not None:
            return cached[1]
        interval = _tensor_range(tensor)
        self._ranges[key] = (tensor, interval)
        return interval

    def signed_sums(self, tensor: torch.Tensor, layout: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Per output unit: the sum of the positive weights and of the negative weights.

        `layout` says where the output unit is: "rows" (Linear, conv: dim 0), "cols"
        (the right operand of `x @ W`: dim -1), "in_rows" (transposed conv: dim 1).
        """
        key = self._key(tensor, layout)
        cached = self._sums.get(key)
        if cached is not None:
            return cached[1]
        w = tensor.detach()
        if w.dtype != torch.float32:
            w = w.float()
        if layout == "cols":
            w = w.reshape(-1, w.shape[-1]).t() if w.dim() > 1 else w.reshape(1, -1)
        elif layout == "in_rows":
            w = w.transpose(0, 1)
        w = w.reshape(w.shape[0], -1) if w.dim() > 0 else w.reshape(1, 1)
        # A matrix-vector product is several times faster than a row sum here (BLAS).
        total = torch.mv(w, torch.ones(w.shape[1], dtype=w.dtype)).to(torch.float64)
        magnitude = torch.linalg.vector_norm(w, ord=1, dim=1).to(torch.float64)
        pos = (magnitude + total) / 2
        neg = (total - magnitude) / 2
        # Rounding must not turn an all-negative row into a tiny positive part (x inf).
        tiny = magnitude * 1e-9
        pos = torch.where(pos.abs() <= tiny, torch.zeros_like(pos), pos)
        neg = torch.where(neg.abs() <= tiny, torch.zeros_like(neg), neg)
        unknown = ~torch.isfinite(magnitude)
        if bool(unknown.any()):  # NaN/Inf weights: those units are unbounded
            pos = torch.where(unknown, torch.full_like(pos, INF), pos)
            neg = torch.where(unknown, torch.full_like(neg, -INF), neg)
        sums = (pos, neg)
        self._sums[key] = (tensor, sums)
        return sums


def _tensor_range(tensor: torch.Tensor) -> Interval:
    if tensor.numel() == 0:
        return Interval(0.0, 0.0)
    t = tensor.detach()
    if t.is_complex():
        return UNBOUNDED
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    low, high = torch.aminmax(t)
    lo, hi = float(low), float(high)
    if lo != lo or hi != hi:  # a NaN anywhere
        return UNBOUNDED
    return Interval(lo, hi)


def affine_bounds(pos: torch.Tensor, neg: torch.Tensor, x: Interval, bias: torch.Tensor | None) -> Interval:
    """min/max over output units of bias + sum(w * x) with every x in [lo, hi]."""

    def scale(vec: torch.Tensor, value: float) -> torch.Tensor:
        if value in (INF, -INF) or not bool(torch.isfinite(vec).all()):
            return torch.where(vec == 0, torch.zeros_like(vec), vec * value)
        return vec * value

    lo = scale(pos, x.lo) + scale(neg, x.hi)
    hi = scale(pos, x.hi) + scale(neg, x.lo)
    if bias is not None:
        b = torch.nan_to_num(bias.detach().to(torch.float64).reshape(-1), nan=0.0)
        if b.numel() == lo.numel() or b.numel() == 1:
            lo, hi = lo + b, hi + b
    return Interval(*_clean(float(lo.min()), float(hi.max())))
