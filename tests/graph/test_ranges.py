"""Range analysis: guards are proven safe, hazards are found with their range, and real
torch confirms each hazard goes non-finite on a concrete input."""
from __future__ import annotations

import pytest

from tests.conftest import needs_torch

pytestmark = needs_torch

torch = pytest.importorskip("torch")

from nanlint.graph.pipeline import hazards_of  # noqa: E402
from nanlint.graph.trace import trace  # noqa: E402
from tests.graph import models  # noqa: E402


def hazards(model, *inputs, training=False, ranges=None, dtype=None):
    model.train(training)
    graph = trace(model, inputs, {}, training)
    return hazards_of(graph, ranges, dtype)


def codes(model, *inputs, **options):
    return {(h.code, h.op.kind) for h in hazards(model, *inputs, **options)}


def nonfinite(value) -> bool:
    if isinstance(value, (tuple, list)):
        return any(nonfinite(v) for v in value)
    return not bool(torch.isfinite(value).all())


def nonfinite_forward_or_backward(model, x) -> bool:
    x = x.clone().requires_grad_(x.dtype.is_floating_point)
    out = model(x)
    if nonfinite(out):
        return True
    out.sum().backward()
    return x.grad is not None and nonfinite(x.grad)


SAFE = [
    models.EpsGuard, models.ClampGuard, models.SoftmaxOverItsSum, models.StableSoftmax,
    models.StableSoftmaxMaxValues, models.HandLayerNorm, models.HandRMSNorm, models.Attention,
    models.AttentionSizeScaled, models.GuardedLogs, models.GuardedRoots, models.BoundedExp,
    models.ShapeDivision,
]


@pytest.mark.parametrize("model_type", SAFE, ids=lambda t: t.__name__)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_guards_are_proven_safe(model_type, training):
    model = model_type()
    x = torch.randn(3, 4) if model_type is not models.Attention and model_type is not models.AttentionSizeScaled \
        else torch.randn(2, 3, 8)
    assert hazards(model, x, training=training) == []


def test_norm_layers_and_normalize_are_safe():
    assert hazards(models.LayerNorms(), torch.randn(4, 8)) == []


HAZARDS = [
    (models.NormDivision, {("NAN102", "div")}),
    (models.LogSoftmaxByHand, {("NAN202", "log")}),
    (models.LogOneMinusSigmoid, {("NAN201", "log")}),
    (models.EuclideanDistance, {("NAN204", "sqrt")}),
    (models.CubeRoot, {("NAN205", "pow")}),
    (models.AcosOfDot, {("NAN206", "acos")}),
    (models.ExpRatio, {("NAN207", "exp")}),
]


@pytest.mark.parametrize("model_type, expected", HAZARDS, ids=lambda v: getattr(v, "__name__", ""))
def test_hazard_is_found_and_real_torch_goes_nonfinite(model_type, expected):
    model = model_type().eval()
    assert codes(model, torch.randn(2, 4)) == expected
    assert nonfinite_forward_or_backward(model, model_type.bad_input())
    # The graph evidence carries the range.
    assert all("range [" in h.detail for h in hazards(model, torch.randn(2, 4)))


def test_difference_denominator_is_nan101_and_a_witness_exists():
    model = models.DifferenceDivision().eval()
    found = hazards(model, torch.randn(2, 4))
    assert {(h.code, h.op.kind) for h in found} == {("NAN101", "div")}
    assert "includes 0" in found[0].detail
    # fc(x) - x = (W - I) x + b = 0 has a solution: x = -(W - I)^-1 b.
    w, b = model.fc.weight.detach().double(), model.fc.bias.detach().double()
    witness = torch.linalg.solve(w - torch.eye(4, dtype=torch.float64), -b).float().unsqueeze(0)
    with torch.no_grad():
        assert (model.fc(witness) - witness).abs().min() < 1e-5
    witness_zero = torch.zeros(1, 4)
    model.fc.bias.data.zero_()
    assert nonfinite(model(witness_zero))


def test_input_ranges_narrow_the_analysis():
    model = models.CubeRoot().eval()
    assert codes(model, torch.rand(2, 4), ranges={0: (0.5, 2.0)}) == set()
    assert codes(model, torch.rand(2, 4), ranges={0: (-1.0, 2.0)}) == {("NAN205", "pow")}
    exp_ratio = models.ExpRatio().eval()
    assert codes(exp_ratio, torch.rand(2, 4), ranges={0: (-10.0, 10.0)}) == set()


def test_variance_over_a_dimension_of_size_one():
    model = models.BatchVariance().eval()
    assert codes(model, torch.randn(1, 4)) == {("NAN405", "var")}
    assert codes(model, torch.randn(8, 4)) == set()
    assert nonfinite(model(models.BatchVariance.bad_input()))


def test_float16_sum_overflows():
    model = models.HalfSum()
    x = models.HalfSum.bad_input()
    assert codes(model, x, ranges={0: (0.0, 100.0)}) == {("NAN306", "sum")}
    assert codes(model, x.float(), ranges={0: (0.0, 100.0)}) == set()
    assert nonfinite(model(x))


def test_float16_rounds_the_eps_guard_to_zero():
    model = models.HalfEps()
    assert codes(model, models.HalfEps.bad_input()) == {("NAN101", "div")}
    assert codes(model, torch.zeros(2, 4)) == set()
    assert nonfinite(model(models.HalfEps.bad_input()))
    assert not nonfinite(model(torch.zeros(2, 4)))


def test_dtype_option_analyses_a_float32_graph_as_float16():
    model = models.HalfEps()
    assert codes(model, torch.zeros(2, 4), dtype=torch.float16) == {("NAN101", "div")}


def test_train_only_hazard_from_dropout():
    model = models.DropoutDenominator()
    assert codes(model, torch.randn(3, 4), training=True) == {("NAN101", "div")}
    assert codes(model, torch.randn(3, 4), training=False) == set()
    torch.manual_seed(1)
    assert nonfinite(model.train()(torch.ones(64, 4)))


def test_eval_only_hazard_from_running_statistics():
    model = models.LogOfBatchNorm()
    # Train mode with a batch of two: the normalized value is +-1, so bias 2 keeps log's argument in [1, 3].
    assert codes(model, torch.randn(2, 4), training=True) == set()
    assert codes(model, torch.randn(2, 4), training=False) == {("NAN201", "log")}
    assert not nonfinite(model.train()(torch.randn(2, 4)))
    assert nonfinite(model.eval()(torch.full((2, 4), -10.0)))


def test_unknown_ops_give_unbounded_ranges_not_errors():
    from nanlint.graph.ir import Graph, Op, Ref
    from nanlint.graph.intervals import UNBOUNDED
    from nanlint.graph.ranges import analyze

    graph = Graph([Op("x", "input", index=0), Op("y", "some_future_op", {"input": Ref("x")}),
                   Op("z", "div", {"input": Ref("x"), "other": object()})], "fx", False)
    result = analyze(graph)
    assert result.ranges["y"] == UNBOUNDED


def _exported_codes(model, *inputs, ranges=None, training=False):
    from nanlint.graph.ir import from_exported

    model.train(training)
    program = torch.export.export(model, inputs, strict=False)
    return {(h.code, h.op.kind) for h in hazards_of(from_exported(program, training), ranges)}


@pytest.mark.parametrize("model_type, expected", [
    *HAZARDS,
    *[(t, set()) for t in SAFE if t not in (models.Attention, models.AttentionSizeScaled)],
], ids=lambda v: getattr(v, "__name__", ""))
def test_aten_vocabulary_gives_the_same_results(model_type, expected):
    model = model_type().eval()
    assert _exported_codes(model, torch.randn(2, 4)) == expected


def test_aten_attention_and_norm_layers_are_safe():
    assert _exported_codes(models.Attention().eval(), torch.randn(2, 3, 8)) == set()
    assert _exported_codes(models.LayerNorms().eval(), torch.randn(4, 8)) == set()
    assert _exported_codes(models.LogOfBatchNorm(), torch.randn(2, 4), training=True) == set()
    assert _exported_codes(models.LogOfBatchNorm(), torch.randn(2, 4)) == {("NAN201", "log")}
