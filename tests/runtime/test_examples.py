"""The probe on the bundled examples: `stats_corrupted.py` (train finite, eval NaN at `bn`
and its running_var) and `bn_tiny_batch.py` (batch of one; statistics of a short run)."""
from __future__ import annotations

import pytest

from nanlint.api import probe_targets
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer
from tests.conftest import REPO, needs_torch
from tests.runtime.helpers import runtime_evidence

pytestmark = needs_torch


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_stats_corrupted_eval_nan_names_bn_and_its_running_var(in_repo):
    summary = probe_targets([TraceTarget("examples/stats_corrupted.py:trained_encoder", ((4, 8),))], Settings())
    assert [(f.path, f.line, f.code) for f in summary.findings] == [
        ("examples/stats_corrupted.py", 18, "NAN403"),
        ("examples/stats_corrupted.py", 18, "NAN601"),
    ]
    stats, output = summary.findings
    # The probe's and the range analysis' NAN403 are one finding with both pieces of evidence.
    assert set(stats.analyzers) == {Analyzer.RUNTIME, Analyzer.GRAPH}
    assert "running_var holds NaN/Inf in 4 of 4 channels" in stats.message
    assert output.message.startswith("`batch_norm` in `bn` is the first op to output NaN in eval mode only "
                                     "(train mode is finite)")
    assert "buffer `bn.running_var` (all NaN)" in output.message
    (evidence,) = runtime_evidence(output)
    assert evidence.module == "bn"
    assert evidence.extra["mode"] == "eval"
    assert evidence.extra["born"] is False
    assert evidence.extra["output"]["nan"] == 16
    assert "first module with a non-finite output: `bn` (BatchNorm1d)" in evidence.detail
    # batch_norm and the relu after it; the probe's own checks are not counted.
    assert "2 ops output non-finite values in this run" in evidence.detail


def test_stats_corrupted_is_left_as_it_was(in_repo):
    import torch

    from nanlint.graph.load import load_target
    from nanlint.runtime.probe import probe_model

    loaded = load_target(TraceTarget("examples/stats_corrupted.py:trained_encoder", ((4, 8),)))
    model = loaded.module
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    probe_model(model, loaded.args, loaded.kwargs)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0, equal_nan=True)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_bn_tiny_batch_trained_as_in_the_file_has_statistics_close_to_a_fresh_batch(in_repo):
    summary = probe_targets([TraceTarget("tests/runtime/examples.py:trained_tiny_batch_net")], Settings())
    assert summary.findings == []


def test_bn_tiny_batch_with_a_batch_of_one_fails_in_train_mode_only(in_repo):
    summary = probe_targets([TraceTarget("examples/bn_tiny_batch.py:TinyBatchNet", ((1, 20),))], Settings(),
                            confirm=False)
    (failed,) = summary.findings
    assert failed.code == "NAN002"
    assert "train-mode forward raised ValueError: Expected more than 1 value per channel when training" \
        in failed.message
