"""What the probe says about a model in hand: where a NaN comes from (an input, a weight, a
loss), NaN weights and gradients, float16 and checkpoint statistics, failing modes."""
from __future__ import annotations

import textwrap

import pytest

from nanlint.config import Settings, TraceTarget
from nanlint.runtime import probe_target
from tests.conftest import needs_torch
from tests.runtime.helpers import probe_source, runtime_evidence, runtime_lines

pytestmark = needs_torch


def test_a_nan_input_is_reported_as_coming_in_with_the_input(tmp_path):
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x):
                return self.fc(x)

        def model():
            x = torch.ones(2, 3)
            x[1, 2] = float("nan")
            return Net(), (x,)
    """)
    (found,) = findings
    assert (found.line, found.code) == (11, "NAN601")
    assert "model input 0 (NaN in 1 of 6, else [1, 1]) already holds non-finite values" in found.message
    assert [e.extra["born"] for e in runtime_evidence(found)] == [False, False]


def test_a_nan_weight_is_nan602_on_the_call_line_and_the_source_of_nan601(tmp_path):
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)
                self.out = nn.Linear(2, 1)

            def forward(self, x):
                return self.out(torch.relu(self.fc(x)))

        def model():
            net = Net()
            with torch.no_grad():
                net.fc.weight[0, 0] = float("inf")
            return net, (torch.ones(4, 3),)
    """)
    assert runtime_lines(findings) == {(12, "NAN601"), (12, "NAN602")}
    by_code = {f.code: f for f in findings}
    assert by_code["NAN602"].message.startswith("parameter `fc.weight` holds +inf in 1 of 6, else")
    assert "parameter `fc.weight` (+inf in 1 of 6" in by_code["NAN601"].message
    assert "`linear` in `fc`" in by_code["NAN601"].message


def test_the_factory_loss_is_differentiated_and_its_nan_located(tmp_path):
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        def model():
            torch.manual_seed(0)
            net = nn.Linear(3, 1)
            target = torch.zeros(4, 1)
            loss = lambda out: torch.log(out - target).mean()
            return net, (torch.randn(4, 3),), loss
    """)
    (found,) = findings
    assert (found.line, found.code) == (9, "NAN601")
    assert found.message.startswith("`log` in `Linear` is the first op to output NaN in train and eval mode")


def test_float16_batchnorm_with_a_vanished_eps_overflows_in_eval(tmp_path):
    import torch

    source = """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = nn.BatchNorm1d(4, eps=1e-8)

            def forward(self, x):
                return self.bn(x)

        def model():
            torch.manual_seed(0)
            net = Net().half()
            with torch.no_grad():
                net.bn.running_var.zero_()
                net.bn.num_batches_tracked.fill_(100)
            return net, (torch.randn(8, 4).half() * 10,)
    """
    findings = probe_source(tmp_path, source)
    assert runtime_lines(findings) == {(11, "NAN403"), (11, "NAN601")}
    stats = next(f for f in findings if f.code == "NAN403")
    assert "eps 1e-08 is 0 in float16" in stats.message
    assert "a deviation above 6.55 overflows float16 to inf" in stats.message
    output = next(f for f in findings if f.code == "NAN601")
    assert "in eval mode only (train mode is finite)" in output.message
    # The real run: eval mode overflows, train mode does not.
    namespace: dict[str, object] = {}
    exec(compile(textwrap.dedent(source), "<model>", "exec"), namespace)
    net, (x,) = namespace["model"]()
    assert not torch.isfinite(net.eval()(x)).all()
    assert torch.isfinite(net.train()(x)).all()


def _checkpoint_model(tmp_path):
    path = tmp_path / "encoder.py"
    path.write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 4)
                self.bn = nn.BatchNorm1d(4)

            def forward(self, x):
                return torch.relu(self.bn(self.fc(x)))

        def served():
            torch.manual_seed(0)
            return Encoder(), (torch.randn(64, 8) * 100.0,)
    """))
    return path


def test_checkpoint_statistics_are_checked(tmp_path):
    import torch

    path = _checkpoint_model(tmp_path)
    state = {"fc.weight": torch.randn(4, 8), "fc.bias": torch.zeros(4), "bn.weight": torch.ones(4),
             "bn.bias": torch.zeros(4), "bn.running_mean": torch.zeros(4),
             "bn.running_var": torch.tensor([1.0, float("nan"), 1.0, 1.0]), "bn.num_batches_tracked": torch.tensor(7)}
    torch.save(state, tmp_path / "bad.pt")
    findings = probe_target(TraceTarget(f"{path}:served", checkpoint=str(tmp_path / "bad.pt")), Settings(),
                            confirm=False)
    assert runtime_lines(findings) >= {(12, "NAN403")}
    assert "running_var holds NaN/Inf in 1 of 4 channels" in next(f for f in findings if f.code == "NAN403").message


def test_never_updated_statistics_in_a_checkpoint_explain_eval_divergence(tmp_path):
    import torch

    path = _checkpoint_model(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    torch.save(namespace["Encoder"]().state_dict(), tmp_path / "untrained_stats.pt")
    findings = probe_target(TraceTarget(f"{path}:served", checkpoint=str(tmp_path / "untrained_stats.pt")),
                            Settings(), confirm=False)
    (found,) = findings
    assert (found.line, found.code) == (12, "NAN603")
    (evidence,) = runtime_evidence(found)
    assert "never updated (num_batches_tracked == 0)" in evidence.detail
    assert evidence.extra["deviation"] > 1.0
    # Without the checkpoint the same fresh statistics are a freshly built model's: quiet.
    assert probe_target(TraceTarget(f"{path}:served"), Settings(), confirm=False) == []


def test_a_mode_that_raises_is_nan002_and_the_other_mode_still_reports(tmp_path):
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def forward(self, x):
                if not self.training:
                    raise RuntimeError("eval is not supported")
                return torch.log(x - 1)

        def model():
            return Net(), (torch.zeros(2, 2),)
    """)
    assert sorted(f.code for f in findings) == ["NAN002", "NAN601"]
    failed = next(f for f in findings if f.code == "NAN002")
    assert "eval-mode forward raised RuntimeError: eval is not supported" in failed.message
    nan = next(f for f in findings if f.code == "NAN601")
    assert nan.line == 9 and "in train mode:" in nan.message


def test_progress_lines_per_phase_once_the_probe_is_slow():
    import torch
    import torch.nn as nn

    from nanlint.runtime.probe import Phases, probe_model

    lines: list[str] = []
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    probe_model(model, (torch.randn(8, 4),), {}, phases=Phases(lines.append, threshold=0.0))
    assert [line.split(" (")[0] for line in lines] == [
        "train mode: forward and backward", "eval mode: forward and backward"]
    quiet: list[str] = []
    probe_model(model, (torch.randn(8, 4),), {}, phases=Phases(quiet.append))
    assert quiet == []


def test_unknown_modes_are_refused():
    import torch.nn as nn

    from nanlint.runtime.probe import probe_model

    with pytest.raises(ValueError, match="modes are train and eval, not test"):
        probe_model(nn.Linear(2, 2), (), {}, modes=("test",))
