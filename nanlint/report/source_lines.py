"""The source line a finding points at, for the text report's snippet."""
from __future__ import annotations

from pathlib import Path

from nanlint.findings import Finding
from nanlint.notebook import read_notebook
from nanlint.reading import Unreadable, read_source


class SourceLines:
    """Reads each file once; `texts` holds what is not on disk (stdin) by its shown path."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._lines: dict[str, list[str] | None] = {
            path: text.splitlines() for path, text in (texts or {}).items()
        }

    def __call__(self, finding: Finding) -> str | None:
        key = finding.path if finding.cell is None else f"{finding.path}\0{finding.cell}"
        if key not in self._lines:
            text = self._read(finding)
            self._lines[key] = None if isinstance(text, Unreadable) else text.splitlines()
        lines = self._lines[key]
        if lines is None or not 1 <= finding.line <= len(lines):
            return None
        return lines[finding.line - 1]

    def _read(self, finding: Finding) -> str | Unreadable:
        if finding.cell is None:
            return read_source(Path(finding.path))
        notebook = read_notebook(Path(finding.path))
        return notebook if isinstance(notebook, Unreadable) else notebook.cell_source(finding.cell)
