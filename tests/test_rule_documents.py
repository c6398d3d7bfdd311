"""Every rule document is complete, implemented, and its examples are true.

The examples in `rules/NANxxx.md` are the rule's tests: a `bad` block must give exactly
the findings its `# expect:` markers name, a `good` block none, and the `demo` block,
run after the first bad and the first good example, must make the bad one non-finite
in torch and leave the good one finite.
"""
from __future__ import annotations

import math
import re

import pytest

from nanlint.catalog import load_catalog, rules_dir
from nanlint.source.checks import ALL_RULES
from tests.conftest import codes_by_line, expected_markers, needs_torch

CATALOG = load_catalog()
META_CODES = {code for code in CATALOG if code.startswith("NAN00")}
STATIC_DOCS = [meta for meta in CATALOG.values() if "static" in meta.analyzers and meta.code not in META_CODES]
SECTIONS = ("## What it does", "## Why does it produce NaN/Inf?", "## Example", "## Use instead", "## Options")


def test_every_document_parses_and_is_named_after_its_code():
    files = sorted(p.stem for p in rules_dir().glob("NAN*.md"))
    assert files == sorted(CATALOG)
    for meta in CATALOG.values():
        assert re.fullmatch(r"NAN\d{3}", meta.code)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta.name), meta.name
        assert meta.fix in ("none", "safe", "unsafe")
        assert set(meta.analyzers) <= {"static", "graph", "runtime"}


@pytest.mark.parametrize("meta", CATALOG.values(), ids=lambda m: m.code)
def test_document_has_every_section(meta):
    for section in SECTIONS:
        assert section in meta.body, f"{meta.path}: missing section {section!r}"


def test_every_static_document_has_an_implementation_and_back():
    implemented = {code for rule in ALL_RULES for code in rule.codes}
    documented = {meta.code for meta in CATALOG.values() if "static" in meta.analyzers} - META_CODES
    assert documented <= implemented, f"documented, not implemented: {documented - implemented}"
    assert implemented <= set(CATALOG), f"implemented, not documented: {implemented - set(CATALOG)}"
    for code in implemented:
        assert "static" in CATALOG[code].analyzers, f"{code} is implemented statically but its document says otherwise"


@pytest.mark.parametrize("meta", [*STATIC_DOCS, CATALOG["NAN001"]], ids=lambda m: m.code)
def test_bad_examples_give_exactly_their_markers(meta):
    bad = meta.examples("bad")
    assert bad, f"{meta.path}: no ```python bad block"
    for example in bad:
        expected = expected_markers(example.code)
        assert expected, f"{meta.path}:{example.doc_line}: a bad example needs `# expect: {meta.code}` markers"
        assert codes_by_line(example.code) == expected, f"{meta.path}:{example.doc_line}"


@pytest.mark.parametrize("meta", [*STATIC_DOCS, CATALOG["NAN001"]], ids=lambda m: m.code)
def test_good_examples_are_quiet(meta):
    good = meta.examples("good")
    assert good, f"{meta.path}: no ```python good block"
    for example in good:
        assert codes_by_line(example.code) == set(), f"{meta.path}:{example.doc_line}"


def _all_finite(result: object) -> bool:
    import torch

    if isinstance(result, torch.Tensor):
        return bool(torch.isfinite(result).all())
    if isinstance(result, (int, float)):
        return math.isfinite(result)
    if isinstance(result, (tuple, list)):
        return all(_all_finite(r) for r in result)
    if isinstance(result, dict):
        return all(_all_finite(r) for r in result.values())
    raise TypeError(f"a demo's `result` must be tensors or numbers, not {type(result).__name__}")


def run_demo(example_code: str, demo_code: str) -> object:
    namespace: dict[str, object] = {"__name__": "nanlint_demo"}
    exec(compile(example_code, "<example>", "exec"), namespace)
    exec(compile(demo_code, "<demo>", "exec"), namespace)
    assert "result" in namespace, "the demo block must assign `result`"
    return namespace["result"]


# A hazard that cannot be shown to go non-finite is at most `info`, and says why.
UNDEMONSTRATED = [m for m in STATIC_DOCS if not m.examples("demo")]


@pytest.mark.parametrize("meta", UNDEMONSTRATED, ids=lambda m: m.code)
def test_a_rule_without_demonstration_is_info_and_says_why(meta):
    assert meta.severity.value == "info", f"{meta.path}: a rule that cannot be demonstrated is not a rule (or is info)"
    assert "## Why there is no demonstration" in meta.body, f"{meta.path}: say why it cannot be demonstrated"


@needs_torch
@pytest.mark.parametrize("meta", [m for m in STATIC_DOCS if m not in UNDEMONSTRATED], ids=lambda m: m.code)
def test_demonstration_bad_goes_nonfinite_good_stays_finite(meta):
    demos = meta.examples("demo")
    import torch

    torch.manual_seed(0)
    bad = run_demo(meta.examples("bad")[0].code, demos[0].code)
    assert not _all_finite(bad), f"{meta.path}: the bad example stays finite on the demo input"
    torch.manual_seed(0)
    good = run_demo(meta.examples("good")[0].code, demos[0].code)
    assert _all_finite(good), f"{meta.path}: the good example goes non-finite on the demo input"
