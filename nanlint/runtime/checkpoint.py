"""The model's state as loaded (its own weights or a `--checkpoint`), before it runs.

`NAN602`: parameters and buffers that hold NaN/Inf. `NAN403`: BatchNorm running
statistics that make eval mode non-finite or explode: non-finite, `running_var + eps`
not positive, or a running_var so small next to eps that 1/sqrt(var + eps) amplifies by
100x or more (in a float16/bfloat16 BatchNorm, with the deviation that then overflows).
BatchNorm running_mean/running_var are NAN403's, so NAN602 does not report them twice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from nanlint.runtime.batchnorm import has_running_stats
from nanlint.runtime.tensors import TensorSummary, is_finite, summarize

# An amplification 1/sqrt(running_var + eps) from which a running_var counts as degenerate.
AMPLIFICATION = 100.0


@dataclass(frozen=True)
class BadTensor:
    """A parameter or buffer holding NaN/Inf (NAN602)."""

    name: str
    kind: str  # "parameter" | "buffer"
    module: str
    summary: TensorSummary


@dataclass(frozen=True)
class DegenerateStats:
    """A BatchNorm whose running statistics break eval mode (NAN403)."""

    module: str
    problem: str
    effect: str
    nonfinite: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _owner(name: str) -> str:
    return name.rpartition(".")[0]


def nonfinite_state(model: nn.Module) -> list[BadTensor]:
    running_stats = {f"{path}.{attr}".lstrip(".") for path, m in model.named_modules() if has_running_stats(m)
                     for attr in ("running_mean", "running_var")}
    found = []
    for kind, named in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, tensor in named:
            if name not in running_stats and not is_finite(tensor):
                found.append(BadTensor(name, kind, _owner(name), summarize(tensor)))
    return found


def degenerate_running_stats(model: nn.Module) -> list[DegenerateStats]:
    found = []
    for path, module in model.named_modules():
        if has_running_stats(module):
            problem = _check(path, module)
            if problem is not None:
                found.append(problem)
    return found


def _check(path: str, module: Any) -> DegenerateStats | None:
    var = module.running_var.detach()
    dtype = var.dtype
    eps = float(module.eps)
    variance = var.to(torch.float64).reshape(-1)
    mean = module.running_mean.detach().to(torch.float64).reshape(-1)
    channels = variance.numel()
    bad_var = int((~torch.isfinite(variance)).sum())
    bad_mean = int((~torch.isfinite(mean)).sum())
    extra: dict[str, Any] = {"channels": channels, "nonfinite_var": bad_var, "nonfinite_mean": bad_mean,
                             "dtype": str(dtype).replace("torch.", "")}
    if bad_var or bad_mean:
        problems = [f"{name} holds NaN/Inf in {count} of {channels} channels"
                    for name, count in (("running_var", bad_var), ("running_mean", bad_mean)) if count]
        return DegenerateStats(path, "; ".join(problems), "is NaN in those channels", True, extra)
    smallest = float(variance.min()) if channels else 1.0
    if smallest + eps <= 0:
        return DegenerateStats(path, f"running_var + eps is {smallest + eps:.3g}",
                               "divides by sqrt of a non-positive number: Inf or NaN", True, extra)
    amplification = 1.0 / math.sqrt(smallest + eps)
    if smallest >= eps or amplification < AMPLIFICATION:
        return None
    tiny = int((variance < eps).sum())
    problem = (f"running_var is {smallest:.3g} next to eps {eps:.3g} in {tiny} of {channels} channels, "
               f"an amplification 1/sqrt(var+eps) of {amplification:.3g}x")
    effect = f"multiplies any deviation from the running mean by up to {amplification:.3g}x"
    if dtype in (torch.float16, torch.bfloat16):
        type_name = extra["dtype"]
        limit = torch.finfo(dtype).max / amplification
        if float(torch.tensor(eps, dtype=dtype)) == 0.0:
            problem += f"; eps {eps:.3g} is 0 in {type_name}"
        effect += f", and a deviation above {limit:.3g} overflows {type_name} to inf"
    extra["amplification"] = amplification
    return DegenerateStats(path, problem, effect, False, extra)
