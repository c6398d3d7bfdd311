"""nanlint.analyze_graph on graphs users already hold, and `nanlint trace model.pt2`."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, needs_torch

pytestmark = needs_torch

torch = pytest.importorskip("torch")

import nanlint  # noqa: E402
from tests.graph import models  # noqa: E402


def test_plain_symbolic_trace_without_stack_traces_names_nodes():
    gm = torch.fx.symbolic_trace(models.NormDivision())
    findings = nanlint.analyze_graph(gm)
    assert [(f.code, f.path, f.evidence[0].node) for f in findings] == [("NAN102", "<graph>", "truediv")]
    assert findings[0].line == [n.name for n in gm.graph.nodes].index("truediv") + 1


def test_hand_built_graph_with_unknown_placeholder_ranges():
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    y = graph.placeholder("y")
    ratio = graph.call_function(torch.div, (x, y))
    logged = graph.call_function(torch.log, (ratio,))
    guarded = graph.call_function(torch.log, (graph.call_function(torch.sigmoid, (x,)),))
    graph.output((logged, guarded))
    gm = torch.fx.GraphModule(torch.nn.Module(), graph)
    found = {(f.code, f.evidence[0].node) for f in nanlint.analyze_graph(gm)}
    assert found == {("NAN101", "div"), ("NAN201", "log"), ("NAN202", "log_1")}
    narrowed = {(f.code, f.evidence[0].node) for f in nanlint.analyze_graph(gm, input_ranges=[(1.0, 2.0), (1.0, 2.0)])}
    assert narrowed == set()


def test_example_inputs_give_shapes_for_shape_rules():
    from nanlint.graph.pipeline import graph_from_object, hazards_of

    gm = torch.fx.symbolic_trace(models.BatchVariance())
    assert hazards_of(graph_from_object(gm, None)) == []
    found = hazards_of(graph_from_object(gm, (torch.randn(1, 4),)))
    assert {h.code for h in found} == {"NAN405"}


def test_exported_program_maps_back_to_source_lines():
    program = torch.export.export(models.LogSoftmaxByHand(), (torch.randn(2, 4),))
    findings = nanlint.analyze_graph(program)
    assert [(f.code, f.path.endswith("tests/graph/models.py")) for f in findings] == [("NAN202", True)]


def test_dtype_float16_makes_small_eps_vanish():
    gm = torch.fx.symbolic_trace(models.HalfEps())
    assert nanlint.analyze_graph(gm) == []
    assert [f.code for f in nanlint.analyze_graph(gm, dtype=torch.float16)] == ["NAN101"]


def test_trace_pt2_runs_no_user_code(tmp_path):
    import importlib.util

    from nanlint.config import Settings, TraceTarget
    from nanlint.graph import analyze_target

    marker = tmp_path / "imported.marker"
    source = tmp_path / "pt2_user_model.py"
    source.write_text(textwrap.dedent(f"""
        import pathlib
        import torch
        pathlib.Path({str(marker)!r}).write_text("user code ran")

        class Net(torch.nn.Module):
            def forward(self, x):
                return torch.log(torch.softmax(x, -1))
    """))
    spec = importlib.util.spec_from_file_location("pt2_user_model", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.export.save(torch.export.export(module.Net(), (torch.randn(2, 3),)), str(tmp_path / "net.pt2"))
    marker.unlink()
    # A fresh process that has never seen the model's code: loading the program must not import it.
    result = subprocess.run([sys.executable, "-m", "nanlint", "trace", str(tmp_path / "net.pt2")],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pt2_user_model.py:8:" in result.stdout and "NAN202" in result.stdout
    assert not marker.exists()
    missing = analyze_target(TraceTarget(str(tmp_path / "none.pt2")), Settings())
    assert [f.code for f in missing] == ["NAN002"] and "no such file" in missing[0].message


def test_analyze_graph_rejects_other_objects_clearly():
    with pytest.raises(TypeError, match="fx.GraphModule or an ExportedProgram"):
        nanlint.analyze_graph(models.NormDivision())
