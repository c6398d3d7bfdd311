"""`--statistics`: how many findings of each code, instead of the findings themselves."""
from __future__ import annotations

import json
from dataclasses import dataclass

from nanlint.catalog import load_catalog
from nanlint.report import RunSummary


@dataclass(frozen=True)
class CodeCount:
    code: str
    name: str
    count: int
    fixable: int


def counts(summary: RunSummary) -> list[CodeCount]:
    catalog = load_catalog()
    rows = []
    for code, count in summary.by_code().items():
        fixable = sum(1 for f in summary.findings if f.code == code and f.fix is not None)
        name = catalog[code].name if code in catalog else ""
        rows.append(CodeCount(code, name, count, fixable))
    return sorted(rows, key=lambda row: (-row.count, row.code))


def render_text(summary: RunSummary) -> str:
    rows = counts(summary)
    if not rows:
        return f"No NaN/Inf hazards found in {summary.scope()}.\n"
    width = max(len(str(row.count)) for row in rows)
    lines = [
        f"{row.count:>{width}}  {row.code}  {row.name}" + (f"  ({row.fixable} fixable)" if row.fixable else "")
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def render_json(summary: RunSummary) -> str:
    return json.dumps([row.__dict__ for row in counts(summary)], indent=2) + "\n"
