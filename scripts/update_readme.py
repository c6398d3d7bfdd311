"""Regenerate the README's rule table from the rule documents.

    python scripts/update_readme.py          # rewrite the table in place
    python scripts/update_readme.py --check  # exit 1 if the table is stale (the tests do this)
"""
from __future__ import annotations

import sys
from pathlib import Path

from nanlint.catalog import load_catalog

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- rules:start -->", "<!-- rules:end -->"


def rule_table() -> str:
    rows = ["| code | name | analyzers | severity | fix | flags |", "|---|---|---|---|---|---|"]
    for meta in load_catalog().values():
        fix = "" if meta.fix == "none" else meta.fix
        default = "" if meta.default else " (off by default)"
        rows.append(
            f"| [{meta.code}](rules/{meta.code}.md) | {meta.name} | {', '.join(meta.analyzers)} "
            f"| {meta.severity.value} | {fix} | {meta.summary}{default} |"
        )
    return "\n".join(rows)


def updated(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{rule_table()}\n{END}{tail}"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    fresh = updated(text)
    if "--check" in sys.argv:
        if fresh != text:
            print("README.md's rule table is stale: run python scripts/update_readme.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
