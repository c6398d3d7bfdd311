"""Trace Python source written to a temporary file, as a user's model file would be."""
from __future__ import annotations

import textwrap
from pathlib import Path

from nanlint.config import Settings, TraceTarget
from nanlint.findings import Finding
from nanlint.graph import analyze_target


def write_model(tmp_path: Path, source: str, name: str = "model_under_test.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def trace_source(
    tmp_path: Path,
    source: str,
    attr: str = "model",
    shapes: tuple[tuple[int, ...], ...] | None = None,
    ranges: tuple[tuple[float, float], ...] | None = None,
    name: str = "model_under_test.py",
) -> list[Finding]:
    path = write_model(tmp_path, source, name)
    return analyze_target(TraceTarget(f"{path}:{attr}", shapes, ranges), Settings())


def lines_codes(findings: list[Finding]) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in findings}
