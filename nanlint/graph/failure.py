"""NAN002 (the target could not be analysed) and NAN004 (the analyzer failed); no torch import."""
from __future__ import annotations

import logging
import traceback

from nanlint.catalog import load_catalog
from nanlint.config import TraceTarget
from nanlint.findings import Analyzer, Evidence, Finding


def _location(target: TraceTarget) -> str:
    location = target.target.rpartition(":")[0] if ":" in target.target else target.target
    return location or target.target


def trace_failed(target: TraceTarget, reason: str) -> Finding:
    """Placed at the target's file (or its module name), line 1."""
    meta = load_catalog()["NAN002"]
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(target=target.target, reason=reason),
        path=_location(target),
        line=1,
        column=1,
        end_line=1,
        end_column=2,
        evidence=(Evidence(Analyzer.GRAPH, reason),),
    )


def analyzer_failed(target: TraceTarget, error: Exception) -> Finding:
    """NAN004: the graph analyzer itself raised on this target."""
    logging.getLogger("nanlint").debug("%s: the graph analyzer raised (NAN004)", target.target, exc_info=error)
    meta = load_catalog()["NAN004"]
    frames = traceback.extract_tb(error.__traceback__)
    origin = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(rule="graph-analyzer", error=text),
        path=_location(target),
        line=1,
        column=1,
        end_line=1,
        end_column=2,
        evidence=(Evidence(Analyzer.GRAPH, f"{text}{origin} (tracing `{target.target}`)"),),
    )
