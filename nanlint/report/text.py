"""`path:line:col: CODE message`, one finding a line, then a summary line.

On a terminal each finding also shows its source line with a caret under the span,
and colours (unless NO_COLOR is set); in a pipe or a file the output is plain.
"""
from __future__ import annotations

from typing import Callable

from nanlint.findings import Finding, Severity
from nanlint.report import RunSummary

# The text of a finding's first line, when it can be shown.
LineSource = Callable[[Finding], "str | None"]

_SEVERITY_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def location(finding: Finding) -> str:
    if finding.cell is not None:
        return f"{finding.path}:cell {finding.cell}:{finding.line}:{finding.column}"
    return f"{finding.path}:{finding.line}:{finding.column}"


def snippet(finding: Finding, line: str, colour: bool = False) -> list[str]:
    """The source line and a caret under the span (to the end of the line if it goes on)."""
    line = line.rstrip("\r\n")
    start = max(finding.column - 1, 0)
    end = finding.end_column - 1 if finding.end_line == finding.line else len(line)
    width = max(end - start, 1)
    # Keep tabs so the caret lines up however the terminal expands them.
    pad = "".join("\t" if char == "\t" else " " for char in line[:start])
    number = str(finding.line)
    gutter = " " * len(number)
    caret = _paint("^" * width, _SEVERITY_COLOURS[finding.severity], colour)
    return [f"  {gutter} |", f"  {number} | {line}", f"  {gutter} | {pad}{caret}"]


def render(
    summary: RunSummary, *, show_source: bool = False, colour: bool = False, lines: LineSource | None = None
) -> str:
    out = []
    for finding in summary.findings:
        analyzers = "+".join(a.value for a in finding.analyzers)
        code = _paint(finding.code, "1;" + _SEVERITY_COLOURS[finding.severity], colour)
        out.append(f"{_paint(location(finding), '1', colour)}: {code} {finding.message} [{analyzers}]")
        for evidence in finding.evidence:
            where = f" {evidence.module}" if evidence.module else ""
            out.append(f"    {evidence.analyzer.value}{where}: {evidence.detail}")
        text = lines(finding) if show_source and lines is not None else None
        if text is not None:
            out.extend(snippet(finding, text, colour))
    count = len(summary.findings)
    if count:
        by_code = ", ".join(f"{code} x{n}" for code, n in summary.by_code().items())
        safe = sum(1 for f in summary.findings if f.fix is not None and f.fix.safe)
        unsafe = sum(1 for f in summary.findings if f.fix is not None and not f.fix.safe)
        hint = (f" {safe} fixable with --fix." if safe else "") + (
            f" {unsafe} {'more ' if safe else ''}fixable with --unsafe-fixes." if unsafe else "")
        out.append(f"Found {count} finding{'s' if count != 1 else ''} in {summary.scope()} ({by_code}).{hint}")
    else:
        out.append(f"No NaN/Inf hazards found in {summary.scope()}.")
    return "\n".join(out) + "\n"
