"""`nanlint probe TARGET`: load (as `nanlint trace` does) -> graph hazards -> probe -> confirm."""
from __future__ import annotations

from typing import Any

import torch.nn as nn

from nanlint.catalog import load_catalog
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Finding
from nanlint.graph import GRAPH_CODES
from nanlint.graph.failure import trace_failed
from nanlint.graph.load import TraceFailure, load_target
from nanlint.graph.pipeline import ModeHazards, hazards_of, to_findings
from nanlint.graph.ranges import Weights
from nanlint.graph.trace import trace_modes
from nanlint.runtime.confirm import Budget, confirm_all, hazard_of
from nanlint.runtime.failure import runtime_failure
from nanlint.runtime.probe import Phases, Thresholds, probe_model
from nanlint.runtime.report import Place, probe_findings


def thresholds(settings: Settings) -> Thresholds:
    """NAN603's options: the rule document's defaults, overridden by the configuration."""
    defaults = load_catalog()["NAN603"].options
    return Thresholds(*(settings.option("NAN603", name, defaults[name])
                        for name in ("max-deviation", "min-output-change", "min-batch-values")))


def target_place(target: TraceTarget) -> Place:
    location = target.target.rpartition(":")[0] if ":" in target.target else target.target
    return Place(location or target.target)


def _graph_findings(
    target: TraceTarget, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[Finding]:
    ranges = dict(enumerate(target.input_ranges or ()))
    weights = Weights()
    try:
        graphs = trace_modes(module, args, kwargs)
    except TraceFailure as failure:
        return [trace_failed(target, f"range analysis skipped: {failure}")]
    per_mode = [ModeHazards("train" if g.training else "eval", hazards_of(g, ranges, weights=weights)) for g in graphs]
    return to_findings(per_mode, GRAPH_CODES, f"<{target.target}>")


def run_target(target: TraceTarget, settings: Settings, confirm: bool, budget: Budget, phases: Phases) -> list[Finding]:
    """Findings of one probe target; raises TraceFailure for NAN002."""
    phases("loading the model")
    loaded = load_target(target)
    if loaded.module is None:
        raise TraceFailure("the probe runs a model in train and in eval mode; a saved exported program has one "
                           "mode frozen in it: analyse it with `nanlint trace`")
    module, args, kwargs = loaded.module, loaded.args, loaded.kwargs
    graph: list[Finding] = []
    if confirm:
        phases("tracing and range analysis")
        graph = _graph_findings(target, module, args, kwargs)
    result = probe_model(module, args, kwargs, loaded.loss, thresholds=thresholds(settings),
                         checkpoint=bool(target.checkpoint), phases=phases)
    findings = probe_findings(result, target_place(target))
    findings += [runtime_failure(target, run.error) for run in result.runs if run.error]
    searchable = [f for f in graph if hazard_of(f) is not None]
    if searchable:
        phases(f"searching inputs that confirm {len(searchable)} range-analysis "
               f"finding{'s' if len(searchable) != 1 else ''}")
        ranges = dict(enumerate(target.input_ranges or ()))
        confirmed = confirm_all(searchable, module, args, kwargs, ranges, budget)
        graph = [f for f in graph if hazard_of(f) is None] + confirmed
    return findings + graph
