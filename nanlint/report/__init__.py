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


def formatter(name: str, statistics: bool = False) -> Formatter:
    """The formatter for `--format name` (`--statistics`: counts by code, text or json)."""
    from nanlint.report import github, json_format, sarif, statistics as stats, text

    if statistics:
        return {"text": stats.render_text, "json": stats.render_json}[name]
    formatters: dict[str, Formatter] = {
        "text": text.render, "json": json_format.render, "sarif": sarif.render, "github": github.render,
    }
    return formatters[name]


FORMATS = ("text", "json", "sarif", "github")
STATISTICS_FORMATS = ("text", "json")
