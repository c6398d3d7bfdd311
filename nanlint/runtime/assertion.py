"""`nanlint.assert_finite`: the probe as an assertion for the user's own test suite."""
from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from nanlint.findings import Finding
from nanlint.merge import merge
from nanlint.report import RunSummary
from nanlint.report.text import render
from nanlint.runtime.probe import probe_model
from nanlint.runtime.report import Place, observed_nonfinite, probe_findings


def _split(inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _place(model: nn.Module) -> Place:
    try:
        path = inspect.getsourcefile(type(model))
    except TypeError:  # a class defined in C or in the interpreter
        path = None
    return Place(path or f"<{type(model).__name__}>")


def _shown(found: Finding) -> Finding:
    if found.path.startswith("<"):
        return found
    try:
        return replace(found, path=str(Path(found.path).resolve().relative_to(Path.cwd())))
    except ValueError:
        return found


def check_finite(
    model: nn.Module, inputs: Any, modes: tuple[str, ...], loss: Callable[[Any], torch.Tensor] | None
) -> None:
    args, kwargs = _split(inputs)
    result = probe_model(model, args, kwargs, loss, modes)
    findings = merge(_shown(f) for f in probe_findings(result, _place(model)))
    errors = [run.error for run in result.runs if run.error]
    if not errors and not any(observed_nonfinite(f) for f in findings):
        return
    failing = [run.mode for run in result.runs if run.error or run.went_nonfinite]
    finite = [mode for mode in modes if mode not in failing]
    name = type(model).__name__
    if failing:
        heading = f"{name} is not finite in {' and '.join(failing)} mode"
        heading += f" ({' and '.join(finite)} mode is finite)" if finite else ""
    else:  # the runs were finite, but a parameter or buffer holds NaN/Inf
        heading = f"{name} holds NaN/Inf in its parameters or buffers ({' and '.join(modes)} mode runs finite)"
    lines = [f"nanlint.assert_finite: {heading}"]
    lines += [f"  {error}" for error in errors]
    report = render(RunSummary(files=1, findings=findings)).splitlines()
    lines += report[:-1] if findings else []
    raise AssertionError("\n".join(lines))
