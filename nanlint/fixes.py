"""Applying the fixes findings carry: `--fix`, `--diff`, `--unsafe-fixes`.

A fix is a text replacement for a span (the finding's own span unless it names one).
Fixes are applied as non-overlapping edits to the text, everything else is left byte
for byte as it was (formatting, comments, line endings), and the result is linted again:
a set of fixes that creates a finding that was not there before is retried one fix at a
time, and a fix that still creates one is refused. Fixes that overlap an applied one are
retried in the next round, on the new text.
"""
from __future__ import annotations

import difflib
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nanlint.config import Settings
from nanlint.findings import Finding, Span
from nanlint.reading import Unreadable, read_source

Lint = Callable[[str], list[Finding]]
_MAX_ROUNDS = 20


@dataclass
class FixResult:
    text: str
    # The findings whose fixes were applied, and those refused because they made new ones.
    applied: list[Finding] = field(default_factory=list)
    refused: list[Finding] = field(default_factory=list)
    # The findings of the fixed text.
    remaining: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def is_applicable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and (finding.fix.safe or unsafe)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _offsets(span: Span, starts: list[int], length: int) -> tuple[int, int] | None:
    if not (1 <= span.line < len(starts) + 1 and 1 <= span.end_line < len(starts) + 1):
        return None
    start = starts[span.line - 1] + span.column - 1
    end = starts[span.end_line - 1] + span.end_column - 1
    return (start, end) if 0 <= start <= end <= length else None


def apply_edits(text: str, findings: list[Finding]) -> tuple[str, list[Finding]]:
    """Apply the fixes of `findings` that do not overlap an earlier one (by position)."""
    starts = _line_starts(text)
    edits: list[tuple[int, int, str, Finding]] = []
    for finding in findings:
        assert finding.fix is not None
        where = _offsets(finding.fix.span or finding.span, starts, len(text))
        if where is not None:
            edits.append((*where, finding.fix.replacement, finding))
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    chosen: list[tuple[int, int, str, Finding]] = []
    for edit in edits:
        if not chosen or edit[0] >= chosen[-1][1]:
            chosen.append(edit)
    for start, end, replacement, _ in reversed(chosen):
        text = text[:start] + replacement + text[end:]
    return text, [edit[3] for edit in chosen]


def _signature(finding: Finding) -> tuple[str, str]:
    # Positions move when text is edited; what a finding says does not.
    return finding.code, finding.message


def creates_new_findings(before: list[Finding], fixed: list[Finding], after: list[Finding]) -> bool:
    expected = Counter(_signature(f) for f in before) - Counter(_signature(f) for f in fixed)
    return bool(Counter(_signature(f) for f in after) - expected)


def fix_text(text: str, lint: Lint, unsafe: bool = False) -> FixResult:
    """Apply every applicable fix of `lint(text)` that does not create a new finding."""
    result = FixResult(text, remaining=lint(text))
    refused: set[tuple[str, str]] = set()
    for _ in range(_MAX_ROUNDS):
        candidates = [
            f for f in result.remaining if is_applicable(f, unsafe) and _signature(f) not in refused
        ]
        if not candidates:
            break
        if _try(result, candidates, lint):
            continue
        # Together they make a new finding: apply the first that does not, refuse the
        # ones before it, and start again on the new text (positions have moved).
        for candidate in candidates:
            if _try(result, [candidate], lint):
                break
            refused.add(_signature(candidate))
            result.refused.append(candidate)
    return result


def _try(result: FixResult, candidates: list[Finding], lint: Lint) -> bool:
    text, applied = apply_edits(result.text, candidates)
    if not applied:
        return False
    after = lint(text)
    if creates_new_findings(result.remaining, applied, after):
        return False
    result.text, result.remaining = text, after
    result.applied.extend(applied)
    return True


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


@dataclass(frozen=True)
class FileFix:
    """Fixing one file: the code before and after (for a diff) and what to write."""

    before: str
    after: str
    content: str
    result: FixResult


def fix_file(path: Path, settings: Settings, unsafe: bool = False) -> FileFix | None:
    """What fixing `path` gives; None when it cannot be read."""
    from nanlint.api import check_source

    if path.suffix == ".ipynb":
        return _fix_notebook(path, settings, unsafe)
    text = read_source(path)
    if isinstance(text, Unreadable):
        return None
    result = fix_text(text, lambda source: check_source(source, str(path), settings), unsafe)
    return FileFix(text, result.text, result.text, result)


def _fix_notebook(path: Path, settings: Settings, unsafe: bool) -> FileFix | None:
    from nanlint.api import check_source
    from nanlint.notebook import read_notebook, write_back

    notebook = read_notebook(path)
    if isinstance(notebook, Unreadable):
        return None
    lint = lambda source: check_source(source, str(path), settings)  # noqa: E731
    result = fix_text(notebook.text, lint, unsafe)
    content = write_back(notebook, result.text) if result.changed else None
    if result.changed and content is None:
        # A fix added or removed lines, so the cells cannot be rebuilt: refuse them all.
        result = FixResult(notebook.text, refused=result.refused + result.applied, remaining=lint(notebook.text))
    return FileFix(notebook.text, result.text, content or "", result)


def write_text(path: Path, text: str) -> None:
    """Write back in the file's own encoding (coding cookie or BOM), newlines untouched."""
    with open(path, "rb") as handle:
        encoding, _ = tokenize.detect_encoding(handle.readline)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
