"""Every code the graph analyzer reports renders its document's message completely, and
static and graph findings of one hazard land on the same line under the same code."""
from __future__ import annotations

import re

from nanlint.api import check_paths
from nanlint.config import Settings, TraceTarget
from nanlint.findings import Analyzer
from nanlint.graph import GRAPH_CODES
from tests.conftest import needs_torch
from tests.graph.helpers import trace_source, write_model

pytestmark = needs_torch

HAZARDS = '''
import torch
import torch.nn as nn


class Hazards(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc(x)
        a = x / (h - x)
        b = x / x.norm(dim=-1, keepdim=True)
        c = torch.log(torch.softmax(h, dim=-1))
        d = torch.log(1 - torch.sigmoid(h))
        e = torch.sqrt(((h - x) ** 2).sum(-1))
        f = h.mean(-1) ** (1.0 / 3.0)
        g = torch.acos((x * h).sum(-1))
        k = torch.exp(h) / torch.exp(h).sum(-1, keepdim=True)
        return a, b, c, d, e, f, g, k
'''
EXPECTED = {(13, "NAN101"), (14, "NAN102"), (15, "NAN202"), (16, "NAN201"), (17, "NAN204"), (18, "NAN205"),
            (19, "NAN206"), (20, "NAN207")}


def test_the_hazards_file_gives_one_finding_per_line(tmp_path):
    findings = trace_source(tmp_path, HAZARDS, attr="Hazards", shapes=((2, 4),))
    assert {(f.line, f.code) for f in findings} == EXPECTED


def test_every_graph_code_renders_its_whole_message(tmp_path):
    findings = trace_source(tmp_path, HAZARDS, attr="Hazards", shapes=((2, 4),))
    half = trace_source(tmp_path, '''
        import torch
        import torch.nn as nn

        class Energy(nn.Module):
            def forward(self, x):
                h = torch.sigmoid(x) * 255
                return (h * h).sum(-1)
    ''', attr="Energy", shapes=((2, 2048),), name="energy.py")
    bn = trace_source(tmp_path, '''
        import torch
        import torch.nn as nn

        def model():
            torch.manual_seed(0)
            net = nn.Sequential(nn.BatchNorm1d(4), nn.BatchNorm1d(4, track_running_stats=False))
            net[0].running_var.fill_(float("nan"))
            return net, (torch.randn(3, 4),)
    ''', name="bn.py")
    failed = trace_source(tmp_path, "x = 1\n", attr="Missing", shapes=((2,),), name="fail.py")
    shapes = trace_source(tmp_path, '''
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def forward(self, x):
                return torch.where(x > 0, torch.log(x), x), x / (x.std(0) + 1e-5)
    ''', attr="Net", shapes=((1, 4),), name="shapes.py")
    everything = findings + half + bn + failed + shapes
    from nanlint.graph.failure import analyzer_failed

    everything.append(analyzer_failed(TraceTarget("m.py:M"), KeyError("k")))
    seen = {f.code for f in everything}
    missing = set(GRAPH_CODES) - seen - {"NAN306"}
    assert not missing, f"no sample for {missing}"
    for finding in everything:
        assert not re.search(r"<[a-z_]+>", finding.message), finding.message
        assert "{" not in finding.message, finding.message


def test_half_model_overflow_sample(tmp_path):
    findings = trace_source(tmp_path, '''
        import torch
        import torch.nn as nn

        class Energy(nn.Module):
            def forward(self, x):
                h = torch.sigmoid(x) * 255
                return (h * h).sum(-1)

        def model():
            return Energy().half(), (torch.zeros(2, 2048, dtype=torch.float16),)
    ''', name="energy_half.py")
    assert {(f.line, f.code) for f in findings} == {(8, "NAN306")}
    assert not re.search(r"<[a-z_]+>", findings[0].message)


def test_static_and_graph_agree_on_line_and_code(tmp_path, monkeypatch):
    path = write_model(tmp_path, HAZARDS, "agree.py")
    monkeypatch.chdir(tmp_path)
    summary = check_paths(["agree.py"], Settings(), [TraceTarget("agree.py:Hazards", ((2, 4),))])
    graph = {(f.line, f.code): f for f in summary.findings if Analyzer.GRAPH in f.analyzers}
    assert set(graph) == EXPECTED
    merged = {key for key, f in graph.items() if Analyzer.STATIC in f.analyzers}
    # Every hazard the static rules see here is one finding with both pieces of evidence.
    static_only = {(f.line, f.code) for f in summary.findings if f.analyzers == (Analyzer.STATIC,)}
    assert not (static_only & {(line, code) for line, code in EXPECTED}), static_only
    assert merged, "no finding merged static and graph evidence"
    assert path.exists()
