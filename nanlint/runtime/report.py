"""A probe's results as Findings at source lines: NAN601, NAN602, NAN603 and NAN403.

Positions are absolute paths and whole source lines, as the graph analyzer's, so that the
API shows them relative and merges them with static and graph findings of the same code
on the same line. Name, severity and message come from the rule documents.
"""
from __future__ import annotations

import linecache
import math
from dataclasses import dataclass
from typing import Any, Iterable

from nanlint.catalog import load_catalog
from nanlint.findings import Analyzer, Evidence, Finding
from nanlint.runtime.batchnorm import Attribution
from nanlint.runtime.checkpoint import BadTensor
from nanlint.runtime.observe import OpEvent, Site
from nanlint.runtime.probe import ModeRun, ProbeResult
from nanlint.runtime.tensors import TensorSummary


@dataclass(frozen=True)
class Place:
    """Where a finding goes when the probe saw no source line: the target's file, line 1."""

    path: str
    line: int = 1


def finding(code: str, where: Site | Place, fields: dict[str, str], evidence: Iterable[Evidence]) -> Finding:
    meta = load_catalog()[code]
    text = linecache.getline(where.path, where.line).rstrip("\n") if isinstance(where, Site) else ""
    column = len(text) - len(text.lstrip()) + 1 if text.strip() else 1
    end_column = len(text.rstrip()) + 1 if text.strip() else 2
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(**fields),
        path=where.path,
        line=where.line,
        column=column,
        end_line=where.line,
        end_column=max(end_column, column + 1),
        evidence=tuple(evidence),
    )


def _runtime(detail: str, module: str | None = None, node: str | None = None, **extra: Any) -> Evidence:
    return Evidence(Analyzer.RUNTIME, detail, node=node, module=module or None, extra=extra)


def value_name(summary: TensorSummary) -> str:
    kinds = []
    if summary.nan:
        kinds.append("NaN")
    if summary.posinf or summary.neginf:
        kinds.append("Inf")
    return " and ".join(kinds) or "non-finite values"


def _modes_text(modes: list[str], result: ProbeResult) -> str:
    ran = [r.mode for r in result.runs if r.error is None]
    if len(modes) == 1 and len(ran) > 1:
        others = " and ".join(m for m in ran if m not in modes)
        return f"{modes[0]} mode only ({others} mode is finite)"
    return " and ".join(modes) + " mode"


def _module_name(module: str, result: ProbeResult) -> str:
    return module or result.model


# ---------------------------------------------------------------- NAN601


def _cause(event: OpEvent) -> str:
    """Born here, or brought in by a parameter, buffer or model input (an origin has no
    parent event)."""
    assert event.output is not None
    if event.born:
        return f"its inputs are finite, so the {value_name(event.output)} is born here"
    inputs = [label for label, s in event.inputs if s.finite and label.startswith(("input", "argument"))]
    finite = "its input is finite, but " if inputs else ""
    verb = "holds" if len(event.sources) == 1 else "hold"
    return f"{finite}{' and '.join(event.sources)} already {verb} non-finite values"


def _op_detail(run: ModeRun, event: OpEvent, result: ProbeResult) -> str:
    assert event.output is not None
    arguments = "; ".join(f"{label} {s.describe()}" for label, s in event.inputs) or "none"
    parts = [f"{run.mode} mode: `{event.op}` in `{_module_name(event.module, result)}` takes {arguments} "
             f"and returns {event.output.describe()}"]
    if run.first_module is not None:
        first = run.first_module
        parts.append(f"first module with a non-finite output: `{_module_name(first.path, result)}` "
                     f"({first.kind}), input {first.inputs}, output {first.output}")
    if run.events > 1:
        parts.append(f"{run.events} ops output non-finite values in this run")
    return "; ".join(parts)


def nonfinite_outputs(result: ProbeResult, fallback: Place) -> list[Finding]:
    grouped: dict[tuple[Any, ...], list[ModeRun]] = {}
    for run in result.runs:
        if run.error is None and (not run.output_finite or not run.loss_finite):
            origin = run.origin
            key = (origin.site, origin.op, origin.module) if origin else (None, None, None)
            grouped.setdefault(key, []).append(run)
    findings = []
    for (site, op, module), runs in grouped.items():
        modes = [r.mode for r in runs]
        event = runs[0].origin
        if event is None:
            first = runs[0].first_module
            fields = {"op": "?", "module": _module_name(first.path if first else "", result),
                      "value": "non-finite values", "modes": _modes_text(modes, result),
                      "cause": "no torch call the probe saw produced it (a C extension or a non-tensor path)"}
            evidence = [_runtime(f"{r.mode} mode: output non-finite; first module: "
                                 f"{r.first_module.path if r.first_module else 'none'}", modes=[r.mode],
                                 nonfinite=True) for r in runs]
            findings.append(finding("NAN601", fallback, fields, evidence))
            continue
        assert event.output is not None
        fields = {"op": event.op, "module": _module_name(event.module, result), "value": value_name(event.output),
                  "modes": _modes_text(modes, result), "cause": _cause(event)}
        evidence = [_runtime(_op_detail(r, r.origin, result), module=event.module, node=event.op, mode=r.mode,
                             op=event.op, born=r.origin.born, sources=list(r.origin.sources),
                             arguments=[{"argument": label, **s.as_dict()} for label, s in r.origin.inputs],
                             output=r.origin.output.as_dict() if r.origin.output else None, nonfinite=True)
                    for r in runs if r.origin is not None]
        findings.append(finding("NAN601", site or fallback, fields, evidence))
    return findings


# ---------------------------------------------------------------- NAN602


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def nonfinite_state(result: ProbeResult, fallback: Place) -> list[Finding]:
    by_module: dict[str, list[BadTensor]] = {}
    for bad in result.bad_state:
        by_module.setdefault(bad.module, []).append(bad)
    findings = []
    for module, tensors in by_module.items():
        subject = _names([f"{t.kind} `{t.name}`" for t in tensors])
        problem = (f"holds {tensors[0].summary.value_text()} before the model runs" if len(tensors) == 1
                   else "hold NaN/Inf before the model runs")
        fields = {"subject": subject, "problem": problem,
                  "effect": "every value computed from it is non-finite, in train and in eval mode"}
        detail = "; ".join(f"{t.kind} `{t.name}` {t.summary.describe()}" for t in tensors)
        evidence = [_runtime(detail, module=module, tensors=[{"name": t.name, "kind": t.kind, **t.summary.as_dict()}
                                                             for t in tensors], nonfinite=True)]
        findings.append(finding("NAN602", result.site_of(module) or fallback, fields, evidence))
    return findings


def nonfinite_gradients(result: ProbeResult, fallback: Place) -> list[Finding]:
    grouped: dict[tuple[Any, ...], list[ModeRun]] = {}
    for run in result.runs:
        if run.bad_grads:
            backward = run.backward
            forward = backward.forward if backward else None
            key = (forward.site if forward else None, forward.op if forward else None,
                   backward.node if backward else None)
            grouped.setdefault(key, []).append(run)
    findings = []
    for (site, op, node), runs in grouped.items():
        run = runs[0]
        names = [name for name, _, _ in run.bad_grads]
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        value = value_name(run.bad_grads[0][2])
        modes = " and ".join(r.mode for r in runs)
        if node is not None and op is not None:
            problem = (f"is {value} in {modes} mode, born in the backward of `{op}` ({node}) "
                       f"from a finite incoming gradient")
        elif node is not None:
            problem = f"is {value} in {modes} mode, born in the autograd node {node}"
        else:
            problem = f"is {value} in {modes} mode"
        fields = {"subject": f"the gradient of {names[0]}{more}", "problem": problem,
                  "effect": "the forward is finite, but one optimizer step writes the non-finite gradient "
                            "into the weights"}
        evidence = []
        for r in runs:
            grads = "; ".join(f"{name} {s.describe()}" for name, _, s in r.bad_grads)
            backward = r.backward
            born = (f"; the backward of `{op}` turns the incoming gradient {backward.incoming} into "
                    f"{backward.produced} ({r.backward_births} autograd nodes give birth to non-finite "
                    f"gradients)") if backward is not None else ""
            module = backward.forward.module if backward is not None and backward.forward else None
            evidence.append(_runtime(f"{r.mode} mode: gradients {grads}{born}", module=module, node=node,
                                     mode=r.mode, gradients=[{"name": n, **s.as_dict()} for n, _, s in r.bad_grads],
                                     nonfinite=True))
        where = site or result.site_of(run.bad_grads[0][1])
        findings.append(finding("NAN602", where or fallback, fields, evidence))
    return findings


# ---------------------------------------------------------------- NAN603 and NAN403


def _finite_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def divergent_batch_norms(result: ProbeResult, fallback: Place) -> list[Finding]:
    attribution: Attribution | None = result.attribution
    if attribution is None:
        return []
    findings = []
    for stats in result.divergent:
        cause = "; never updated (num_batches_tracked == 0)" if stats.never_updated else ""
        fields = {"module": stats.path, "deviation": f"{stats.deviation:.3g}", "explains": attribution.describe()}
        detail = f"eval mode: {stats.describe()}{cause}; {attribution.describe()}"
        evidence = [_runtime(detail, module=stats.path, **stats.as_dict(),
                             output_change=_finite_number(attribution.change),
                             eval_output_finite=attribution.eval_finite, nonfinite=not attribution.eval_finite)]
        findings.append(finding("NAN603", result.site_of(stats.path) or fallback, fields, evidence))
    return findings


def degenerate_stats(result: ProbeResult, fallback: Place) -> list[Finding]:
    findings = []
    for stats in result.degenerate:
        fields = {"module": stats.module, "problem": stats.problem, "effect": stats.effect}
        detail = f"{stats.problem}; only in eval mode, where BatchNorm uses its running statistics"
        evidence = [_runtime(detail, module=stats.module, **stats.extra, nonfinite=stats.nonfinite)]
        findings.append(finding("NAN403", result.site_of(stats.module) or fallback, fields, evidence))
    return findings


def probe_findings(result: ProbeResult, fallback: Place) -> list[Finding]:
    return [
        *nonfinite_outputs(result, fallback),
        *nonfinite_state(result, fallback),
        *nonfinite_gradients(result, fallback),
        *divergent_batch_norms(result, fallback),
        *degenerate_stats(result, fallback),
    ]


def observed_nonfinite(found: Finding) -> bool:
    """Whether the probe saw a NaN/Inf for this finding (what `assert_finite` fails on)."""
    return any(e.analyzer == Analyzer.RUNTIME and e.extra.get("nonfinite") for e in found.evidence)
