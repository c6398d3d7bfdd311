"""`nanlint.assert_finite(model, inputs, modes)` for the user's own test suite."""
from __future__ import annotations

import subprocess
import sys

import pytest

import nanlint
from tests.conftest import REPO, needs_torch


@needs_torch
def test_passes_on_a_finite_model_and_leaves_it_as_it_was():
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    nanlint.assert_finite(model, torch.randn(16, 4))
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert model.training and all(p.grad is None for p in model.parameters())


@needs_torch
def test_raises_with_the_report_when_eval_goes_nan():
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    with torch.no_grad():
        model[1].running_var[2] = float("nan")
    with pytest.raises(AssertionError) as raised:
        nanlint.assert_finite(model, torch.randn(16, 4))
    report = str(raised.value)
    assert report.startswith("nanlint.assert_finite: Sequential is not finite in eval mode (train mode is finite)")
    assert "NAN601 `batch_norm` in `1` is the first op to output NaN in eval mode only" in report
    assert "NAN403 BatchNorm `1` has degenerate running statistics" in report
    # Train mode alone runs finite, but the buffer itself holds NaN: still an error.
    with pytest.raises(AssertionError) as raised:
        nanlint.assert_finite(model, torch.randn(16, 4), modes=("train",))
    assert "NAN601" not in str(raised.value) and "NAN403" in str(raised.value)
    assert str(raised.value).startswith(
        "nanlint.assert_finite: Sequential holds NaN/Inf in its parameters or buffers (train mode runs finite)"
    )


@needs_torch
def test_raises_on_a_nan_gradient_with_keyword_inputs_and_a_loss():
    import torch
    import torch.nn as nn

    class Distance(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, a, b):
            return ((self.fc(a) - self.fc(b)) ** 2).sum(-1).sqrt()  # noqa: NAN204 (the hazard under test)

    x = torch.randn(2, 3)
    with pytest.raises(AssertionError, match="born in the backward of `sqrt` \\(SqrtBackward0\\)"):
        nanlint.assert_finite(Distance(), {"a": x, "b": x.clone()}, loss=lambda d: d.mean())


def test_import_nanlint_stays_torch_free_and_exports_assert_finite(tmp_path):
    blocker = tmp_path / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    code = "import nanlint, sys; assert 'torch' not in sys.modules; print('assert_finite' in nanlint.__all__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
