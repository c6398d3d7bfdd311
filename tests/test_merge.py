"""One finding per place: static and graph evidence on the same line merge."""
from __future__ import annotations

from nanlint.findings import Analyzer, Evidence, Finding, Severity
from nanlint.merge import merge


def _finding(analyzer: Analyzer, line: int = 18, column: int = 16, code: str = "NAN102") -> Finding:
    return Finding(code, "normalization-without-eps", Severity.ERROR, f"{analyzer.value} says", "m.py",
                   line, column, line, column + 5, (Evidence(analyzer, f"{analyzer.value} detail", module="unit"),))


def test_static_and_graph_on_one_line_are_one_finding():
    (merged,) = merge([_finding(Analyzer.GRAPH, column=1), _finding(Analyzer.STATIC)])
    assert merged.message == "static says" and merged.column == 16
    assert [e.analyzer for e in merged.evidence] == [Analyzer.STATIC, Analyzer.GRAPH]


def test_graph_findings_from_two_modes_merge_into_one():
    (merged,) = merge([_finding(Analyzer.GRAPH), _finding(Analyzer.GRAPH)])
    assert len(merged.evidence) == 2


def test_different_codes_or_lines_stay_apart():
    assert len(merge([_finding(Analyzer.STATIC), _finding(Analyzer.GRAPH, code="NAN101")])) == 2
    assert len(merge([_finding(Analyzer.STATIC), _finding(Analyzer.GRAPH, line=19)])) == 2


def test_two_static_findings_on_one_line_are_two_places():
    merged = merge([_finding(Analyzer.STATIC, column=5), _finding(Analyzer.STATIC, column=30), _finding(Analyzer.GRAPH)])
    assert [(f.column, len(f.evidence)) for f in merged] == [(5, 2), (30, 1)]
