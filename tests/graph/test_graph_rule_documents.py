"""The examples of graph-only rule documents are traced: bad ones give exactly their markers,
good ones nothing, and the demonstration makes the bad model non-finite in real torch
(an `info` rule, whose hazard is not a non-finite value by itself, may fail by raising)."""
from __future__ import annotations

import pytest

from nanlint.catalog import load_catalog
from tests.conftest import expected_markers, needs_torch
from tests.graph.helpers import lines_codes, trace_source
from tests.test_rule_documents import _all_finite, run_demo

pytestmark = needs_torch

GRAPH_ONLY = [m for m in load_catalog().values()
              if "graph" in m.analyzers and "static" not in m.analyzers and m.code not in ("NAN002", "NAN004")]


@pytest.mark.parametrize("meta", GRAPH_ONLY, ids=lambda m: m.code)
def test_bad_graph_examples_give_exactly_their_markers(meta, tmp_path):
    bad = meta.examples("bad")
    assert bad, f"{meta.path}: no ```python bad block"
    for index, example in enumerate(bad):
        expected = expected_markers(example.code)
        assert expected, f"{meta.path}:{example.doc_line}: a bad example needs `# expect:` markers"
        findings = trace_source(tmp_path, example.code, name=f"{meta.code.lower()}_bad_{index}.py")
        assert lines_codes(findings) == expected, f"{meta.path}:{example.doc_line}: {findings}"


@pytest.mark.parametrize("meta", GRAPH_ONLY, ids=lambda m: m.code)
def test_good_graph_examples_are_quiet(meta, tmp_path):
    good = meta.examples("good")
    assert good, f"{meta.path}: no ```python good block"
    for index, example in enumerate(good):
        findings = trace_source(tmp_path, example.code, name=f"{meta.code.lower()}_good_{index}.py")
        assert findings == [], f"{meta.path}:{example.doc_line}"


@pytest.mark.parametrize("meta", GRAPH_ONLY, ids=lambda m: m.code)
def test_graph_demonstration_bad_goes_nonfinite_good_stays_finite(meta):
    import torch

    demos = meta.examples("demo")
    assert demos, f"{meta.path}: no ```python demo block"
    torch.manual_seed(0)
    if meta.severity.value == "info":
        try:
            bad = run_demo(meta.examples("bad")[0].code, demos[0].code)
        except (RuntimeError, ValueError):
            bad = float("nan")
    else:
        bad = run_demo(meta.examples("bad")[0].code, demos[0].code)
    assert not _all_finite(bad), meta.path
    torch.manual_seed(0)
    assert _all_finite(run_demo(meta.examples("good")[0].code, demos[0].code)), meta.path
