"""The command line: formats, exit codes, select/ignore, the default command."""
from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from nanlint.cli import main
from tests.conftest import REPO

EXAMPLES = str(REPO / "examples")
RATIO = str(REPO / "examples" / "ratio_activation.py")
QUIET = str(REPO / "examples" / "deep_mlp.py")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_text_format_is_path_line_col_code_message():
    code, out, _ = run("check", RATIO, "--select", "NAN102")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{RATIO}:18:16: NAN102 normalization by `x.norm(dim=-1, keepdim=True)`")
    assert out.splitlines()[-1] == "Found 1 finding in 1 file (NAN102 x1)."


def test_default_command_is_check():
    assert run(RATIO, "--select", "NAN102")[:2] == run("check", RATIO, "--select", "NAN102")[:2]


def test_json_format_follows_the_contract():
    code, out, _ = run("check", EXAMPLES, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["version"] == 1
    assert report["summary"]["files"] == 5
    assert report["summary"]["findings"] == len(report["findings"])
    assert report["summary"]["by_code"]["NAN301"] >= 3
    finding = next(f for f in report["findings"] if f["code"] == "NAN102")
    assert finding == {
        "code": "NAN102",
        "name": "normalization-without-eps",
        "severity": "error",
        "message": finding["message"],
        "path": RATIO,
        "line": 18,
        "column": 16,
        "end_line": 18,
        "end_column": 48,
        "evidence": [{"analyzer": "static", "detail": finding["evidence"][0]["detail"]}],
        "fix": None,
        "url": finding["url"],
    }
    assert finding["url"].endswith("/rules/NAN102.md")


def test_exit_codes():
    assert run("check", QUIET)[0] == 0
    assert run("check", RATIO)[0] == 1
    assert run("check", RATIO, "--exit-zero")[0] == 0
    code, _, err = run("check", QUIET, "no/such/path.py")
    assert code == 2 and "no/such/path.py: no such file or directory" in err


def test_select_and_ignore_by_prefix():
    assert {json.loads(run("check", RATIO, "--format", "json", "--select", "NAN3")[1])["summary"]["by_code"].get(c) for c in ["NAN301", "NAN102"]} == {2, None}
    ignored = json.loads(run("check", RATIO, "--format", "json", "--ignore", "NAN3")[1])["summary"]["by_code"]
    assert ignored == {"NAN102": 1}


def test_syntax_error_is_reported_and_other_files_still_checked(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "model.py").write_text("import torch\n\ndef f(x):\n    return x / x.sum()\n")
    code, out, _ = run("check", str(tmp_path), "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert sorted((f["path"].rsplit("/", 1)[-1], f["code"]) for f in report["findings"]) == [
        ("broken.py", "NAN001"),
        ("model.py", "NAN102"),
    ]


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "nanlint", "check", QUIET], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "No NaN/Inf hazards found in 1 file." in result.stdout


def test_options_that_would_be_ignored_are_usage_errors():
    shape = run("check", RATIO, "--input-shape", "3,10")
    assert shape[0] == 2 and "describe the inputs of a --trace target" in shape[2]
    named = run("check", RATIO, "--stdin-filename", "m.py")
    assert named[0] == 2 and "--stdin-filename names the text read from stdin" in named[2]
