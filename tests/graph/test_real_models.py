"""Real architectures: traced (torch.export carries the transformers models), analysed in
both modes, reviewed: none of them holds a hazard the analysis can prove, and a defect
planted in one is found at its source line and module."""
from __future__ import annotations

import pytest

from tests.conftest import needs_torch

pytestmark = needs_torch

torch = pytest.importorskip("torch")

from nanlint.graph import GRAPH_CODES  # noqa: E402
from nanlint.graph.pipeline import ModeHazards, hazards_of, to_findings  # noqa: E402
from nanlint.graph.ranges import Weights  # noqa: E402
from nanlint.graph.transfer import TRANSFER  # noqa: E402
from nanlint.graph.trace import trace_modes  # noqa: E402
from tests.graph import real_models  # noqa: E402


def analyse(model, args, kwargs):
    graphs = trace_modes(model, args, kwargs)
    weights = Weights()
    per_mode = [ModeHazards("train" if g.training else "eval", hazards_of(g, weights=weights)) for g in graphs]
    return graphs, to_findings(per_mode, GRAPH_CODES, "<model>")


def unmodelled(graphs):
    return {op.kind for g in graphs for op in g.ops
            if op.kind not in TRANSFER and op.kind not in ("input", "param", "constant", "output")}


def test_resnet_is_quiet_and_fully_modelled():
    graphs, findings = analyse(*real_models.resnet())
    assert [g.dialect for g in graphs] == ["fx", "fx"]
    assert findings == []
    assert unmodelled(graphs) == set()


def test_resnet_with_a_corrupted_batchnorm_is_found_at_its_block():
    model, args, kwargs = real_models.resnet()
    model.layer2[0].bn1.running_var[3] = float("nan")
    _, findings = analyse(model, args, kwargs)
    assert [(f.code, f.evidence[0].module) for f in findings] == [("NAN403", "layer2.0.bn1")]
    finding = findings[0]
    assert finding.path.endswith("tests/graph/real_models.py")
    assert "self.bn1(self.conv1(x))" in open(finding.path).read().splitlines()[finding.line - 1]
    assert "1 of 32 channels" in finding.message


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_transformers_models_trace_through_export_and_are_quiet(name):
    pytest.importorskip("transformers")
    graphs, findings = analyse(*real_models.MODELS[name]())
    assert [g.dialect for g in graphs] == ["export", "export"]
    assert findings == []
    # The ranges stay bounded through the encoder: LayerNorm outputs feed every block.
    assert unmodelled(graphs) <= {"assert_tensor_metadata"}


def test_torch_transformer_is_quiet():
    graphs, findings = analyse(*real_models.transformer())
    assert findings == []
    assert unmodelled(graphs) == set()


def test_bert_attention_ranges_are_bounded_with_real_weights():
    pytest.importorskip("transformers")
    from nanlint.graph.ranges import analyze

    model, args, kwargs = real_models.bert()
    eval_graph = trace_modes(model, args, kwargs)[0]
    result = analyze(eval_graph)
    attention = [op for op in eval_graph.ops if op.kind == "scaled_dot_product_attention"]
    assert attention
    for op in attention:
        interval = result.ranges[op.name]
        assert interval.finite and interval.hi < 100, (op.name, interval)
