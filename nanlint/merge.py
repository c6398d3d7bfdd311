"""One finding per place and code, with the evidence of every analyzer that saw it."""
from __future__ import annotations

from typing import Iterable

from nanlint.findings import Analyzer, Finding


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """Merge the findings of one code on one source line.

    The static finding keeps its position and message (its span is exact) and gains the
    graph and runtime evidence. Two static findings on one line are two places (two
    columns) and stay apart; graph findings without a static one become one finding.
    """
    groups: dict[tuple[str, int | None, int, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.path, finding.cell, finding.line, finding.code), []).append(finding)
    merged = []
    for group in groups.values():
        static = [f for f in group if Analyzer.STATIC in f.analyzers]
        others = [f for f in group if Analyzer.STATIC not in f.analyzers]
        head, rest = (static[0], others) if static else (others[0], others[1:])
        merged.append(head.with_evidence(tuple(e for f in rest for e in f.evidence)))
        merged.extend(static[1:])
    return sorted(merged, key=Finding.sort_key)
