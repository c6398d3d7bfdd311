"""A rule that raises on one file is NAN004 naming the rule and the file; the other
rules and files are still checked, and the run exits 2.

The failing rules are injected next to the real ones (`ALL_RULES`), so the engine runs
them in the same walk as every shipped check.
"""
from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

import nanlint.source.checks as checks
import nanlint.source.engine as engine
from nanlint.api import check_paths
from nanlint.cli import main
from nanlint.source.rule import StaticRule

HAZARD = "import torch\n\n\ndef f(x, mask):\n    return x / x.sum() + mask.float().log()\n"  # NAN102, NAN201


class FailsOnCalls(StaticRule):
    codes = ("NAN201",)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.path.endswith("victim.py"):
            raise ZeroDivisionError("injected failure")


class FailsWhenFinishing(StaticRule):
    codes = ("NAN301",)

    def finish(self) -> None:
        if self.ctx.path.endswith("victim.py"):
            raise KeyError("injected at the end")

    def visit_Name(self, node: cst.Name) -> None:
        pass  # a hook, so the engine keeps this check


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "victim.py").write_text(HAZARD)
    (tmp_path / "other.py").write_text(HAZARD)
    return tmp_path


def run(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["check", "--no-cache", "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout)["findings"], result.stderr


def found(findings: list[dict]) -> list[tuple[str, int, str]]:
    return sorted((Path(f["path"]).name, f["line"], f["code"]) for f in findings)


def test_a_rule_raising_in_a_hook_is_nan004_and_everything_else_is_checked(project, monkeypatch):
    monkeypatch.setattr(checks, "ALL_RULES", (*checks.ALL_RULES, FailsOnCalls))
    code, findings, stderr = run(str(project))
    assert code == 2
    assert stderr == ""
    # NAN201 (the real rule) still reports both files, NAN102 too; NAN004 names the
    # failing rule and is placed on the node it failed on (the first call).
    assert found(findings) == [
        ("other.py", 5, "NAN102"), ("other.py", 5, "NAN201"),
        ("victim.py", 5, "NAN004"), ("victim.py", 5, "NAN102"), ("victim.py", 5, "NAN201"),
    ]
    failure = next(f for f in findings if f["code"] == "NAN004")
    assert failure["message"] == (
        "rule NAN201 raised ZeroDivisionError: injected failure on this file; "
        "its findings here are missing, the other rules still ran"
    )
    assert failure["path"] == str(project / "victim.py")
    assert failure["evidence"][0]["detail"].startswith("ZeroDivisionError at test_rule_faults.py:")


def test_a_rule_raising_in_finish_is_nan004(project, monkeypatch):
    monkeypatch.setattr(checks, "ALL_RULES", (*checks.ALL_RULES, FailsWhenFinishing))
    code, findings, _ = run(str(project))
    assert code == 2
    assert [(f["path"].endswith("victim.py"), f["line"]) for f in findings if f["code"] == "NAN004"] == [(True, 1)]
    assert "rule NAN301 raised KeyError: 'injected at the end'" in findings[[f["code"] for f in findings].index("NAN004")]["message"]
    assert {f["code"] for f in findings} == {"NAN004", "NAN102", "NAN201"}


def test_debug_shows_the_rule_s_traceback(project, monkeypatch):
    monkeypatch.setattr(checks, "ALL_RULES", (*checks.ALL_RULES, FailsOnCalls))
    result = CliRunner().invoke(main, ["check", "--no-cache", "--debug", str(project / "victim.py")])
    assert result.exit_code == 2
    assert f"{project / 'victim.py'}: rule NAN201 raised (NAN004)" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise ZeroDivisionError("injected failure")' in result.stderr


def test_the_api_reports_the_same(project, monkeypatch):
    monkeypatch.setattr(checks, "ALL_RULES", (*checks.ALL_RULES, FailsOnCalls))
    summary = check_paths([str(project)])
    assert sorted((Path(f.path).name, f.code) for f in summary.findings if f.code == "NAN004") == [("victim.py", "NAN004")]
    assert sum(f.code == "NAN201" for f in summary.findings) == 2


def test_a_failure_outside_any_rule_is_nan004_for_that_file_only(project, monkeypatch):
    real = engine.analyze_module

    def breaks_on_victim(module, path, settings, rules):  # type: ignore[no-untyped-def]
        if path.endswith("victim.py"):
            raise MemoryError("the engine itself")
        return real(module, path, settings, rules)

    monkeypatch.setattr(engine, "analyze_module", breaks_on_victim)
    code, findings, _ = run("--jobs", "1", str(project))
    assert code == 2
    assert found(findings) == [("other.py", 5, "NAN102"), ("other.py", 5, "NAN201"), ("victim.py", 1, "NAN004")]
    assert findings[-1]["message"].startswith("rule static-analyzer raised MemoryError: the engine itself")
