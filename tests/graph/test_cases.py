"""The real-world cases that hold a model, traced as a user would (a factory in their own
file): the graph analyzer finds each hazard at the line the cases README gives."""
from __future__ import annotations

import pytest

from tests.conftest import REPO, needs_torch
from tests.graph.helpers import trace_source

pytestmark = needs_torch

CASES = REPO / "tests" / "cases"

FACTORY = '''
import importlib.util
import torch

spec = importlib.util.spec_from_file_location("case_under_test", {path!r})
case = importlib.util.module_from_spec(spec)
spec.loader.exec_module(case)


def model():
    torch.manual_seed(0)
    return {build}
'''


@pytest.mark.parametrize("case, build, line, code", [
    ("04_masked_log_softmax_empty_row.py",
     "case.SpanStartScorer(), (torch.randn(2, 6, 16), torch.ones(2, 6, dtype=torch.long))", 10, "NAN201"),
    ("06_triplet_euclidean_sqrt_grad.py",
     "case.TripletMarginLoss(), (torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8))", 10, "NAN204"),
    ("10_gem_pool_odd_root.py", "case.RetrievalNet(), (torch.randn(2, 3, 16, 16),)", 15, "NAN205"),
    ("02_scratch_batchnorm_single_sample.py", "case.CharMLP(), (torch.randint(0, 27, (1, 3)),)", 22, "NAN405"),
    ("05_where_log_branch_gradient.py", "case.CountFeatureModel(), (torch.rand(4, 6) * 5,)", 15, "NAN501"),
    ("22_graph_attention_exp_overflow.py",
     "case.GraphAttention(), (torch.randn(5, 8), torch.tensor([[0, 1, 2, 3, 4, 1, 2], [1, 0, 1, 2, 3, 4, 4]]))",
     10, "NAN207"),
], ids=lambda v: v if isinstance(v, str) and v.endswith(".py") else "")
def test_case_hazard_found_at_its_line(tmp_path, case, build, line, code):
    findings = trace_source(tmp_path, FACTORY.format(path=str(CASES / case), build=build), name="factory.py")
    found = {(f.path.rsplit("/", 1)[-1], f.line, f.code) for f in findings}
    assert (case, line, code) in found, findings
    for finding in findings:
        assert "<" not in finding.message.replace("<graph>", ""), finding.message


def test_a_where_branch_hazard_is_the_where_trap_not_a_forward_hazard(tmp_path):
    findings = trace_source(tmp_path, FACTORY.format(
        path=str(CASES / "05_where_log_branch_gradient.py"),
        build="case.CountFeatureModel(), (torch.rand(4, 6) * 5,)"), name="factory.py")
    assert {f.code for f in findings} == {"NAN501"}
    assert "log2" in findings[0].message
    extra = findings[0].evidence[0].extra
    assert (extra["op"], extra["inner_code"], extra["inner_op"]) == ("where", "NAN201", "log2")


def test_variance_of_one_exists_only_in_train_mode(tmp_path):
    findings = trace_source(tmp_path, FACTORY.format(
        path=str(CASES / "02_scratch_batchnorm_single_sample.py"),
        build="case.CharMLP(), (torch.randint(0, 27, (1, 3)),)"), name="factory.py")
    assert [(f.code, f.evidence[0].extra["modes"]) for f in findings] == [("NAN405", ["train"])]
    assert findings[0].evidence[0].detail.endswith("(only in train mode)")
