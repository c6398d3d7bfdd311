"""Confirmation of range-analysis findings: a witness input found by the starting points
or by the gradient search marks the finding `confirmed`; a theoretical one stays not
confirmed, with the search's bounds and how close it came."""
from __future__ import annotations

import math

from nanlint.findings import Analyzer
from tests.conftest import needs_torch
from tests.runtime.helpers import probe_source, runtime_evidence

pytestmark = needs_torch

LINEAR_RATIO = """
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 1)

        def forward(self, x):
            return x / self.fc(x)

    def model():
        torch.manual_seed(0)
        return Net(), (torch.rand(3, 4) + 1,)
"""


def _confirmation(findings, code):
    (found,) = [f for f in findings if f.code == code and Analyzer.GRAPH in f.analyzers]
    (evidence,) = runtime_evidence(found)
    return found, evidence


def test_gradient_search_drives_a_denominator_to_exactly_zero(tmp_path):
    findings = probe_source(tmp_path, LINEAR_RATIO, confirm=True, ranges=((0.0, 5.0),))
    found, evidence = _confirmation(findings, "NAN101")
    assert found.line == 11
    assert evidence.extra["confirmed"] is True
    witness = evidence.extra["witness"]
    assert witness["how"] == "gradient search" and 1 <= witness["steps"] <= 100
    # The denominator the real op received holds an exact 0, and the op's output is inf/NaN.
    assert witness["operand"]["min"] <= 0.0 <= witness["operand"]["max"]
    output = witness["op_output"]
    assert output["nan"] + output["posinf"] + output["neginf"] > 0
    # The witness respects the input range.
    (inputs,) = witness["inputs"]
    assert 0.0 <= inputs["min"] and inputs["max"] <= 5.0
    assert evidence.detail.startswith("confirmed in eval mode with gradient search")


def test_softmax_underflow_is_confirmed_from_a_starting_point(tmp_path):
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)

            def forward(self, x):
                return torch.log(torch.softmax(self.fc(x), dim=-1))

        def model():
            torch.manual_seed(0)
            return Net(), (torch.randn(2, 4),)
    """, confirm=True)
    _, evidence = _confirmation(findings, "NAN202")
    assert evidence.extra["confirmed"] is True
    assert evidence.extra["witness"]["operand"]["min"] == 0.0
    assert evidence.extra["witness"]["op_output"]["neginf"] > 0


def test_a_theoretical_hazard_stays_unconfirmed_within_the_bounds(tmp_path):
    # cosh is at least 1: the range analysis, which does not model it, cannot prove it.
    findings = probe_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)

            def forward(self, x):
                h = self.fc(x)
                return h / torch.cosh(h)

        def model():
            torch.manual_seed(0)
            return Net(), (torch.randn(3, 4),)
    """, confirm=True)
    _, evidence = _confirmation(findings, "NAN101")
    assert evidence.extra["confirmed"] is False
    assert evidence.extra["search_seconds"] < 2.0 + 1.0
    assert "no input found within 100 steps / 2 s" in evidence.detail
    assert "closest min |denominator|: 1" in evidence.detail


def test_search_budget_is_bounded_in_steps_and_seconds():
    import torch
    import torch.nn as nn

    from nanlint.findings import Evidence, Finding, Severity
    from nanlint.runtime.confirm import Budget, confirm

    class Net(nn.Module):
        def forward(self, x):
            return x / torch.cosh(x)  # the op to confirm, on this line

    line = Net.forward.__code__.co_firstlineno + 1
    graph = Finding("NAN101", "unguarded-division", Severity.ERROR, "", __file__, line, 1, line, 2,
                    (Evidence(Analyzer.GRAPH, "", extra={"op": "div", "modes": ["eval"]}),))
    evidence = confirm(graph, Net(), (torch.randn(4),), {}, {}, Budget(steps=3, seconds=60.0))
    assert evidence is not None and evidence.extra["confirmed"] is False
    assert "within 3 steps" in evidence.detail
    evidence = confirm(graph, Net(), (torch.randn(4),), {}, {}, Budget(steps=10_000, seconds=0.2))
    assert evidence is not None and evidence.extra["search_seconds"] < 0.2 + 0.5
    assert math.isfinite(evidence.extra["search_seconds"])
