"""GRAPH_CODES and the rule documents agree; `import nanlint.graph` stays torch-free."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from nanlint.catalog import load_catalog
from nanlint.graph import GRAPH_CODES
from tests.conftest import REPO


def test_graph_codes_match_the_documents_listing_graph():
    documented = {meta.code for meta in load_catalog().values() if "graph" in meta.analyzers}
    assert documented == set(GRAPH_CODES)


def test_importing_the_graph_package_does_not_import_torch(tmp_path):
    poison = tmp_path / "torch"
    poison.mkdir()
    (poison / "__init__.py").write_text("raise ImportError('torch must not be imported')\n")
    code = textwrap.dedent(
        """
        import sys
        import nanlint, nanlint.graph
        from nanlint.config import Settings, TraceTarget
        assert "torch" not in sys.modules or sys.modules["torch"] is None
        findings = nanlint.graph.analyze_target(TraceTarget("x.py:M", ((2, 3),)), Settings())
        assert [f.code for f in findings] == ["NAN002"], findings
        assert "torch is not installed" in findings[0].message
        assert hasattr(nanlint, "analyze_graph")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
        env={"PYTHONPATH": f"{poison.parent}:{REPO}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
