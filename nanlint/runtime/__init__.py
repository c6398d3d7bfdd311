"""The runtime probe: run a model forward and backward in train and in eval mode, and say
which op and module first went NaN/Inf, with source lines (NAN601), which parameters,
buffers and gradients are non-finite (NAN602), which BatchNorms make eval differ from
train (NAN603), and which running statistics are degenerate (NAN403). With the range
analysis' findings, it searches for an input that confirms each of them.

Importing this package does not import torch; running a probe does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from nanlint.config import Settings, TraceTarget
from nanlint.findings import Finding

if TYPE_CHECKING:
    import torch

# The codes the probe itself reports; each has a rule document listing "runtime". With
# confirmation on, the graph analyzer's findings come too, with runtime evidence.
RUNTIME_CODES: frozenset[str] = frozenset({"NAN002", "NAN004", "NAN403", "NAN601", "NAN602", "NAN603"})


def probe_target(
    target: TraceTarget,
    settings: Settings,
    confirm: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Findings of probing one target. Never raises: every failure is a NAN002/NAN004 finding.

    `progress` receives a line per phase once the probe has run for more than a second.
    """
    from nanlint.catalog import load_catalog
    from nanlint.runtime.failure import runtime_failure

    try:
        import torch  # noqa: F401
    except ImportError:
        findings = [runtime_failure(target, "torch is not installed: pip install torch (CPU: torch==2.13.0)")]
    else:
        findings = _run(target, settings, confirm, progress)
    catalog = load_catalog()
    return [f for f in findings if settings.enabled(f.code, catalog[f.code].default)]


def _run(
    target: TraceTarget, settings: Settings, confirm: bool, progress: Callable[[str], None] | None
) -> list[Finding]:
    from nanlint.graph.load import TraceFailure, one_line
    from nanlint.runtime.failure import probe_failed, runtime_failure

    try:
        from nanlint.runtime.confirm import Budget
        from nanlint.runtime.pipeline import run_target
        from nanlint.runtime.probe import Phases

        return run_target(target, settings, confirm, Budget(), Phases(progress))
    except TraceFailure as failure:
        return [runtime_failure(target, str(failure))]
    except SystemExit as error:  # the user's code called sys.exit()
        return [runtime_failure(target, f"the model's code exited: {one_line(error)}")]
    except Exception as error:  # a bug of ours, reported (NAN004) instead of crashing the run
        return [probe_failed(target, error)]


def assert_finite(
    model: "torch.nn.Module",
    inputs: Any,
    modes: Sequence[str] = ("train", "eval"),
    loss: Callable[[Any], "torch.Tensor"] | None = None,
) -> None:
    """Run `model` forward and backward in each mode; raise AssertionError with the probe's
    report if an output, the loss, a gradient, a parameter or a buffer is NaN/Inf (or a
    mode raises). `inputs` is a tensor, a tuple of positional inputs or a dict of keyword
    inputs; `loss` maps the output to the scalar to differentiate (default: every float
    output, with a gradient of ones). The model is left as it was.
    """
    from nanlint.runtime.assertion import check_finite

    check_finite(model, inputs, tuple(modes), loss)


__all__ = ["RUNTIME_CODES", "assert_finite", "probe_target"]
