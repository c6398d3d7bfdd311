"""Jupyter notebooks: the code cells as one Python text, and positions back to cells.

The code cells are joined in order, so an import in cell 1 resolves a call in cell 3,
and analysed once. IPython syntax is replaced by `pass` at the same indentation (line
magics `%time`, shell lines `!pip`, help `x?`, `files = !ls`), and a cell that starts
with a cell magic is skipped whole unless its body is Python (`%%time`, `%%capture`).
Line numbers are kept, so a finding maps back to a cell and a line in it. Cells are
numbered from 1, counting every cell (markdown too) as Jupyter and VS Code show them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nanlint.findings import Finding, Span
from nanlint.reading import Unreadable

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_IPYTHON_LINE = re.compile(r"^\s*(?:[%!]|\S.*\?\??\s*$|[\w.]+\s*=\s*[%!])")


@dataclass(frozen=True)
class Notebook:
    document: dict[str, Any]
    # The analysed text, and for each of its lines (0-based) its cell number (1-based)
    # and its line in that cell (1-based).
    text: str
    lines: tuple[tuple[int, int], ...]
    # The lines replaced by `pass`: kept as written when fixes are written back.
    replaced: frozenset[int]

    def cell_source(self, cell: int) -> str:
        return _joined(self.document["cells"][cell - 1].get("source", ""))


def _joined(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _python_lines(source: str) -> tuple[list[str], set[int]]:
    """The cell's lines with IPython syntax replaced by `pass`, and which were replaced."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return ["pass"] * len(lines), set(range(len(lines)))
        return ["pass", *lines[1:]], {0}
    replaced = {i for i, line in enumerate(lines) if _IPYTHON_LINE.match(line) and not line.lstrip().startswith("#")}
    python = [
        line[: len(line) - len(line.lstrip())] + "pass" if i in replaced else line for i, line in enumerate(lines)
    ]
    return python, replaced


def parse_notebook(data: str) -> Notebook | Unreadable:
    try:
        document = json.loads(data)
    except ValueError as error:
        return Unreadable(f"not a Jupyter notebook ({type(error).__name__}: {error})")
    except RecursionError:  # the JSON decoder recurses per nested array or object
        return Unreadable("not a Jupyter notebook (its JSON nests too deeply to read)")
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        return Unreadable("not a Jupyter notebook (no `cells` list at the top level of its JSON)")
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        if not isinstance(source, str) and not (isinstance(source, list) and all(isinstance(s, str) for s in source)):
            return Unreadable(f"cell {number}: `source` is neither a string nor a list of strings")
    text_lines: list[str] = []
    positions: list[tuple[int, int]] = []
    replaced: set[int] = set()
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        python, magic = _python_lines(_joined(cell.get("source", "")))
        replaced.update(len(text_lines) + i for i in magic)
        text_lines.extend(python)
        positions.extend((number, line) for line in range(1, len(python) + 1))
    return Notebook(document, "".join(line + "\n" for line in text_lines), tuple(positions), frozenset(replaced))


def read_notebook(path: Path) -> Notebook | Unreadable:
    try:
        data = path.read_bytes()
    except OSError as error:
        return Unreadable(f"cannot read it ({error.strerror or error})")
    return decode_notebook(data)


def decode_notebook(data: bytes) -> Notebook | Unreadable:
    """A notebook from the bytes of its file (JSON is whitespace-blind: newlines need no translation)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return Unreadable(f"a notebook is UTF-8 JSON, but byte {error.start} is not UTF-8")
    return parse_notebook(text)


def _cell_span(notebook: Notebook, span: Span) -> tuple[int, Span]:
    # A syntax error can be placed one line past the end ("expected an indented block").
    cell, line = notebook.lines[min(span.line, len(notebook.lines)) - 1]
    end_cell, end_line = notebook.lines[min(span.end_line, len(notebook.lines)) - 1]
    if end_cell != cell:  # a span that ran past the cell's end: stop at the cell's last line
        end_line = max(l for c, l in notebook.lines if c == cell)
    return cell, Span(line, span.column, end_line, span.end_column)


def to_cells(notebook: Notebook, finding: Finding) -> Finding:
    """The finding with its position (and its fix's) in the cell it belongs to."""
    if not notebook.lines:
        return finding
    cell, span = _cell_span(notebook, finding.span)
    fix = finding.fix
    if fix is not None and fix.span is not None:
        fix = replace(fix, span=_cell_span(notebook, fix.span)[1])
    return replace(
        finding, cell=cell, line=span.line, column=span.column, end_line=span.end_line,
        end_column=span.end_column, fix=fix,
    )


def write_back(notebook: Notebook, fixed_text: str) -> str | None:
    """The notebook JSON with the fixed code; None when a fix added or removed lines."""
    fixed = fixed_text.splitlines()
    if len(fixed) != len(notebook.lines):
        return None
    by_cell: dict[int, list[str]] = {}
    for index, (cell, line) in enumerate(notebook.lines):
        if index in notebook.replaced:  # IPython syntax: put it back as written
            by_cell.setdefault(cell, []).append(notebook.cell_source(cell).splitlines()[line - 1])
        else:
            by_cell.setdefault(cell, []).append(fixed[index])
    document = json.loads(json.dumps(notebook.document))
    for cell, lines in by_cell.items():
        ending = "\n" if notebook.cell_source(cell).endswith("\n") else ""
        document["cells"][cell - 1]["source"] = ("\n".join(lines) + ending).splitlines(keepends=True)
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
