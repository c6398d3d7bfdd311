"""nanlint: find the code and model states that make PyTorch produce NaN or Inf.

The public API. Importing it never imports torch; the graph analysis imports torch
when it is called. Importing it does not import libcst either: `check_paths` and
`check_source` load their modules on first use, so the command line starts fast and a
run answered from the cache never loads the parser.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer, Evidence, Finding, Fix, Severity

if TYPE_CHECKING:
    from nanlint.api import check_paths, check_source
    from nanlint.graph import analyze_graph

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
    "assert_finite",
    "check_paths",
    "check_source",
]


def __getattr__(name: str) -> object:
    # Lazy, so that `import nanlint` never imports the graph analyzer (nor torch) nor libcst.
    if name in ("check_paths", "check_source"):
        from nanlint import api

        return getattr(api, name)
    if name == "analyze_graph":
        from nanlint.graph import analyze_graph

        return analyze_graph
    if name == "assert_finite":
        from nanlint.runtime import assert_finite

        return assert_finite
    raise AttributeError(f"module 'nanlint' has no attribute {name!r}")
