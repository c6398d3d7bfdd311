"""pre-commit hooks (through `pre-commit try-repo`, as a user runs them) and the flake8 plugin."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanlint.api import check_source
from tests.conftest import REPO

SAMPLE = "import torch\n\n\ndef ratio(a, b):\n    d = a.sum() - b.sum()\n    return a / d\n"


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The hooks and flake8 come from this interpreter's environment; pre-commit keeps its
    # hook environments in a scratch folder, not in the user's cache.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(tmp / "pre-commit-home")
    env.pop("PYTHONPATH", None)
    return env


def _git_repo(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run(["git", "add", "."], cwd=folder, check=True)
    return folder


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hooks")


@pytest.fixture(scope="module")
def hook_repo(scratch) -> Path:
    """The committed HEAD of the repository, as users get it (no work in progress)."""
    clone = scratch / "nanlint-clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    return clone


def test_static_hook_fails_on_a_hazard_through_try_repo(scratch, hook_repo):
    project = _git_repo(scratch / "user", {"model.py": SAMPLE, "clean.py": "x = 1\n"})
    env = _env(scratch)
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "nanlint", "--files", "model.py", "clean.py"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "model.py:6:12: NAN101" in output
    assert "Failed" in output


def test_static_hook_passes_a_clean_file_and_its_environment_has_no_torch(scratch):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    config = f"repos:\n- repo: {REPO}\n  rev: {head}\n  hooks:\n  - id: nanlint\n"
    project = _git_repo(scratch / "clean", {".pre-commit-config.yaml": config, "clean.py": "x = 1\n"})
    env = _env(scratch)
    result = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
    [python] = list(Path(env["PRE_COMMIT_HOME"]).glob("repo*/py_env-*/bin/python"))
    probe = subprocess.run([str(python), "-c", "import nanlint, importlib.util as u; print(u.find_spec('torch'))"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr


def test_trace_hook_runs_the_configured_traces(scratch, hook_repo):
    pyproject = (
        "[tool.nanlint]\n"
        "[[tool.nanlint.trace]]\n"
        "target = 'stats_corrupted.py:trained_encoder'\n"
        "input-shapes = [[4, 8]]\n"
    )
    example = (REPO / "examples" / "stats_corrupted.py").read_text()
    project = _git_repo(scratch / "traced", {"pyproject.toml": pyproject, "stats_corrupted.py": example})
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "nanlint-trace", "--hook-stage", "manual",
         "--all-files"],
        cwd=project, env=_env(scratch), capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "NAN403" in output


def test_flake8_reports_the_same_codes_and_columns_as_the_cli(tmp_path):
    source = SAMPLE + "    # noqa-free line\n\n\ndef g(x):\n    return x / x.norm(dim=-1)  # noqa: NAN101\n"
    path = tmp_path / "model.py"
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "NAN", str(path)], capture_output=True, text=True, env=_env(tmp_path)
    )
    reported = [line.split(" ", 1)[0] + " " + line.split(" ", 2)[1] for line in result.stdout.splitlines()]
    expected = [f"{path}:{f.line}:{f.column}: {f.code}" for f in check_source(source, str(path))]
    assert reported == expected and len(expected) == 3, result.stdout + result.stderr
    # flake8's own selection runs the plugin by default too.
    default = subprocess.run([sys.executable, "-m", "flake8", str(path)], capture_output=True, text=True, env=_env(tmp_path))
    assert f"{path}:6:12: NAN101" in default.stdout


def test_flake8_is_not_imported_by_the_cli_path():
    program = "import sys, nanlint.cli, nanlint.api; print(sorted(m for m in ('flake8', 'pygls', 'jsonschema', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "[]", result.stderr


def test_hook_manifest_is_valid():
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
