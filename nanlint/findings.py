"""The one shared result type: every analyzer produces `Finding`s, every formatter reads them.

No libcst or torch import here: formatters, the CLI and the cache only need these types.
Positions are 1-based; `end_column` is one past the last character (as in ruff's JSON),
so a one-character span at column 5 has `end_column == 6`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, Mapping


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Analyzer(str, enum.Enum):
    STATIC = "static"
    GRAPH = "graph"
    RUNTIME = "runtime"


@dataclass(frozen=True)
class Span:
    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class Evidence:
    """What one analyzer saw at this place.

    `node` and `module` are the fx node name and module path (graph, runtime);
    `extra` holds machine-readable details (a computed range, a witness input).
    """

    analyzer: Analyzer
    detail: str
    node: str | None = None
    module: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fix:
    """A text replacement for `span` (defaults to the finding's own span when applied)."""

    description: str
    replacement: str
    safe: bool
    span: Span | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    evidence: tuple[Evidence, ...] = ()
    fix: Fix | None = None
    # Index of the notebook cell the position refers to; None for plain files.
    cell: int | None = None

    @property
    def span(self) -> Span:
        return Span(self.line, self.column, self.end_line, self.end_column)

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        return tuple(dict.fromkeys(e.analyzer for e in self.evidence))

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell if self.cell is not None else -1, self.line, self.column, self.code)

    def with_evidence(self, more: tuple[Evidence, ...]) -> Finding:
        return replace(self, evidence=self.evidence + more)
