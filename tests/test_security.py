"""nanlint runs no code it was not asked to run, loads weights only, and opens no
network connection.

Every checked file here would create a marker file if it were imported or executed;
the tests assert the markers never appear.
"""
from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nanlint.api import check_paths, check_source, check_text
from nanlint.cli import main
from tests.conftest import REPO, needs_torch


def payload(marker: Path) -> str:
    """Python that leaves `marker` behind when it runs."""
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('this code ran')\n"


def hostile_project(root: Path) -> list[Path]:
    """Files that run code on import, in every form a checked tree can hold them."""
    markers = []

    def marker(name: str) -> Path:
        markers.append(root / f"RAN-{name}")
        return markers[-1]

    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text(payload(marker("package")))
    (root / "pkg" / "model.py").write_text(payload(marker("module")) + "import torch\n\ndef f(x):\n    return x / x.sum()\n")
    (root / "conftest.py").write_text(payload(marker("conftest")))
    (root / "setup.py").write_text(payload(marker("setup")))
    (root / "stubs.pyi").write_text(payload(marker("stub")))
    (root / "broken.py").write_text(payload(marker("broken")) + "def f(:\n")  # the syntax-error path
    cell = {"cell_type": "code", "source": payload(marker("notebook")), "metadata": {}, "outputs": []}
    (root / "analysis.ipynb").write_text(json.dumps({"cells": [cell], "nbformat": 4, "nbformat_minor": 5}))
    return markers


def test_the_static_path_never_imports_or_runs_the_checked_code_cli(tmp_path):
    markers = hostile_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "nanlint", "check", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    assert "pkg/model.py:6:12: NAN102" in done.stdout  # the files were read and analysed
    assert [m.name for m in markers if m.exists()] == []


def test_fixing_never_runs_the_checked_code(tmp_path):
    markers = hostile_project(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", "--fix", "--unsafe-fixes", str(tmp_path)])
    assert result.exit_code in (0, 1), result.output
    assert [m.name for m in markers if m.exists()] == []


def test_the_static_path_never_imports_or_runs_the_checked_code_api(tmp_path):
    markers = hostile_project(tmp_path)
    modules = set(sys.modules)
    summary = check_paths([str(tmp_path)])
    check_source((tmp_path / "pkg" / "model.py").read_text(), "model.py")
    check_text((tmp_path / "analysis.ipynb").read_text(), "analysis.ipynb")
    assert any(f.code == "NAN102" for f in summary.findings)
    assert [m.name for m in markers if m.exists()] == []
    assert not {name for name in set(sys.modules) - modules if name in ("pkg", "pkg.model", "conftest", "setup")}


@needs_torch
def test_configured_trace_targets_are_not_run_by_check(tmp_path):
    marker = tmp_path / "RAN-configured-target"
    (tmp_path / "target.py").write_text(payload(marker) + "import torch\nModel = torch.nn.Identity\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nanlint]\nselect = ["NAN"]\n\n[[tool.nanlint.trace]]\ntarget = "target.py:Model"\ninput-shapes = [[2, 3]]\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "nanlint", "check", "--no-cache", "."], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
    # `nanlint trace` without a TARGET is the explicit request for the configured ones.
    done = subprocess.run([sys.executable, "-m", "nanlint", "trace"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists()


@needs_torch
def test_tracing_runs_only_the_named_target(tmp_path, monkeypatch):
    markers = hostile_project(tmp_path)
    traced = tmp_path / "RAN-traced"
    (tmp_path / "net.py").write_text(payload(traced) + "import torch\nModel = torch.nn.Identity\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["check", "--no-cache", ".", "--trace", "net.py:Model", "--input-shape", "2,3"]
    )
    assert result.exit_code == 1, result.output
    assert traced.exists()
    assert [m.name for m in markers if m.exists()] == []


@needs_torch
def test_probing_runs_only_the_named_target(tmp_path, monkeypatch):
    configured, named = tmp_path / "RAN-configured", tmp_path / "RAN-named"
    (tmp_path / "configured.py").write_text(payload(configured) + "import torch\nModel = torch.nn.Identity\n")
    (tmp_path / "net.py").write_text(payload(named) + "import torch\nModel = torch.nn.Identity\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nanlint]\n\n[[tool.nanlint.trace]]\ntarget = "configured.py:Model"\ninput-shapes = [[2, 3]]\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["probe", "net.py:Model", "--input-shape", "2,3", "--no-confirm"])
    assert result.exit_code == 0, result.output
    assert named.exists()
    assert not configured.exists()


class _Malicious:
    """Unpickling this calls open(marker, "w") (pickled as `io.open`): code run by loading a checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (builtins.open, (str(self.marker), "w"))


@needs_torch
def test_a_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    import torch

    marker = tmp_path / "RAN-checkpoint"
    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)

            def forward(self, x):
                return self.fc(x)
    """))
    torch.save({"fc.weight": _Malicious(marker), "fc.bias": torch.zeros(4)}, tmp_path / "evil.pt")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["trace", "net.py:Model", "--checkpoint", "evil.pt", "--input-shape", "2,8"])
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == (
        "net.py:1:1: NAN002 trace target `net.py:Model` could not be analysed: checkpoint `evil.pt` refused: "
        "it references `io.open`, which a weights-only load does not allow "
        "(unpickling it could run code; nothing in it was run) [graph]"
    )
    assert not marker.exists()
    # The file really is hostile: a full unpickle runs its payload.
    with open(tmp_path / "evil.pt", "rb") as handle:
        torch.load(handle, weights_only=False)
    assert marker.exists()


_NO_NETWORK = '''
import os
import socket

def _refuse(*args, **kwargs):
    with open(os.environ["NANLINT_NETWORK_LOG"], "a") as log:
        log.write(repr(args[1:] if args and isinstance(args[0], socket.socket) else args) + "\\n")
    raise OSError("network access attempted")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.socket.sendto = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
'''


def _offline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run nanlint with every way to reach the network logged and refused (forked workers too)."""
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(_NO_NETWORK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]),
               NANLINT_NETWORK_LOG=str(tmp_path / "network.log"))
    return subprocess.run([sys.executable, "-m", "nanlint", *args], cwd=REPO, env=env, capture_output=True, text=True)


def test_the_guard_catches_a_connection(tmp_path):
    guard = tmp_path / "guard"
    _offline(tmp_path, "rules")
    env = dict(os.environ, PYTHONPATH=str(guard), NANLINT_NETWORK_LOG=str(tmp_path / "network.log"))
    attempt = "import socket\ntry:\n    socket.create_connection(('example.com', 80))\nexcept OSError:\n    pass\n"
    subprocess.run([sys.executable, "-c", attempt], env=env, check=True)
    assert (tmp_path / "network.log").read_text() == "(('example.com', 80),)\n"


def test_a_static_check_opens_no_connection(tmp_path):
    done = _offline(tmp_path, "check", "--no-cache", "--jobs", "2", "examples/")
    assert done.returncode == 1, done.stderr
    assert "examples/ratio_activation.py:18:16: NAN102" in done.stdout
    assert not (tmp_path / "network.log").exists()


@needs_torch
def test_a_trace_opens_no_connection(tmp_path):
    done = _offline(
        tmp_path, "check", "--no-cache", "examples/ratio_activation.py",
        "--trace", "examples/stats_corrupted.py:trained_encoder", "--input-shape", "4,8",
    )
    assert done.returncode == 1, done.stderr
    assert "NAN403" in done.stdout and "NAN102" in done.stdout
    assert not (tmp_path / "network.log").exists()

