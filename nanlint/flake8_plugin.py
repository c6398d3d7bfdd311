"""The flake8 plugin: nanlint's static findings, with the CLI's codes and columns.

flake8 imports this module through the `flake8.extension` entry point `NAN`; nothing
here imports flake8. flake8 shows the column it is given plus one, so the 1-based
column of a finding is given as `column - 1` and prints as the CLI prints it. The
settings come from the `[tool.nanlint]` that applies to the file, as for the CLI.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Iterator

from nanlint import __version__
from nanlint.config import Settings, config_for, find_config


@functools.lru_cache(maxsize=64)
def _settings(config: Path | None) -> Settings:
    return config_for(Path.cwd(), config).settings if config is not None else Settings()


class Flake8Plugin:
    name = "nanlint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        # `tree` makes flake8 run this once per file; the analysis parses with libcst.
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        from nanlint.api import check_text

        start = Path(self.filename) if self.filename not in ("stdin", "-") else Path.cwd()
        settings = _settings(find_config(start))
        for finding in check_text("".join(self.lines), self.filename, settings):
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
