"""`nanlint check - --stdin-filename PATH`: what editor plugins call."""
from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from nanlint.cli import main

SOURCE = "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n    return a / d  # noqa: NAN102\n"


def test_stdin_json_names_the_given_file():
    # A real process, as an editor runs it: text on stdin, JSON on stdout.
    result = subprocess.run(
        [sys.executable, "-m", "nanlint", "check", "-", "--stdin-filename", "src/model.py", "--format", "json"],
        input=SOURCE, capture_output=True, text=True,
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in document["findings"]] == [
        ("src/model.py", 6, 12, "NAN101"), ("src/model.py", 6, 19, "NAN003")
    ]
    assert document["summary"]["files"] == 1


def test_stdin_without_a_name_and_clean_input():
    result = CliRunner().invoke(main, ["check", "-"], input="x = 1\n")
    assert result.exit_code == 0 and "No NaN/Inf hazards found in 1 file." in result.output
    named = CliRunner().invoke(main, ["check", "-"], input=SOURCE)
    assert "<stdin>:6:12: NAN101" in named.output


def test_stdin_uses_the_configuration_and_per_file_ignores_of_the_named_file(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.nanlint]\nper-file-ignores = { 'tests/**' = ['NAN101'] }\n")
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ignored = runner.invoke(main, ["check", "-", "--stdin-filename", str(tmp_path / "tests" / "t.py"), "--format", "json"], input=SOURCE)
    assert [f["code"] for f in json.loads(ignored.output)["findings"]] == ["NAN003"]
    kept = runner.invoke(main, ["check", "-", "--stdin-filename", str(tmp_path / "src.py"), "--format", "json"], input=SOURCE)
    assert [f["code"] for f in json.loads(kept.output)["findings"]] == ["NAN101", "NAN003"]


def test_stdin_notebook():
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["def f(a, b):\n", "    d = a.sum() - b.sum()\n", "    return a / d\n"]}
    text = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    result = CliRunner().invoke(main, ["check", "-", "--stdin-filename", "nb.ipynb", "--format", "json"], input=text)
    [finding] = json.loads(result.output)["findings"]
    assert (finding["cell"], finding["line"], finding["code"]) == (1, 3, "NAN101")


def test_stdin_fix_prints_the_fixed_text():
    runner = CliRunner()
    fixed = runner.invoke(main, ["check", "-", "--fix", "--stdin-filename", "m.py"], input=SOURCE)
    assert fixed.stdout == SOURCE.replace("  # noqa: NAN102", "")
    assert fixed.exit_code == 1  # the division is still there
    diff = runner.invoke(main, ["check", "-", "--diff", "--stdin-filename", "m.py"], input=SOURCE)
    assert "-    return a / d  # noqa: NAN102\n+    return a / d\n" in diff.stdout


def test_stdin_is_checked_alone():
    result = CliRunner().invoke(main, ["check", "-", "other.py"], input=SOURCE)
    assert result.exit_code == 2
