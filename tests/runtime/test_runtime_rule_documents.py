"""The examples of the runtime rule documents are probed: a bad example gives exactly its
`# expect:` markers, a good one nothing, and the demonstration makes the bad model
non-finite in real torch and leaves the good one finite. For the run-time rules the run
is the analysis: the probe and the demonstration both execute the example."""
from __future__ import annotations

import pytest

from nanlint.catalog import load_catalog
from tests.conftest import expected_markers, needs_torch
from tests.runtime.helpers import probe_source, runtime_lines
from tests.test_rule_documents import _all_finite, run_demo

pytestmark = needs_torch

CATALOG = load_catalog()
RUNTIME_ONLY = [m for m in CATALOG.values() if m.analyzers == ("runtime",)]
# Rules other analyzers document too: the probe's findings of that code match the markers.
SHARED = [m for m in CATALOG.values() if "runtime" in m.analyzers and len(m.analyzers) > 1
          and m.code not in ("NAN002", "NAN004")]


def test_the_runtime_rules_are_documented():
    assert {m.code for m in RUNTIME_ONLY} == {"NAN601", "NAN602", "NAN603"}
    assert [m.code for m in SHARED] == ["NAN403"]


@pytest.mark.parametrize("meta", RUNTIME_ONLY, ids=lambda m: m.code)
def test_bad_runtime_examples_give_exactly_their_markers(meta, tmp_path):
    for index, example in enumerate(meta.examples("bad")):
        expected = expected_markers(example.code)
        assert expected, f"{meta.path}:{example.doc_line}: a bad example needs `# expect:` markers"
        findings = probe_source(tmp_path, example.code, name=f"{meta.code.lower()}_bad_{index}.py")
        assert runtime_lines(findings) == expected, f"{meta.path}:{example.doc_line}: {findings}"


@pytest.mark.parametrize("meta", RUNTIME_ONLY + SHARED, ids=lambda m: m.code)
def test_good_runtime_examples_are_quiet(meta, tmp_path):
    good = meta.examples("good")
    assert good, f"{meta.path}: no ```python good block"
    for index, example in enumerate(good):
        findings = probe_source(tmp_path, example.code, name=f"{meta.code.lower()}_good_{index}.py")
        assert findings == [], f"{meta.path}:{example.doc_line}: {findings}"


@pytest.mark.parametrize("meta", SHARED, ids=lambda m: m.code)
def test_shared_bad_examples_give_their_markers_from_the_probe(meta, tmp_path):
    for index, example in enumerate(meta.examples("bad")):
        findings = probe_source(tmp_path, example.code, name=f"{meta.code.lower()}_bad_{index}.py")
        found = {(line, code) for line, code in runtime_lines(findings) if code == meta.code}
        assert found == expected_markers(example.code), f"{meta.path}:{example.doc_line}: {findings}"


@pytest.mark.parametrize("meta", RUNTIME_ONLY, ids=lambda m: m.code)
def test_runtime_demonstration_bad_goes_nonfinite_good_stays_finite(meta):
    import torch

    demos = meta.examples("demo")
    assert demos, f"{meta.path}: no ```python demo block"
    torch.manual_seed(0)
    assert not _all_finite(run_demo(meta.examples("bad")[0].code, demos[0].code)), meta.path
    torch.manual_seed(0)
    assert _all_finite(run_demo(meta.examples("good")[0].code, demos[0].code)), meta.path
