"""`nanlint probe TARGET`: text and JSON on stdout, progress on stderr, exit codes, and the
merge of its findings with the static analyzer's on the same line."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nanlint.api import check_paths, probe_targets
from nanlint.cli import main
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer
from nanlint.merge import merge
from tests.conftest import REPO, needs_torch

pytestmark = needs_torch


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_probe_text_output_and_exit_code(in_repo):
    result = CliRunner().invoke(main, ["probe", "examples/stats_corrupted.py:trained_encoder",
                                       "--input-shape", "4,8"])
    assert result.exit_code == 1, result.output
    assert "examples/stats_corrupted.py:18:9: NAN601 `batch_norm` in `bn` is the first op to output NaN " \
           "in eval mode only" in result.stdout
    assert "examples/stats_corrupted.py:18:9: NAN403" in result.stdout


def test_probe_json_is_clean_and_progress_goes_to_stderr(in_repo, monkeypatch):
    from nanlint.runtime import probe as probe_module

    # Make every phase "slow" so that the progress lines are printed.
    monkeypatch.setattr(probe_module.Phases, "__init__",
                        lambda self, progress, threshold=1.0: (setattr(self, "_progress", progress),
                                                               setattr(self, "_start", 0.0),
                                                               setattr(self, "_threshold", -1.0))[0])
    result = CliRunner().invoke(main, ["probe", "examples/stats_corrupted.py:trained_encoder",
                                       "--input-shape", "4,8", "--format", "json"])
    document = json.loads(result.stdout)
    codes = [(f["code"], f["line"]) for f in document["findings"]]
    assert codes == [("NAN403", 18), ("NAN601", 18)]
    nan601 = document["findings"][1]
    assert nan601["evidence"][0]["analyzer"] == "runtime" and nan601["evidence"][0]["module"] == "bn"
    assert "nanlint probe: train mode: forward and backward" in result.stderr
    assert "nanlint probe: eval mode: forward and backward" in result.stderr


def test_probe_of_a_missing_target_is_a_clear_error(in_repo):
    result = CliRunner().invoke(main, ["probe", "examples/nope.py:Model", "--input-shape", "2,2"])
    assert result.exit_code == 2
    assert "NAN002 trace target `examples/nope.py:Model` could not be analysed: no such file" in result.stdout
    assert "Traceback" not in result.output


def test_probe_no_confirm_runs_only_the_model(in_repo):
    result = CliRunner().invoke(main, ["probe", "examples/ratio_activation.py:RatioNet", "--input-shape", "3,10",
                                       "--no-confirm"])
    assert result.exit_code == 0, result.output
    assert "No NaN/Inf hazards found" in result.stdout


def test_confirmed_graph_finding_merges_with_the_static_one_on_its_line(in_repo):
    probed = probe_targets([TraceTarget("examples/ratio_activation.py:RatioNet", ((3, 10),))], Settings())
    static = check_paths(["examples/ratio_activation.py"], Settings())
    merged = merge([*static.findings, *probed.findings])
    (norm,) = [f for f in merged if (f.line, f.code) == (18, "NAN102")]
    assert norm.analyzers == (Analyzer.STATIC, Analyzer.GRAPH, Analyzer.RUNTIME)
    runtime = norm.evidence[-1]
    assert runtime.extra["confirmed"] is True
    assert runtime.extra["witness"]["how"] == "all-zero float inputs"
