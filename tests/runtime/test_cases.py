"""The probe on the real-world cases that have a model (`tests/cases/`, factories in
`cases.py`): the line and code of each runtime finding, and the range-analysis findings a
witness input confirms."""
from __future__ import annotations

import pytest

from nanlint.api import probe_targets
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer
from tests.conftest import REPO, needs_torch
from tests.runtime.helpers import runtime_evidence

pytestmark = needs_torch

# factory -> (case file, {(line, code)} the probe itself reports)
EXPECTED = {
    "scratch_batchnorm_single_sample": ("02_scratch_batchnorm_single_sample.py", {(22, "NAN601")}),
    "masked_log_softmax_empty_row": ("04_masked_log_softmax_empty_row.py", {(10, "NAN601")}),
    "where_log_branch_gradient": ("05_where_log_branch_gradient.py", {(15, "NAN602")}),
    "triplet_euclidean_sqrt_grad": ("06_triplet_euclidean_sqrt_grad.py", {(10, "NAN602")}),
    "gem_pool_odd_root": ("10_gem_pool_odd_root.py", {(15, "NAN601")}),
    # The hazard is in Adam's update (eps 1e-8 is 0 in float16), which a forward and
    # backward does not run: the probe has nothing to say, NAN301 (static) does.
    "adam_eps_in_half": ("12_adam_eps_in_half.py", set()),
    "dice_empty_masks": ("19_dice_empty_masks.py", {(14, "NAN601")}),
    "graph_attention_exp_overflow": ("22_graph_attention_exp_overflow.py", {(10, "NAN601")}),
}


@pytest.fixture(scope="module")
def probed():
    results = {}
    for factory in EXPECTED:
        summary = probe_targets([TraceTarget(f"{REPO}/tests/runtime/cases.py:{factory}")], Settings())
        results[factory] = summary.findings
    return results


@pytest.mark.parametrize("factory", list(EXPECTED))
def test_runtime_findings_at_the_case_line(probed, factory):
    name, expected = EXPECTED[factory]
    runtime_only = {(f.line, f.code) for f in probed[factory] if f.analyzers == (Analyzer.RUNTIME,)}
    assert runtime_only == expected, probed[factory]
    assert all(f.path.endswith(f"tests/cases/{name}") for f in probed[factory] if f.analyzers == (Analyzer.RUNTIME,))


def test_train_only_nan_of_the_single_sample_batch(probed):
    (found,) = [f for f in probed["scratch_batchnorm_single_sample"] if f.code == "NAN601"]
    assert found.message.startswith("`var` in `bn` is the first op to output NaN in train mode only")
    assert "born here" in found.message


def test_nan_gradients_are_born_in_the_backward_of_the_op_on_the_line(probed):
    (where,) = [f for f in probed["where_log_branch_gradient"] if f.code == "NAN602"]
    assert "born in the backward of `log2` (Log2Backward0)" in where.message
    (triplet,) = [f for f in probed["triplet_euclidean_sqrt_grad"] if f.code == "NAN602"]
    assert "born in the backward of `sqrt` (SqrtBackward0)" in triplet.message
    assert "parameter `encoder.0.weight`" in triplet.message


# factory -> the lines of the range-analysis findings a witness input confirms (their codes
# are the graph analyzer's: NAN201/NAN501 for the masked log, NAN207 for the exp...)
CONFIRMED = {
    "masked_log_softmax_empty_row": {10},
    "where_log_branch_gradient": {15},
    "triplet_euclidean_sqrt_grad": {10},
    "gem_pool_odd_root": {15},
    "dice_empty_masks": {14},
    "graph_attention_exp_overflow": {10},
}


@pytest.mark.parametrize("factory", list(CONFIRMED))
def test_range_findings_confirmed_by_a_witness(probed, factory):
    graph = [f for f in probed[factory] if Analyzer.GRAPH in f.analyzers]
    confirmed = {f.line for f in graph if any(e.extra.get("confirmed") for e in runtime_evidence(f))}
    assert confirmed == CONFIRMED[factory], graph
