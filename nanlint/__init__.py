"""nanlint: find the code and model states that make PyTorch produce NaN or Inf.

The public API. Importing it never imports torch; the graph analysis imports torch
when it is called.
"""
from __future__ import annotations

from nanlint.api import check_paths, check_source
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer, Evidence, Finding, Fix, Severity

__version__ = "0.1.0"

__all__ = [
    "Analyzer",
    "Evidence",
    "Finding",
    "Fix",
    "Settings",
    "Severity",
    "TraceTarget",
    "__version__",
    "analyze_graph",
    "check_paths",
    "check_source",
]


def __getattr__(name: str) -> object:
    # Lazy, so that `import nanlint` never imports the graph analyzer (nor torch).
    if name == "analyze_graph":
        from nanlint.graph import analyze_graph

        return analyze_graph
    raise AttributeError(f"module 'nanlint' has no attribute {name!r}")
