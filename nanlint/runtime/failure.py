"""NAN002 (the probe could not load or run the target) and NAN004 (the probe failed); no torch import."""
from __future__ import annotations

import traceback
from dataclasses import replace

from nanlint.catalog import load_catalog
from nanlint.config import TraceTarget
from nanlint.findings import Analyzer, Evidence, Finding
from nanlint.graph.failure import trace_failed


def runtime_failure(target: TraceTarget, reason: str) -> Finding:
    return replace(trace_failed(target, reason), evidence=(Evidence(Analyzer.RUNTIME, reason),))


def probe_failed(target: TraceTarget, error: Exception) -> Finding:
    """NAN004: a bug of the probe, reported instead of crashing the run."""
    meta = load_catalog()["NAN004"]
    frames = traceback.extract_tb(error.__traceback__)
    origin = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    place = replace(trace_failed(target, text), code=meta.code, name=meta.name, severity=meta.severity,
                    message=meta.format_message(rule="runtime-probe", error=text))
    return replace(place, evidence=(Evidence(Analyzer.RUNTIME, f"{text}{origin} (probing `{target.target}`)"),))
