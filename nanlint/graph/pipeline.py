"""Load -> trace (train and eval) -> ranges -> hazards -> Findings with source lines."""
from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import fx

from nanlint.catalog import load_catalog
from nanlint.config import TraceTarget
from nanlint.findings import Analyzer, Evidence, Finding
from nanlint.graph.hazards import Hazard, find_hazards
from nanlint.graph.ir import Graph, Op, from_exported, from_graph_module
from nanlint.graph.load import load_target
from nanlint.graph.ranges import Weights, analyze
from nanlint.graph.trace import trace_modes


@dataclass
class ModeHazards:
    mode: str  # "eval", "train", or "graph" for a single given graph
    hazards: list[Hazard]


def hazards_of(
    graph: Graph,
    input_ranges: Mapping[int, tuple[float, float]] | None = None,
    dtype: torch.dtype | None = None,
    weights: Weights | None = None,
) -> list[Hazard]:
    return find_hazards(analyze(graph, input_ranges, dtype, weights))


def run_target(target: TraceTarget, graph_codes: frozenset[str]) -> list[Finding]:
    """Findings of one trace target; raises TraceFailure for NAN002."""
    loaded = load_target(target)
    ranges = {i: r for i, r in enumerate(target.input_ranges or ())}
    weights = Weights()
    if loaded.program is not None:
        graph = from_exported(loaded.program, training=False)
        per_mode = [ModeHazards("graph", hazards_of(graph, ranges, weights=weights))]
        fallback = f"<{target.target}>"
    else:
        assert loaded.module is not None
        graphs = trace_modes(loaded.module, loaded.args, loaded.kwargs)
        per_mode = [ModeHazards("train" if g.training else "eval", hazards_of(g, ranges, weights=weights))
                    for g in graphs]
        fallback = f"<{target.target}>"
    return to_findings(per_mode, graph_codes, fallback)


def graph_from_object(graph_or_program: Any, example_inputs: Sequence[Any] | None) -> Graph:
    if isinstance(graph_or_program, torch.export.ExportedProgram):
        return from_exported(graph_or_program, training=False)
    if isinstance(graph_or_program, fx.GraphModule):
        if example_inputs is not None:
            from torch.fx.passes.shape_prop import ShapeProp

            with torch.no_grad():
                ShapeProp(graph_or_program).propagate(*example_inputs)
        return from_graph_module(graph_or_program, training=graph_or_program.training)
    raise TypeError(f"analyze_graph takes an fx.GraphModule or an ExportedProgram, not "
                    f"{type(graph_or_program).__name__}")


def analyze_object(
    graph_or_program: Any,
    example_inputs: Sequence[Any] | None,
    input_ranges: Sequence[tuple[float, float] | None] | Mapping[int, tuple[float, float]] | None,
    dtype: torch.dtype | None,
    graph_codes: frozenset[str],
) -> list[Finding]:
    graph = graph_from_object(graph_or_program, example_inputs)
    if isinstance(input_ranges, Mapping):
        ranges = dict(input_ranges)
    else:
        ranges = {i: r for i, r in enumerate(input_ranges or ()) if r is not None}
    per_mode = [ModeHazards("graph", hazards_of(graph, ranges, dtype))]
    return to_findings(per_mode, graph_codes, "<graph>")


# ---------------------------------------------------------------- findings


def _key(hazard: Hazard) -> tuple[Any, ...]:
    op = hazard.op
    where: tuple[Any, ...] = (op.location.path, op.location.line) if op.location else (op.name,)
    return (hazard.code, *where, op.module, op.kind)


def _mode_note(modes: list[str], all_modes: list[str]) -> str:
    if len(all_modes) < 2 or len(modes) == len(all_modes):
        return ""
    return f" (only in {modes[0]} mode)"


def to_findings(per_mode: Iterable[ModeHazards], graph_codes: frozenset[str], fallback_path: str) -> list[Finding]:
    per_mode = list(per_mode)
    all_modes = [m.mode for m in per_mode]
    combined: dict[tuple[Any, ...], tuple[Hazard, list[str]]] = {}
    for entry in per_mode:
        for hazard in entry.hazards:
            key = _key(hazard)
            if key in combined:
                if entry.mode not in combined[key][1]:
                    combined[key][1].append(entry.mode)
            else:
                combined[key] = (hazard, [entry.mode])
    return [_finding(hazard, modes, all_modes, fallback_path)
            for hazard, modes in combined.values() if hazard.code in graph_codes]


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _finding(hazard: Hazard, modes: list[str], all_modes: list[str], fallback_path: str) -> Finding:
    meta = load_catalog()[hazard.code]
    op: Op = hazard.op
    if op.location is not None:
        path, line = op.location.path, op.location.line
        text = linecache.getline(path, line).rstrip("\n")
        column = len(text) - len(text.lstrip()) + 1 if text.strip() else 1
        end_column = len(text.rstrip()) + 1 if text.strip() else 2
    else:
        path, line, column, end_column = fallback_path, max(op.position, 1), 1, 2
    note = "" if hazard.code == "NAN403" else _mode_note(modes, all_modes)
    extra = {"op": op.kind, "modes": modes, **hazard.extra}
    evidence = Evidence(Analyzer.GRAPH, hazard.detail + note, node=op.name, module=op.module or None, extra=extra)
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.message.format_map(_Fields(hazard.fields)),
        path=path,
        line=line,
        column=column,
        end_line=line,
        end_column=max(end_column, column + 1),
        evidence=(evidence,),
    )
