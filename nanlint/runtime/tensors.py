"""Finiteness and one-line summaries of the tensors a probe sees (range, dtype, shape)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor in a model's inputs or outputs: tuples, lists, dicts, `ModelOutput`s."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)


def float_tensors(value: Any) -> list[torch.Tensor]:
    return [t for t in tensors_in(value) if t.is_floating_point() or t.is_complex()]


def is_finite(tensor: torch.Tensor) -> bool:
    if not (tensor.is_floating_point() or tensor.is_complex()) or tensor.numel() == 0:
        return True
    data = tensor.detach()
    # A sum is finite when every element is (a NaN or an Inf makes it non-finite); only a
    # sum that overflows needs the element-wise check, which costs 50-100x a sum on CPU.
    if bool(torch.isfinite(data.sum())):
        return True
    return bool(torch.isfinite(data).all())


def all_finite(value: Any) -> bool:
    """Whether every float tensor in `value` is finite, with one synchronisation for all of them."""
    tensors = [t for t in float_tensors(value) if t.numel()]
    if not tensors:
        return True
    sums = [(t.detach().abs() if t.is_complex() else t.detach()).sum().to(torch.float64) for t in tensors]
    if bool(torch.isfinite(torch.stack(sums).sum())):
        return True
    return all(is_finite(t) for t in tensors)


def _number(value: float) -> str:
    return f"{value:.3g}"


@dataclass(frozen=True)
class TensorSummary:
    shape: tuple[int, ...]
    dtype: str
    # The range of the finite elements (None when there are none).
    low: float | None
    high: float | None
    nan: int
    posinf: int
    neginf: int
    numel: int

    @property
    def finite(self) -> bool:
        return not (self.nan or self.posinf or self.neginf)

    def value_text(self) -> str:
        """`[-1.2, 3.4]`, `NaN in 3 of 16 [-1.2, 3.4]`, `all NaN`."""
        bad = []
        if self.nan:
            bad.append("NaN")
        if self.posinf:
            bad.append("+inf")
        if self.neginf:
            bad.append("-inf")
        finite = "" if self.low is None else f"[{_number(self.low)}, {_number(self.high or 0.0)}]"
        if not bad:
            return finite or "empty"
        count = self.nan + self.posinf + self.neginf
        if count == self.numel:
            return "all " + "/".join(bad)
        return f"{'/'.join(bad)} in {count} of {self.numel}, else {finite}"

    def describe(self) -> str:
        shape = "x".join(str(d) for d in self.shape) or "scalar"
        return f"{self.value_text()} ({self.dtype}, {shape})"

    def as_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "min": self.low, "max": self.high,
                "nan": self.nan, "posinf": self.posinf, "neginf": self.neginf, "numel": self.numel}


def summarize(tensor: torch.Tensor) -> TensorSummary:
    data = tensor.detach()
    dtype = str(data.dtype).replace("torch.", "")
    if data.is_complex():
        data = data.abs()
    if not data.is_floating_point():
        data = data.to(torch.float64)
    flat = data.reshape(-1)
    finite = flat[torch.isfinite(flat)]
    low = high = None
    if finite.numel():
        low, high = float(finite.min()), float(finite.max())
    return TensorSummary(
        shape=tuple(int(d) for d in tensor.shape),
        dtype=dtype,
        low=low,
        high=high,
        nan=int(torch.isnan(flat).sum()),
        posinf=int(torch.isposinf(flat).sum()),
        neginf=int(torch.isneginf(flat).sum()),
        numel=int(flat.numel()),
    )
