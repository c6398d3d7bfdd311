"""Probe Python source written to a temporary file, as a user's model file would be."""
from __future__ import annotations

from pathlib import Path

from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer, Finding
from nanlint.runtime import probe_target
from tests.graph.helpers import write_model


def probe_source(
    tmp_path: Path,
    source: str,
    attr: str = "model",
    name: str = "model_under_test.py",
    confirm: bool = False,
    ranges: tuple[tuple[float, float], ...] | None = None,
) -> list[Finding]:
    path = write_model(tmp_path, source, name)
    return probe_target(TraceTarget(f"{path}:{attr}", None, ranges), Settings(), confirm=confirm)


def runtime_lines(findings: list[Finding]) -> set[tuple[int, str]]:
    """(line, code) of the findings the probe itself made."""
    return {(f.line, f.code) for f in findings if Analyzer.RUNTIME in f.analyzers and Analyzer.GRAPH not in f.analyzers}


def runtime_evidence(found: Finding):
    return [e for e in found.evidence if e.analyzer == Analyzer.RUNTIME]
