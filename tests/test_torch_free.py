"""`import nanlint` and a static run never import torch (a pre-commit hook must not)."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def _blocked_env(tmp_path) -> dict[str, str]:
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text('raise ImportError("torch is blocked by the test")\n')
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    return env


def test_static_run_works_with_torch_unimportable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nanlint", "check", str(REPO / "examples"), "--format", "json"],
        capture_output=True, text=True, env=_blocked_env(tmp_path),
    )
    assert result.returncode == 1, result.stderr
    assert '"NAN401"' in result.stdout and "Traceback" not in result.stderr


def test_import_and_static_api_do_not_load_torch(tmp_path):
    code = (
        "import sys, nanlint\n"
        "nanlint.check_source('import torch\\nx = torch.ones(2)\\ny = x / x.sum()\\n')\n"
        "nanlint.check_paths([sys.argv[1]])\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(REPO / "examples")], capture_output=True, text=True,
                            env=_blocked_env(tmp_path))
    assert result.returncode == 0, result.stderr
