"""The source line a finding points at, for the text report's snippet."""
from __future__ import annotations

from pathlib import Path

from nanlint.findings import Finding
from nanlint.reading import Unreadable, read_source


class SourceLines:
    """Reads each file once; `texts` holds what is not on disk (stdin) by its shown path."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._lines: dict[str, list[str] | None] = {
            path: text.splitlines() for path, text in (texts or {}).items()
        }

    def __call__(self, finding: Finding) -> str | None:
        if finding.cell is not None:
            return None
        if finding.path not in self._lines:
            text = read_source(Path(finding.path))
            self._lines[finding.path] = None if isinstance(text, Unreadable) else text.splitlines()
        lines = self._lines[finding.path]
        if lines is None or not 1 <= finding.line <= len(lines):
            return None
        return lines[finding.line - 1]
