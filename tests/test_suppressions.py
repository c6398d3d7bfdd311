"""Suppression comments, per-file-ignores and NAN003 unused-suppression."""
from __future__ import annotations


import pytest

from nanlint.api import check_paths, check_source
from nanlint.catalog import load_catalog
from nanlint.config import Settings
from nanlint.findings import Analyzer, Evidence, Finding, Severity
from nanlint.suppressions import find_directives, suppress_mapped
from tests.conftest import expected_markers

HEAD = "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n"


def found(body: str, **settings: object) -> set[tuple[int, str]]:
    source = HEAD + body
    return {(f.line, f.code) for f in check_source(source, "m.py", Settings(**settings))}  # type: ignore[arg-type]


def test_unsuppressed_division_is_reported():
    assert found("    return a / d\n") == {(6, "NAN101")}


@pytest.mark.parametrize(
    "comment",
    ["# noqa: NAN101", "# noqa:NAN101", "# NOQA: NAN101", "# noqa: E501, NAN101", "# noqa: NAN102 NAN101",
     "# nanlint: ignore[NAN101]", "# nanlint: ignore[NAN102, NAN101]", "# nanlint: ignore", "# noqa",
     "# type: ignore  # noqa: NAN101"],
)
def test_line_suppressions(comment):
    findings = found(f"    return a / d  {comment}\n")
    assert (6, "NAN101") not in findings
    # Listing a code that has no finding here is reported, the rest is quiet.
    assert findings <= {(6, "NAN003")}


@pytest.mark.parametrize("comment", ["# noqa: E501", "# noqa: NAN102", "# nanlint: ignore[NAN102]"])
def test_other_codes_do_not_suppress(comment):
    assert (6, "NAN101") in found(f"    return a / d  {comment}\n")


def test_file_level_suppression():
    assert found("    # nanlint: ignore-file[NAN101]\n    return a / d\n") == set()
    assert found("    # nanlint: ignore-file\n    return a / d\n") == set()
    assert (7, "NAN101") in found("    # nanlint: ignore-file[NAN102]\n    return a / d\n")


def test_a_multi_line_finding_is_suppressed_on_its_first_or_last_line():
    assert found("    return (a /\n            d)  # noqa: NAN101\n") == set()
    assert found("    return (a /  # noqa: NAN101\n            d)\n") == set()


def test_a_noqa_inside_a_string_is_not_a_comment():
    assert (6, "NAN101") in found('    return a / d, "# noqa: NAN101"\n')


def test_unused_suppressions_are_reported_with_the_reason():
    findings = check_source(HEAD + "    return a / 2  # noqa: NAN101, NAN999\n", "m.py")
    [unused] = findings
    assert (unused.code, unused.line, unused.column) == ("NAN003", 6, 19)
    assert unused.severity == Severity.WARNING
    assert "no NAN101 finding on this line" in unused.message
    assert "there is no rule NAN999" in unused.message
    assert unused.fix is not None and unused.fix.safe and unused.fix.replacement == ""


def test_a_bare_nanlint_ignore_that_silences_nothing_is_reported():
    assert found("    return a / 2  # nanlint: ignore\n") == {(6, "NAN003")}


def test_a_partly_used_suppression_reports_the_unused_code_only():
    [unused] = check_source(HEAD + "    return a / d  # noqa: NAN101, NAN102\n", "m.py")
    assert "no NAN102 finding" in unused.message and "NAN101" not in unused.message.split("suppresses")[1]
    assert unused.fix is not None and unused.fix.replacement == "# noqa: NAN101"


def test_what_cannot_be_judged_is_not_reported_unused():
    assert found("    return a / 2  # noqa\n") == set()  # every tool's
    assert found("    return a / 2  # noqa: E501\n") == set()  # another tool's
    assert found("    return a / 2  # noqa: NAN002\n") == set()  # graph-only code
    assert found("    return a / 2  # noqa: NAN102\n", select=("NAN101",)) == set()  # not run
    assert found("    return a / 2  # noqa: NAN101\n", ignore=("NAN003",)) == set()


def test_nan003_is_silenced_only_by_naming_it():
    assert found("    return a / 2  # noqa: NAN101, NAN003\n") == set()


def test_a_file_that_does_not_parse_has_no_unused_suppressions():
    assert {f.code for f in check_source("def f(x:\n    return x  # noqa: NAN101\n")} == {"NAN001"}


def test_files_without_a_marker_are_not_tokenized(monkeypatch):
    import tokenize

    def fail(*args: object) -> None:
        raise AssertionError("tokenized a file with no suppression comment")

    monkeypatch.setattr(tokenize, "generate_tokens", fail)
    assert find_directives(HEAD + "    return a / d\n") == []


def test_the_nan003_document_examples():
    meta = load_catalog()["NAN003"]
    for example in meta.examples("bad"):
        assert {(f.line, f.code) for f in check_source(example.code)} == expected_markers(example.code)
    for example in meta.examples("good"):
        assert check_source(example.code) == []


def test_per_file_ignores(tmp_path):
    (tmp_path / "tests").mkdir()
    for name in ("tests/test_m.py", "m.py"):
        (tmp_path / name).write_text(HEAD + "    return a / d\n")
    settings = Settings(per_file_ignores=((f"{tmp_path.as_posix()}/tests/**", ("NAN1",)),))
    findings = check_paths([str(tmp_path)], settings).findings
    assert [(f.path.rsplit("/", 1)[-1], f.code) for f in findings] == [("m.py", "NAN101")]


def _graph_finding(path: str, line: int, code: str = "NAN101") -> Finding:
    meta = load_catalog()[code]
    return Finding(code, meta.name, meta.severity, "graph says so", path, line, 1, line, 2,
                   (Evidence(Analyzer.GRAPH, "truediv node", node="truediv", module="act"),))


def test_graph_findings_are_suppressed_by_the_comment_on_their_source_line():
    source = HEAD + "    return a / 2  # noqa: NAN101\n    return b / 3\n"
    static = check_source(source, "m.py")
    assert [f.code for f in static] == ["NAN003"]  # the static run sees no division by zero there
    merged = static + [_graph_finding("m.py", 6), _graph_finding("m.py", 7)]
    after = suppress_mapped(merged, Settings(), lambda path: source)
    # Line 6: the graph finding is silenced and the comment is used after all.
    assert [(f.line, f.code) for f in after] == [(7, "NAN101")]


def test_graph_findings_follow_select_and_per_file_ignores():
    findings = [_graph_finding("m.py", 6)]
    assert suppress_mapped(findings, Settings(ignore=("NAN1",)), lambda path: "") == []
    assert suppress_mapped(findings, Settings(per_file_ignores=(("m.py", ("NAN101",)),)), lambda path: "") == []
    assert suppress_mapped(findings, Settings(), lambda path: None) == findings


def test_markers_inside_strings_and_docstrings_are_not_comments():
    source = (
        'def f(a, b):\n'
        '    """Example:\n\n        y = x / d  # noqa: NAN101\n    """\n'
        "    s = r'\\'# nanlint: ignore'  # a real comment\n"
        '    return a\n'
    )
    assert find_directives(source) == []
    assert check_source(source) == []
