"""Formatters: a list of findings and a summary in, text out. They never analyse."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from nanlint.findings import Finding


@dataclass(frozen=True)
class RunSummary:
    files: int
    findings: list[Finding]
    # One-line problems that are not findings: a missing path, a bad glob.
    errors: list[str] = field(default_factory=list)

    def by_code(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        return dict(sorted(counts.items()))


Formatter = Callable[[RunSummary], str]


def formatter(name: str) -> Formatter:
    from nanlint.report import json_format, text

    formatters: dict[str, Formatter] = {"text": text.render, "json": json_format.render}
    return formatters[name]


FORMATS = ("text", "json")
