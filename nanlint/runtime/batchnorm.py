"""How far each BatchNorm's running statistics are from the probe batch's, and what it costs.

In eval mode a BatchNorm normalizes with its running statistics; in train mode with the
batch's. For the input the layer really receives in the eval run, this measures per
channel how many batch standard deviations the running mean is off, the ratio of the
running to the batch standard deviation, and the resulting change of the normalized
output (RMS, in batch standard deviations). `attribute` then switches the layers that
deviate most to batch statistics and measures how much of the model's eval output they
explain.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from nanlint.runtime.observe import unobserved
from nanlint.runtime.tensors import all_finite, float_tensors


@dataclass(frozen=True)
class BatchNormStats:
    path: str
    # Values per channel in the probe batch (N, or N*H*W): fewer make its statistics noise.
    count: int
    # Largest |running_mean - batch_mean| / batch_std, and its channel.
    mean_shift: float
    mean_channel: int
    # Range over channels of running_std / batch_std.
    std_ratio_low: float
    std_ratio_high: float
    # Largest RMS change of the normalized output between modes (batch stds), and its channel.
    deviation: float
    channel: int
    never_updated: bool

    def describe(self) -> str:
        return (f"running mean up to {self.mean_shift:.3g} batch standard deviations from the batch mean "
                f"(channel {self.mean_channel}), running std {self.std_ratio_low:.3g}-{self.std_ratio_high:.3g}x "
                f"the batch's; the normalized output moves by {self.deviation:.3g} standard deviations "
                f"(RMS, channel {self.channel}) between train and eval statistics, over {self.count} values "
                f"per channel")

    def as_dict(self) -> dict[str, Any]:
        return {"mean_shift": self.mean_shift, "std_ratio": [self.std_ratio_low, self.std_ratio_high],
                "deviation": self.deviation, "channel": self.channel, "values_per_channel": self.count,
                "never_updated": self.never_updated}


def has_running_stats(module: nn.Module) -> bool:
    return isinstance(module, _BatchNorm) and module.running_mean is not None and module.running_var is not None


def measure(path: str, module: _BatchNorm, x: torch.Tensor) -> BatchNormStats | None:
    """The statistics of one eval-mode call (one synchronisation); None when the running
    statistics or the input are not finite (NAN403's and NAN601's cases)."""
    assert module.running_mean is not None and module.running_var is not None
    data = x.detach().to(torch.float64)
    if data.dim() < 2 or data.shape[1] != module.running_mean.numel():
        return None
    dims = [0, *range(2, data.dim())]
    shape = [1, -1] + [1] * (data.dim() - 2)
    running_mean = module.running_mean.detach().to(torch.float64)
    running_var = module.running_var.detach().to(torch.float64)
    eps = float(module.eps)
    batch_mean = data.mean(dims)
    batch_std = (data.var(dims, unbiased=False) + eps).sqrt()
    running_std = (running_var + eps).clamp_min(0).sqrt()
    shift = (running_mean - batch_mean).abs() / batch_std
    ratio = running_std / batch_std
    eval_norm = (data - running_mean.view(shape)) / running_std.view(shape)
    batch_norm = (data - batch_mean.view(shape)) / batch_std.view(shape)
    deviation = ((eval_norm - batch_norm) ** 2).mean(dims).sqrt()  # noqa: NAN204 (measured, not differentiated)
    finite = torch.isfinite(running_mean.sum() + running_var.sum() + data.sum()).to(torch.float64)
    (usable, smallest_std, mean_shift, mean_channel, low, high, largest, channel) = torch.stack([
        finite, running_std.min(), shift.max(), shift.argmax().to(torch.float64), ratio.min(), ratio.max(),
        deviation.max(), deviation.argmax().to(torch.float64)]).tolist()
    if not usable or smallest_std <= 0:
        return None
    tracked = module.num_batches_tracked
    return BatchNormStats(
        path=path,
        count=int(data.numel() // max(data.shape[1], 1)),
        mean_shift=mean_shift,
        mean_channel=int(mean_channel),
        std_ratio_low=low,
        std_ratio_high=high,
        deviation=largest,
        channel=int(channel),
        never_updated=tracked is not None and int(tracked) == 0,
    )


class Recorder:
    """Forward hooks on the BatchNorms with running statistics, active in an eval run."""

    def __init__(self, model: nn.Module) -> None:
        self.stats: dict[str, BatchNormStats] = {}
        self._layers = {m: p for p, m in model.named_modules() if has_running_stats(m)}

    def hook(self) -> list[Any]:
        return [m.register_forward_hook(self._record) for m in self._layers]

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        path = self._layers[module]
        if path in self.stats or module.training or not args or not isinstance(args[0], torch.Tensor):
            return
        with torch.no_grad(), unobserved():
            measured = measure(path, module, args[0])  # type: ignore[arg-type]
        if measured is not None:
            self.stats[path] = measured


@contextlib.contextmanager
def batch_statistics(model: nn.Module, paths: set[str]) -> Iterator[None]:
    """These BatchNorms normalize with the batch's statistics without updating their own."""
    layers = [m for p, m in model.named_modules() if p in paths and isinstance(m, _BatchNorm)]
    saved = [(m, m.training, m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None
              else None) for m in layers]
    try:
        for module in layers:
            module.train()
            # momentum 0 keeps the running statistics as they are (momentum None would average).
            module.momentum = 0.0
        yield
    finally:
        for module, training, momentum, tracked in saved:
            module.train(training)
            module.momentum = momentum
            if tracked is not None and module.num_batches_tracked is not None:
                module.num_batches_tracked.copy_(tracked)


@dataclass(frozen=True)
class Attribution:
    # ||eval output - output with the layers on batch statistics|| / ||the latter||; inf when
    # the eval output is non-finite and the other is not.
    change: float
    eval_finite: bool
    batch_finite: bool

    def describe(self) -> str:
        if not self.eval_finite and self.batch_finite:
            return "the model's eval output is non-finite, and finite with batch statistics in these layers"
        size = f"{self.change:.0%}" if self.change < 10 else f"{self.change:.3g} times its size"
        return f"with batch statistics in these layers the model's eval output changes by {size}"


def output_change(eval_output: Any, batch_output: Any) -> Attribution:
    eval_finite, batch_finite = all_finite(eval_output), all_finite(batch_output)
    if not eval_finite or not batch_finite:
        change = math.inf if eval_finite != batch_finite else 0.0
        return Attribution(change, eval_finite, batch_finite)
    numerator = denominator = 0.0
    for a, b in zip(float_tensors(eval_output), float_tensors(batch_output)):
        if a.shape != b.shape:
            continue
        numerator += float((a.double() - b.double()).pow(2).sum())
        denominator += float(b.double().pow(2).sum())
    change = math.sqrt(numerator / denominator) if denominator > 0 else (0.0 if numerator == 0 else math.inf)
    return Attribution(change, eval_finite, batch_finite)
