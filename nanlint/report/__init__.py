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
    # Models traced or probed (trace targets), counted apart from the files read.
    targets: int = 0

    def scope(self) -> str:
        """What the run looked at, for a summary line: `3 files`, `1 model`, `3 files and 1 model`."""
        parts = [] if self.targets and not self.files else [_plural(self.files, "file")]
        if self.targets:
            parts.append(_plural(self.targets, "model"))
        return " and ".join(parts)

    def by_code(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.code] = counts.get(finding.code, 0) + 1
        return dict(sorted(counts.items()))


Formatter = Callable[[RunSummary], str]


def formatter(name: str, statistics: bool = False) -> Formatter:
    """The formatter for `--format name` (`--statistics`: counts by code, text or json)."""
    # Only the module of the chosen format is imported: the command line starts faster.
    if statistics:
        from nanlint.report import statistics as stats

        return {"text": stats.render_text, "json": stats.render_json}[name]
    if name == "text":
        from nanlint.report.text import render
    elif name == "json":
        from nanlint.report.json_format import render
    elif name == "sarif":
        from nanlint.report.sarif import render
    else:
        from nanlint.report.github import render
    return render


FORMATS = ("text", "json", "sarif", "github")
STATISTICS_FORMATS = ("text", "json")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
