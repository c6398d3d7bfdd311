"""`nanlint rules` (a table) and `nanlint rule CODE` (the document, for a terminal)."""
from __future__ import annotations

import re
from typing import Iterable

from nanlint.catalog import RuleMeta

_FENCE = re.compile(r"^```(\w*)[ \t]*(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
_LABELS = {"bad": "Flagged:", "good": "Not flagged:", "demo": "Input that makes the bad example non-finite:"}


def fixable(meta: RuleMeta) -> str:
    return {"safe": "safe", "unsafe": "unsafe"}.get(meta.fix, "")


def rules_table(rules: Iterable[RuleMeta]) -> str:
    header = ("code", "name", "analyzers", "fix", "default", "summary")
    rows = [
        (m.code, m.name, ",".join(m.analyzers), fixable(m), "on" if m.default else "off", m.summary)
        for m in rules
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def _style(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def render_rule(meta: RuleMeta, terminal: bool, colour: bool = False) -> str:
    """The rule's document: plain Markdown in a pipe; on a terminal, headings styled,
    code blocks indented and labelled, backticks dropped."""
    facts = (
        f"severity: {meta.severity.value} | analyzers: {', '.join(meta.analyzers)} | "
        f"fix: {meta.fix} | default: {'on' if meta.default else 'off'}\n{meta.url}\n"
    )
    body = meta.body.strip()
    if not terminal:
        return f"{body}\n\n{facts}"
    return _terminal(body, colour) + "\n" + facts


def _terminal(markdown: str, colour: bool) -> str:
    def block(match: re.Match[str]) -> str:
        label = _LABELS.get(match.group(2), "")
        code = "".join(f"    {line}\n" if line.strip() else "\n" for line in match.group(3).splitlines())
        return (_style(label, "2", colour) + "\n" if label else "") + _style(code.rstrip("\n"), "36", colour)

    parts = []
    last = 0
    for match in _FENCE.finditer(markdown):
        parts.append(_prose(markdown[last:match.start()], colour))
        parts.append(block(match) + "\n")
        last = match.end() + 1
    parts.append(_prose(markdown[last:], colour))
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip() + "\n"


def _prose(text: str, colour: bool) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# "):
            line = _style(line[2:].rstrip("\n"), "1;4", colour) + "\n"
        elif line.startswith("## "):
            line = _style(line[3:].rstrip("\n"), "1", colour) + "\n"
        else:
            line = re.sub(r"`([^`]+)`", lambda m: _style(m.group(1), "36", colour), line)
        lines.append(line)
    return "".join(lines)
