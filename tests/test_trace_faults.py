"""Trace faults through the command line: every way a target can fail is one NAN002
with a one-line reason, and the rest of the report (the static findings, the other
targets) is still printed; the exit code is 2 because the asked analysis did not run.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint.cli import main
from tests.conftest import REPO, needs_torch

pytestmark = needs_torch

MODELS = '''
import torch
from torch import nn


class Works(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x) / self.fc(x).norm(dim=-1, keepdim=True)


class ConstructorRaises(nn.Module):
    def __init__(self):
        super().__init__()
        raise ValueError("no config.yaml next to the model")


class ForwardRaises(nn.Module):
    def forward(self, x):
        raise RuntimeError("CUDA is required")


class Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent: symbolic_trace and torch.export both refuse it
            return x * 2
        return x - 1


class ReturnsNothing(nn.Module):
    def forward(self, x):
        self.last = x


class Exits(nn.Module):
    def __init__(self):
        super().__init__()
        raise SystemExit(3)


class Chatty(nn.Module):
    def __init__(self):
        super().__init__()
        print("building the model")
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        print("forward called")
        return self.fc(x)
'''

STATIC = "import torch\n\n\ndef f(x):\n    return x / x.sum()\n"  # NAN102 at 5:12


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models.py").write_text(textwrap.dedent(MODELS))
    (tmp_path / "broken_import.py").write_text("import torch\nimport a_module_nobody_installed\n")
    (tmp_path / "broken_syntax.py").write_text("class Model(:\n    pass\n")
    (tmp_path / "static.py").write_text(STATIC)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(main, ["check", "--no-cache", "--format", "json", *args])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.parametrize(
    ("target", "shape", "reason"),
    [
        ("no_such_module_anywhere:Model", "2,8",
         "cannot import module `no_such_module_anywhere`: ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
        ("broken_import.py:Model", "2,8",
         "importing `broken_import.py` raised ModuleNotFoundError: No module named 'a_module_nobody_installed'"),
        ("broken_syntax.py:Model", "2,8", "importing `broken_syntax.py` raised SyntaxError: invalid syntax"),
        ("models.py:Missing", "2,8", "`models.py` has no attribute `Missing`"),
        ("models.py:ConstructorRaises", "2,8",
         "building `ConstructorRaises()` raised ValueError: no config.yaml next to the model"),
        ("models.py:Exits", "2,8", "building `Exits()` raised SystemExit: 3"),
        ("models.py:ForwardRaises", "2,8", "forward raised RuntimeError: CUDA is required"),
        ("models.py:Untraceable", "2,8",
         "symbolic_trace failed (TraceError: symbolically traced variables cannot be used as inputs to control flow) "
         "and torch.export failed (GuardOnDataDependentSymNode: Could not guard on data-dependent expression"),
        ("models.py:Works", "3,5",
         "forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x5 and 8x4)"),
        ("models.py:Works", None,
         "no example inputs: give --input-shape (one per model input) or a factory returning (model, example_inputs)"),
        ("models.py:ReturnsNothing", "2,8", "forward returned NoneType, not a tensor"),
    ],
    ids=["not-importable", "import-raises", "syntax-error", "attribute-missing", "constructor-raises", "sys-exit",
         "forward-raises", "untraceable", "wrong-shape", "no-inputs", "no-tensor"],
)
def test_each_fault_is_one_nan002_and_the_static_report_is_still_printed(project, target, shape, reason):
    code, report, _ = check("static.py", "--trace", target, *(["--input-shape", shape] if shape else []))
    assert code == 2
    found = {(f["path"], f["code"]) for f in report["findings"]}
    assert ("static.py", "NAN102") in found
    failed = [f for f in report["findings"] if f["code"] == "NAN002"]
    assert len(failed) == 1
    message = failed[0]["message"]
    assert "\n" not in message
    assert message.startswith(f"trace target `{target}` could not be analysed: {reason}")


def test_a_failing_target_does_not_stop_the_next_one(project):
    code, report, _ = check(
        "static.py", "--trace", "models.py:ConstructorRaises", "--trace", "models.py:Works", "--input-shape", "2,8"
    )
    assert code == 2
    codes = sorted((Path(f["path"]).name, f["code"], tuple(e["analyzer"] for e in f["evidence"])) for f in report["findings"])
    assert codes == [
        ("models.py", "NAN002", ("graph",)),
        ("models.py", "NAN102", ("graph",)),  # Works' division by a norm, seen in its graph
        ("static.py", "NAN102", ("static",)),
    ]


def test_the_model_s_prints_do_not_corrupt_the_json_report(project):
    code, report, stderr = check("static.py", "--trace", "models.py:Chatty", "--input-shape", "2,8")
    assert code == 1
    assert [f["code"] for f in report["findings"]] == ["NAN102"]
    assert "building the model" in stderr and "forward called" in stderr


def test_trace_command_reports_the_fault_and_exits_2(project):
    result = CliRunner().invoke(main, ["trace", "models.py:ForwardRaises", "--input-shape", "2,8"])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "models.py:1:1: NAN002 trace target `models.py:ForwardRaises` could not be analysed: "
        "forward raised RuntimeError: CUDA is required [graph]",
        "    graph: forward raised RuntimeError: CUDA is required",
        "Found 1 finding in 1 model (NAN002 x1).",
    ]


def test_a_working_target_after_faults_is_analysed_as_usual(project, monkeypatch):
    monkeypatch.chdir(REPO)
    code, report, _ = check(
        "--trace", str(project / "models.py:ForwardRaises"), "--trace", "examples/stats_corrupted.py:trained_encoder",
        "--input-shape", "4,8",
    )
    assert code == 2
    assert sorted(f["code"] for f in report["findings"]) == ["NAN002", "NAN403"]
