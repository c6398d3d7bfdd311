"""Output formats: SARIF (validated against the official schema), GitHub annotations,
the text report's source snippet and colours, --statistics, --output-file."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from nanlint import cli
from nanlint.api import check_source
from nanlint.catalog import load_catalog
from nanlint.cli import main
from nanlint.findings import Analyzer, Evidence, Finding, Severity
from nanlint.report import RunSummary, github, sarif, text
from tests.conftest import REPO

# A copy of ../shared/schemas/ (OASIS SARIF 2.1.0), so the tests run from any checkout.
SARIF_SCHEMA = REPO / "tests" / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"

SOURCE = "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n    return a / d  # noqa: NAN102\n"


@pytest.fixture
def summary() -> RunSummary:
    static = check_source(SOURCE, "src/m.py")  # NAN101 and a NAN003 with a fix
    meta = load_catalog()["NAN101"]
    in_cell = Finding("NAN101", meta.name, Severity.ERROR, "in a notebook", "/abs/nb.ipynb", 2, 5, 2, 9,
                      (Evidence(Analyzer.GRAPH, "truediv", node="truediv", module="act"),), cell=3)
    return RunSummary(files=2, findings=[*static, in_cell], errors=["missing.py: no such file or directory"])


def test_sarif_is_valid_sarif_2_1_0(summary):
    schema = json.loads((SARIF_SCHEMA).read_text())
    document = json.loads(sarif.render(summary))
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(document), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])


def test_sarif_carries_rule_metadata_locations_and_fixes(summary):
    run = json.loads(sarif.render(summary))["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(load_catalog())
    nan101 = next(r for r in rules if r["id"] == "NAN101")
    assert nan101["helpUri"] == load_catalog()["NAN101"].url
    assert nan101["name"] == "unguarded-division"
    assert "## Why does it produce NaN/Inf?" in nan101["help"]["markdown"]
    division, unused, cell = run["results"]
    assert rules[division["ruleIndex"]]["id"] == "NAN101"
    location = division["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "src/m.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 6, "startColumn": 12, "endLine": 6, "endColumn": 17}
    assert unused["ruleId"] == "NAN003" and unused["level"] == "warning"
    [replacement] = unused["fixes"][0]["artifactChanges"][0]["replacements"]
    assert replacement["insertedContent"] == {"text": ""}
    assert cell["properties"]["cell"] == 3
    assert cell["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "file:///abs/nb.ipynb"}
    assert run["invocations"][0]["executionSuccessful"] is False


def test_github_annotations(summary):
    lines = github.render(summary).splitlines()
    assert lines[0].startswith("::error file=src/m.py,line=6,col=12,endColumn=17,title=NAN101 unguarded-division::division by `d`")
    assert lines[1].startswith("::warning file=src/m.py,line=6,col=19,endColumn=33,title=NAN003 unused-suppression::")
    assert lines[2] == "::error file=/abs/nb.ipynb,line=2,col=5,endColumn=9,title=NAN101 unguarded-division::cell 3, line 2: in a notebook"
    assert lines[3] == "::error title=nanlint::missing.py: no such file or directory"


def test_github_escapes_what_would_end_the_command():
    meta = load_catalog()["NAN101"]
    finding = Finding("NAN101", meta.name, Severity.ERROR, "100% bad\nsecond line", "a,b:c.py", 1, 1, 3, 2)
    [line] = github.render(RunSummary(1, [finding])).splitlines()
    assert line == "::error file=a%2Cb%3Ac.py,line=1,col=1,endLine=3,title=NAN101 unguarded-division::100%25 bad%0Asecond line"


def test_text_snippet_puts_a_caret_under_the_span():
    [finding] = [f for f in check_source(SOURCE, "m.py") if f.code == "NAN101"]
    assert text.snippet(finding, "    return a / d  # noqa: NAN102") == [
        "    |",
        "  6 |     return a / d  # noqa: NAN102",
        "    |            ^^^^^",
    ]
    tabbed = Finding(**{**finding.__dict__, "column": 3, "end_column": 4})
    assert text.snippet(tabbed, "\t\tx / d")[2] == "    | \t\t^"
    multi = Finding(**{**finding.__dict__, "end_line": 7, "end_column": 2})
    assert text.snippet(multi, "    return a / d")[2] == "    |            ^^^^^"


def _render_for(monkeypatch, *, tty: bool, no_color: str | None, output_file: str | None = None):
    class Stdout:
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr(cli.sys, "stdout", Stdout())
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    return cli._render("text", output_file)


def test_text_on_a_terminal_shows_source_and_colours(monkeypatch, tmp_path):
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    findings = RunSummary(1, [f for f in check_source(SOURCE, str(path)) if f.code == "NAN101"])
    coloured = _render_for(monkeypatch, tty=True, no_color=None)(findings)
    assert "\x1b[" in coloured and "  6 |     return a / d" in coloured
    plain_tty = _render_for(monkeypatch, tty=True, no_color="1")(findings)
    assert "\x1b[" not in plain_tty and "  6 |     return a / d" in plain_tty
    piped = _render_for(monkeypatch, tty=False, no_color=None)(findings)
    assert "\x1b[" not in piped and " | " not in piped
    to_file = _render_for(monkeypatch, tty=True, no_color=None, output_file=str(tmp_path / "out.txt"))(findings)
    assert "\x1b[" not in to_file and " | " not in to_file


def test_statistics(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(SOURCE + "    return b / d\n")
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(path), "--statistics"])
    assert result.exit_code == 1
    assert result.output.splitlines() == ["2  NAN101  unguarded-division", "1  NAN003  unused-suppression  (1 fixable)"]
    as_json = runner.invoke(main, ["check", str(path), "--statistics", "--format", "json"])
    assert json.loads(as_json.output) == [
        {"code": "NAN101", "name": "unguarded-division", "count": 2, "fixable": 0},
        {"code": "NAN003", "name": "unused-suppression", "count": 1, "fixable": 1},
    ]
    bad = runner.invoke(main, ["check", str(path), "--statistics", "--format", "sarif"])
    assert bad.exit_code == 2 and "--statistics" in bad.output


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github"])
def test_output_file(tmp_path, output_format):
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    out = tmp_path / "report.out"
    result = CliRunner().invoke(main, ["check", str(path), "--format", output_format, "--output-file", str(out)])
    assert result.exit_code == 1 and result.output == ""
    assert "NAN101" in out.read_text()


def test_cli_sarif_of_the_examples_is_valid():
    schema = json.loads((SARIF_SCHEMA).read_text())
    result = CliRunner().invoke(main, ["check", str(Path(__file__).parent.parent / "examples"), "--format", "sarif"])
    document = json.loads(result.output)
    assert document["runs"][0]["results"]
    jsonschema.Draft4Validator(schema).validate(document)


def test_summary_line_tells_safe_from_unsafe_fixes():
    source = (
        "import torch\n\n\ndef f(x, y):\n"
        "    a = torch.acos(torch.cosine_similarity(x, y))\n"
        "    return a, torch.log(torch.softmax(x, -1))\n"
    )
    rendered = text.render(RunSummary(files=1, findings=check_source(source, "m.py")), show_source=False)
    assert rendered.splitlines()[-1] == (
        "Found 2 findings in 1 file (NAN202 x1, NAN206 x1). 1 fixable with --fix. 1 more fixable with --unsafe-fixes."
    )
