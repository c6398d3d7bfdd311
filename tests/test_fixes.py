"""Fixes: non-overlapping edits, re-lint and refusal, the fix builders, --fix/--diff."""
from __future__ import annotations

import libcst as cst
from click.testing import CliRunner

from nanlint.api import check_source
from nanlint.catalog import load_catalog
from nanlint.cli import main
from nanlint.config import Settings
from nanlint.findings import Finding, Fix, Severity, Span
from nanlint.fixes import apply_edits, creates_new_findings, fix_text
from nanlint.merge import merge
from nanlint.source.engine import analyze_source
from nanlint.source.fixers import clamp_inside_unit_fix, finfo_min_fix
from nanlint.source.rule import StaticRule


def finding(line: int, column: int, end_column: int, replacement: str, *, safe: bool = True,
            message: str = "m", span: Span | None = None) -> Finding:
    meta = load_catalog()["NAN101"]
    return Finding("NAN101", meta.name, Severity.ERROR, message, "m.py", line, column, line, end_column,
                   fix=Fix("fix it", replacement, safe, span))


def test_edits_apply_by_position_and_skip_overlaps():
    text = "a = x / d\r\nb = y / e  # keep me\r\n"
    fixed, applied = apply_edits(text, [
        finding(2, 5, 10, "y / e.clamp_min(1e-6)"),
        finding(1, 5, 10, "x / d.clamp_min(1e-6)"),
        finding(1, 9, 10, "overlaps the one above"),
    ])
    assert fixed == "a = x / d.clamp_min(1e-6)\r\nb = y / e.clamp_min(1e-6)  # keep me\r\n"
    assert [f.line for f in applied] == [1, 2]


def test_an_explicit_span_spanning_lines():
    text = "x = f(\n    a,\n)\n"
    fixed, _ = apply_edits(text, [finding(1, 1, 2, "x = g(a)", span=Span(1, 1, 3, 2))])
    assert fixed == "x = g(a)\n"


def test_new_findings_are_detected_by_what_they_say_not_where():
    before = [finding(1, 1, 2, "", message="a"), finding(3, 1, 2, "", message="b")]
    moved = [finding(2, 5, 6, "", message="b")]
    assert not creates_new_findings(before, before[:1], moved)
    assert creates_new_findings(before, before[:1], moved + [finding(1, 1, 2, "", message="c")])


def _toy_lint(text: str) -> list[Finding]:
    """BAD is fixable to WORSE, which is a new finding; OK_ is fixable to FINE."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for word, replacement in (("BAD", "WORSE"), ("OK_", "FINE"), ("WORSE", None)):
            column = line.find(word)
            if column >= 0:
                found.append(finding(number, column + 1, column + 1 + len(word), replacement or "",
                                     message=word) if replacement else
                             Finding("NAN101", "n", Severity.ERROR, word, "m.py", number, column + 1, number, column + 6))
    return found


def test_a_fix_that_creates_a_new_finding_is_refused_the_others_applied():
    result = fix_text("x = BAD\ny = OK_\n", _toy_lint)
    assert result.text == "x = BAD\ny = FINE\n"
    assert [f.message for f in result.applied] == ["OK_"]
    assert [f.message for f in result.refused] == ["BAD"]
    assert [f.message for f in result.remaining] == ["BAD"]


def test_unsafe_fixes_need_opting_in():
    lint = lambda text: [finding(1, 1, 4, "new", safe=False)] if text.startswith("old") else []  # noqa: E731
    assert fix_text("old\n", lint).text == "old\n"
    assert fix_text("old\n", lint, unsafe=True).text == "new\n"


class _MaskAndAcos(StaticRule):
    """A stand-in check that uses the fix builders (reported as NAN101 for the test)."""

    codes = ("NAN101",)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        fill = node.args[1].value if len(node.args) == 2 else None
        if name == "masked_fill" and is_method and isinstance(fill, cst.Call) and self.ctx.code_for(fill) == "float('-inf')":
            fix = finfo_min_fix(self.ctx, node, fill, node.func.value)  # type: ignore[attr-defined]
            self.ctx.report("NAN101", node, fix=fix, denominator="mask", why="test")
        elif name == "acos" and not is_method and ".clamp(" not in self.ctx.code_for(node):
            fix = clamp_inside_unit_fix(self.ctx, node, node.args[0].value, 1e-6)
            self.ctx.report("NAN101", node, fix=fix, denominator="acos", why="test")


def _lint_with_builders(text: str) -> list[Finding]:
    return merge(analyze_source(text, "m.py", Settings(select=("NAN101",)), rules=[_MaskAndAcos]))


SOURCE = (
    "import torch as T\n\n\n"
    "def attend(scores, mask, cos):\n"
    "    scores = scores.masked_fill(mask,   float('-inf'))  # spacing and comment kept\n"
    "    angle = T.acos(cos * 0.5)\n"
    "    return scores, angle\n"
)


def test_fix_builders_keep_the_rest_of_the_node_as_written():
    findings = _lint_with_builders(SOURCE)
    mask, acos = findings
    assert mask.fix == Fix("fill with T.finfo(scores.dtype).min: a fully masked row stays finite",
                           "scores.masked_fill(mask,   T.finfo(scores.dtype).min)", safe=True)
    assert acos.fix is not None and not acos.fix.safe
    assert acos.fix.replacement == "T.acos((cos * 0.5).clamp(-1 + 1e-06, 1 - 1e-06))"
    safe_only = fix_text(SOURCE, _lint_with_builders).text
    assert "masked_fill(mask,   T.finfo(scores.dtype).min)  # spacing and comment kept" in safe_only
    assert "T.acos(cos * 0.5)" in safe_only
    assert "T.acos((cos * 0.5).clamp(-1 + 1e-06, 1 - 1e-06))" in fix_text(SOURCE, _lint_with_builders, unsafe=True).text


def test_no_finfo_fix_without_a_torch_import():
    text = "import torch.nn.functional as F\n\n\ndef f(s, m):\n    return s.masked_fill(m, float('-inf'))\n"
    [only] = _lint_with_builders(text)
    assert only.fix is None


def test_cli_fix_diff_and_unsafe(tmp_path):
    path = tmp_path / "m.py"
    original = "# -*- coding: latin-1 -*-\nimport torch\n\n\ndef f(a):\n    return a / 2  # noqa: NAN101 \xe9\r\n"
    path.write_bytes(original.encode("latin-1"))
    runner = CliRunner()
    diff = runner.invoke(main, ["check", str(path), "--diff"])
    assert diff.exit_code == 1
    assert "-    return a / 2  # noqa: NAN101 \xe9" in diff.output and "Would fix 1 finding." in diff.output
    assert path.read_bytes() == original.encode("latin-1")
    fixed = runner.invoke(main, ["check", str(path), "--fix"])
    assert fixed.exit_code == 0, fixed.output
    assert "Fixed 1 finding." in fixed.output
    # The directive is replaced by `#` as text follows it in the comment; encoding and CRLF kept.
    assert path.read_bytes() == original.replace("# noqa: NAN101 ", "# ").encode("latin-1")
    assert runner.invoke(main, ["check", str(path), "--diff"]).exit_code == 0
    assert runner.invoke(main, ["check", str(path), "--unsafe-fixes"]).exit_code == 2


def test_check_source_fix_round_trip_removes_unused_suppressions():
    text = "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n    return a / d  # noqa: NAN101, NAN102\n"
    result = fix_text(text, lambda source: check_source(source, "m.py"))
    assert result.text.endswith("return a / d  # noqa: NAN101\n")
    assert result.remaining == []


def test_the_rules_fixes_end_to_end(tmp_path):
    """NAN202 (safe, from its rule) and NAN206 (unsafe) through `nanlint check --fix`."""
    source = (
        "import torch\n"
        "import torch.nn.functional as F\n\n\n"
        "def loss(logits, a, b):\n"
        "    log_p = torch.log(F.softmax(logits, dim=-1))  # keep this comment\n"
        "    log_s = torch.sigmoid(logits).log()\n"
        "    angle = torch.acos(F.cosine_similarity(a, b))\n"
        "    return log_p, log_s, angle\n"
    )
    path = tmp_path / "m.py"
    path.write_text(source)
    runner = CliRunner()
    safe = runner.invoke(main, ["check", str(path), "--fix"])
    assert "Fixed 2 findings." in safe.output and "NAN206" in safe.output
    fixed = path.read_text()
    assert "    log_p = F.log_softmax(logits, dim=-1)  # keep this comment\n" in fixed
    assert "    log_s = F.logsigmoid(logits)\n" in fixed
    assert "torch.acos(F.cosine_similarity(a, b))" in fixed
    unsafe = runner.invoke(main, ["check", str(path), "--fix", "--unsafe-fixes"])
    assert unsafe.exit_code == 0, unsafe.output
    assert "    angle = torch.acos(F.cosine_similarity(a, b).clamp(-1 + 1e-06, 1 - 1e-06))\n" in path.read_text()
