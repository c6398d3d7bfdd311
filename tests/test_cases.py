"""The real-world cases (`tests/cases/`, copies of `../shared/cases/`): each is flagged
at the line and with the code its README names."""
from __future__ import annotations

import pytest

from nanlint.api import check_paths
from nanlint.config import Settings
from tests.conftest import REPO

CASES = REPO / "tests" / "cases"

EXPECTED = [
    ("02_scratch_batchnorm_single_sample.py", 22, "NAN405"),
    ("04_masked_log_softmax_empty_row.py", 10, "NAN201"),
    ("05_where_log_branch_gradient.py", 15, "NAN501"),
    ("06_triplet_euclidean_sqrt_grad.py", 10, "NAN204"),
    ("10_gem_pool_odd_root.py", 15, "NAN205"),
    ("12_adam_eps_in_half.py", 16, "NAN301"),
    ("19_dice_empty_masks.py", 14, "NAN101"),
    ("22_graph_attention_exp_overflow.py", 10, "NAN207"),
]


def _found(name: str) -> set[tuple[int, str]]:
    summary = check_paths([str(CASES / name)], Settings())
    return {(f.line, f.code) for f in summary.findings}


@pytest.mark.parametrize("name, line, code", EXPECTED, ids=[e[0].split("_")[0] for e in EXPECTED])
def test_case_is_flagged_at_its_line(name: str, line: int, code: str):
    assert (line, code) in _found(name)


def test_every_case_file_is_listed():
    assert sorted(p.name for p in CASES.glob("*.py")) == sorted(e[0] for e in EXPECTED)
