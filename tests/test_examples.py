"""The bundled examples give what their docstrings promise (issue 2's real input)."""
from __future__ import annotations

from nanlint.api import check_paths
from nanlint.config import Settings
from tests.conftest import REPO


def _found(name: str) -> set[tuple[int, str]]:
    summary = check_paths([str(REPO / "examples" / name)], Settings())
    return {(f.line, f.code) for f in summary.findings}


def test_ratio_activation():
    # The unguarded norm division, and the 1e-8 guards that are 0.0 in float16.
    assert _found("ratio_activation.py") == {(18, "NAN102"), (13, "NAN301"), (40, "NAN301")}


def test_ratio_activation_float16_message_names_the_value():
    summary = check_paths([str(REPO / "examples" / "ratio_activation.py")], Settings())
    eps = [f for f in summary.findings if f.code == "NAN301" and f.line == 13][0]
    assert "0.0 in float16" in eps.message and "1e-8" in eps.message


def test_mixed_precision():
    found = _found("mixed_precision.py")
    assert {(17, "NAN301"), (31, "NAN301")} <= found


def test_bn_tiny_batch():
    assert _found("bn_tiny_batch.py") == {(25, "NAN401")}


def test_deep_mlp_is_quiet():
    assert _found("deep_mlp.py") == set()


def test_stats_corrupted_is_quiet_statically():
    # Its hazard is in the trained weights: only tracing (NAN403) can see it.
    assert _found("stats_corrupted.py") == set()
