"""The README's commands and tables stay true."""
from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    command = next(line for line in ci.splitlines() if "pytest" in line and not line.startswith("#"))
    assert command.strip() in (REPO / "README.md").read_text(), "README and .ci/run disagree on the test command"


def test_rule_table_is_fresh():
    result = subprocess.run([sys.executable, "scripts/update_readme.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_document_has_a_one_line_summary():
    for path in sorted((REPO / "rules").glob("NAN*.md")):
        front = path.read_text().split("+++")[1]
        assert re.search(r'^summary = ".+"$', front, re.MULTILINE), f"{path.name}: add summary = \"...\" to its front matter"


def test_sample_output_is_what_nanlint_prints_on_the_examples():
    readme = (REPO / "README.md").read_text()
    sample = readme.split("## What the output looks like", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([sys.executable, "-m", "nanlint", "check", "examples/", "--no-cache"],
                            cwd=REPO, capture_output=True, text=True)
    printed = result.stdout.splitlines()
    shown = [line for line in sample.splitlines() if line != "..."]
    assert shown and all(line in printed for line in shown), "\n".join(line for line in shown if line not in printed)
    assert shown[-1] == printed[-1]
