"""The graph analyzer: trace a model (torch.fx, torch.export), propagate value ranges with
its real weights, and report the ops that can produce NaN/Inf at their source lines.

Importing this package does not import torch: the submodules that need it are imported
when an analysis runs, so `nanlint` stays torch-free until a trace is asked for.
"""
from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from nanlint.config import Settings, TraceTarget
from nanlint.findings import Finding

if TYPE_CHECKING:
    import torch

# The codes the graph analyzer reports; each has a rule document listing "graph".
GRAPH_CODES: frozenset[str] = frozenset({
    "NAN002", "NAN004", "NAN101", "NAN102", "NAN201", "NAN202", "NAN204", "NAN205", "NAN206", "NAN207",
    "NAN306", "NAN403", "NAN404", "NAN405", "NAN501",
})


def analyze_target(target: TraceTarget, settings: Settings) -> list[Finding]:
    """Findings of one trace target. Never raises: every failure is one NAN002 finding."""
    from nanlint.catalog import load_catalog

    catalog = load_catalog()
    try:
        import torch  # noqa: F401
    except ImportError:
        from nanlint.graph.failure import trace_failed

        findings = [trace_failed(target, "torch is not installed: pip install torch (CPU: torch==2.13.0)")]
    else:
        # The model's own prints go to stderr: stdout is the report (JSON, SARIF).
        with contextlib.redirect_stdout(sys.stderr):
            findings = _run(target)
    return [f for f in findings if settings.enabled(f.code, catalog[f.code].default)]


def _run(target: TraceTarget) -> list[Finding]:
    from nanlint.graph.failure import analyzer_failed, trace_failed
    from nanlint.graph.load import TraceFailure, one_line

    try:
        from nanlint.graph.pipeline import run_target

        return run_target(target, GRAPH_CODES)
    except TraceFailure as failure:
        return [trace_failed(target, str(failure))]
    except SystemExit as error:  # the user's code called sys.exit()
        return [trace_failed(target, f"the model's code exited: {one_line(error)}")]
    except Exception as error:  # a bug of ours, reported (NAN004) instead of crashing the run
        return [analyzer_failed(target, error)]


def analyze_graph(
    graph_module_or_exported_program: Any,
    example_inputs: Sequence[Any] | None = None,
    input_ranges: Sequence[tuple[float, float] | None] | Mapping[int, tuple[float, float]] | None = None,
    dtype: "torch.dtype | None" = None,
) -> list[Finding]:
    """Findings of an `fx.GraphModule` or `torch.export.ExportedProgram` already in hand.

    `example_inputs`, when given, are run through a GraphModule for shapes (an
    ExportedProgram has them). `input_ranges` gives a (low, high) per user input (None
    or missing: float inputs unbounded, integer inputs [0, max)). `dtype` makes every
    floating-point op compute in that dtype (as under `.half()`). Findings name the fx
    node in their evidence; without a recorded stack trace the path is `<graph>` and
    the line is the node's position in the graph.
    """
    from nanlint.graph.pipeline import analyze_object

    return analyze_object(graph_module_or_exported_program, example_inputs, input_ranges, dtype, GRAPH_CODES)


__all__ = ["GRAPH_CODES", "analyze_graph", "analyze_target"]
