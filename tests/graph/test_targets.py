"""Loading and tracing targets: the bundled examples, the torch.export fallback, NAN002."""
from __future__ import annotations

import json
import os

import pytest

from nanlint.api import check_paths
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer
from nanlint.graph import analyze_target
from tests.conftest import REPO, needs_torch
from tests.graph.helpers import lines_codes, trace_source, write_model

pytestmark = needs_torch


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_ratio_net_static_and_graph_evidence_merge_on_the_norm_line(in_repo):
    summary = check_paths(
        ["examples/ratio_activation.py"],
        Settings(),
        [TraceTarget("examples/ratio_activation.py:RatioNet", ((3, 10),))],
    )
    graph_findings = [f for f in summary.findings if Analyzer.GRAPH in f.analyzers]
    assert [(f.path, f.line, f.code) for f in graph_findings] == [("examples/ratio_activation.py", 18, "NAN102")]
    merged = graph_findings[0]
    assert merged.analyzers == (Analyzer.STATIC, Analyzer.GRAPH)
    graph = merged.evidence[1]
    assert graph.module == "unit"
    assert graph.node == "truediv_1"
    assert "range [0, inf]" in graph.detail
    assert graph.extra["range"] == [0.0, "inf"]  # JSON has no infinity
    # The guarded x / (|x| + 1e-8) on line 13 is proven safe.
    assert not [f for f in graph_findings if f.line == 13]


def test_stats_corrupted_reports_nan403_on_the_batchnorm_call(in_repo):
    findings = analyze_target(TraceTarget("examples/stats_corrupted.py:trained_encoder", ((4, 8),)), Settings())
    assert [(f.code, f.line) for f in findings] == [("NAN403", 18)]
    finding = findings[0]
    assert finding.path.endswith("examples/stats_corrupted.py")
    assert finding.evidence[0].module == "bn"
    assert "running_var holds NaN/Inf" in finding.message
    assert "only in eval mode" in finding.evidence[0].detail


def test_tiny_running_var_names_the_amplification(tmp_path):
    findings = trace_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = nn.BatchNorm1d(3)

            def forward(self, x):
                return self.bn(x)

        def model():
            net = Net()
            net.bn.running_var[1] = 1e-9
            return net, (torch.randn(4, 3),)
    """)
    assert lines_codes(findings) == {(11, "NAN403")}
    assert "amplification 1/sqrt(var+eps) of 316x" in findings[0].message


def test_track_running_stats_false_is_nan404(tmp_path):
    findings = trace_source(tmp_path, """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.BatchNorm2d(3, track_running_stats=False)

            def forward(self, x):
                return self.norm(x)
    """, attr="Net", shapes=((2, 3, 4, 4),))
    assert lines_codes(findings) == {(10, "NAN404")}
    assert findings[0].evidence[0].module == "norm"


DATA_DEPENDENT = """
    import torch
    import torch.nn as nn

    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            h = self.fc(x)
            if x.shape[0] > 1:
                h = h / h.sum(-1, keepdim=True)
            return h
"""


def test_export_fallback_traces_data_dependent_control_flow(tmp_path):
    import torch
    from torch import fx

    from nanlint.graph.trace import trace

    path = write_model(tmp_path, DATA_DEPENDENT, "gate_model.py")
    findings = analyze_target(TraceTarget(f"{path}:Gate", ((3, 4),)), Settings())
    assert lines_codes(findings) == {(13, "NAN102")}
    # symbolic_trace rejects the model; the graph came from torch.export.
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(Exception):
        fx.symbolic_trace(namespace["Gate"]())
    graph = trace(namespace["Gate"](), (torch.randn(3, 4),), {}, training=False)
    assert graph.dialect == "export"
    assert any(op.kind == "div" and op.location and op.location.line == 13 for op in graph.ops)


def _nan002(findings):
    assert [f.code for f in findings] == ["NAN002"], findings
    return findings[0].message


@pytest.mark.parametrize("target, shapes, reason", [
    ("no_such_module_xyz:Model", ((2, 3),), "cannot import module `no_such_module_xyz`: ModuleNotFoundError"),
    ("missing_file.py:Model", ((2, 3),), "no such file `missing_file.py`"),
    ("{path}:Missing", ((2, 3),), "has no attribute `Missing`"),
    ("{path}:NeedsArgs", ((2, 3),), "building `NeedsArgs()` raised TypeError"),
    ("{path}:Raises", ((2, 3),), "forward raised RuntimeError: boom"),
    ("{path}:Fine", ((2, 5),), "forward raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    ("{path}:NoTensor", ((2, 3),), "forward returned NoneType, not a tensor"),
    ("{path}:Fine", None, "no example inputs: give --input-shape"),
    ("{path}:Untraceable", ((2, 3),), "symbolic_trace failed"),
    ("{path}:not_a_model", ((2, 3),), "returned int, not an nn.Module"),
    ("{path}:ImportBomb", ((2, 3),), "ZeroDivisionError"),
])
def test_every_failure_is_one_nan002_with_a_reason(tmp_path, target, shapes, reason):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class NeedsArgs(nn.Module):
            def __init__(self, width):
                super().__init__()

        class Raises(nn.Module):
            def forward(self, x):
                raise RuntimeError("boom")

        class Fine(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(3, 2)

            def forward(self, x):
                return self.fc(x)

        class NoTensor(nn.Module):
            def forward(self, x):
                return None

        class Untraceable(nn.Module):
            def forward(self, x):
                if x.sum().item() > 1e30:  # a data-dependent branch export cannot guard on
                    return x
                return torch.nonzero(x).float().sum() + x[: int(x.sum().item() > 0)].sum()

        def not_a_model():
            return 3

        class ImportBomb(nn.Module):
            def __init__(self):
                super().__init__()
                1 / 0
    """, "failing_models.py")
    findings = analyze_target(TraceTarget(target.format(path=path), shapes), Settings())
    message = _nan002(findings)
    assert reason in message
    assert "\n" not in message


def test_checkpoint_loads_weights_only_and_refuses_pickled_code(tmp_path):
    import torch

    path = write_model(tmp_path, """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = nn.BatchNorm1d(2)

            def forward(self, x):
                return self.bn(x)
    """, "ckpt_model.py")
    state = {"bn.weight": torch.ones(2), "bn.bias": torch.zeros(2), "bn.running_mean": torch.zeros(2),
             "bn.running_var": torch.tensor([1.0, float("nan")]), "bn.num_batches_tracked": torch.tensor(3)}
    good = tmp_path / "stats.pt"
    torch.save(state, good)
    findings = analyze_target(TraceTarget(f"{path}:Net", ((4, 2),), checkpoint=str(good)), Settings())
    assert lines_codes(findings) == {(10, "NAN403")}

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, evil)
    message = _nan002(analyze_target(TraceTarget(f"{path}:Net", ((4, 2),), checkpoint=str(evil)), Settings()))
    assert "refused: it references `posix.system`" in message and "nothing in it was run" in message
    bad_shape = tmp_path / "wrong.pt"
    torch.save({"bn.weight": torch.ones(3)}, bad_shape)
    message = _nan002(analyze_target(TraceTarget(f"{path}:Net", ((4, 2),), checkpoint=str(bad_shape)), Settings()))
    assert "does not fit the model" in message


def test_cli_trace_reports_and_exits(in_repo):
    from click.testing import CliRunner

    from nanlint.cli import main

    runner = CliRunner()
    ok = runner.invoke(main, ["trace", "examples/stats_corrupted.py:trained_encoder", "--input-shape", "4,8"])
    assert ok.exit_code == 1, ok.output
    assert "examples/stats_corrupted.py:18:" in ok.output and "NAN403" in ok.output
    failed = runner.invoke(main, ["trace", "nope_module:X", "--input-shape", "2"])
    assert failed.exit_code == 2
    assert "NAN002" in failed.output and "Traceback" not in failed.output


def test_a_bug_in_the_analyzer_is_nan004_not_a_crash(tmp_path, monkeypatch):
    import nanlint.graph.pipeline as pipeline

    def broken(*args, **kwargs):
        raise KeyError("simulated analyzer bug")

    monkeypatch.setattr(pipeline, "hazards_of", broken)
    findings = trace_source(tmp_path, """
        import torch.nn as nn

        class Net(nn.Module):
            def forward(self, x):
                return x * 2
    """, attr="Net", shapes=((2, 2),))
    assert [f.code for f in findings] == ["NAN004"]
    assert "simulated analyzer bug" in findings[0].message


def test_a_hazard_of_one_mode_says_which(tmp_path):
    findings = trace_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = nn.BatchNorm1d(4)
                self.drop = nn.Dropout(0.5)
                with torch.no_grad():
                    self.bn.bias.fill_(2.0)

            def forward(self, x):
                a = torch.log(self.bn(x))
                b = x / self.drop(x.abs() + 1)
                c = x / (x - x.mean())
                return a, b, c
    """, attr="Net", shapes=((2, 4),))
    details = {(f.line, f.code): f.evidence[0].detail for f in findings}
    assert set(details) == {(14, "NAN201"), (15, "NAN101"), (16, "NAN101")}
    assert details[(14, "NAN201")].endswith("(only in eval mode)")
    assert details[(15, "NAN101")].endswith("(only in train mode)")
    assert "only in" not in details[(16, "NAN101")]
    assert {f.line: f.evidence[0].extra["modes"] for f in findings} == {14: ["eval"], 15: ["train"], 16: ["eval", "train"]}


@pytest.mark.parametrize("target", ["model.py:RatioNet", "model:RatioNet"])
def test_configured_targets_resolve_from_the_configuration_folder(tmp_path, monkeypatch, target):
    from click.testing import CliRunner

    from nanlint.cli import main

    (tmp_path / "model.py").write_text((REPO / "examples" / "ratio_activation.py").read_text())
    (tmp_path / "pyproject.toml").write_text(
        f'[[tool.nanlint.trace]]\ntarget = "{target}"\ninput-shapes = [[3, 10]]\n'
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = CliRunner().invoke(main, ["trace", "--config", "../pyproject.toml", "--format", "json"])
    codes = [f["code"] for f in json.loads(result.stdout)["findings"]]
    assert (result.exit_code, codes) == (1, ["NAN102"])
