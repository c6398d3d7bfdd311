"""The rule catalog: metadata read from the rule documents in `rules/NANxxx.md`.

A rule's name, severity, message template and fix kind live in its document's TOML
front matter, so the document, the CLI's `nanlint rule CODE` and the findings never
disagree. Implementations (static checks, graph checks) only hold logic.
"""
from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from nanlint.findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DOCS_URL = "https://github.com/nanlint/nanlint/blob/main/rules/{code}.md"

_FRONT_MATTER = re.compile(r"\A\+\+\+\n(.*?)\n\+\+\+\n", re.DOTALL)
_FENCE = re.compile(r"^```python[ \t]+(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Example:
    kind: str  # "bad", "good" or "demo"
    code: str
    # 1-based line of the first code line inside the document (to point at failures).
    doc_line: int


@dataclass(frozen=True)
class RuleMeta:
    code: str
    name: str
    severity: Severity
    analyzers: tuple[str, ...]
    message: str
    fix: str  # "none" | "safe" | "unsafe"
    default: bool
    body: str
    path: Path
    # Line of the document on which `body` starts, to point test failures at the document.
    body_line: int
    # The rule's options and their defaults (front matter `[options]`), settable per rule
    # in `[tool.nanlint.options.NANxxx]`; the default's type is the option's type.
    options: Mapping[str, Any] = field(default_factory=dict)
    # One line for tables, `nanlint rules` and SARIF: front matter `summary`, else the
    # first sentence of "What it does".
    summary: str = ""

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    def examples(self, kind: str | None = None) -> list[Example]:
        found = []
        for match in _FENCE.finditer(self.body):
            if kind is None or match.group(1) == kind:
                line = self.body_line + self.body.count("\n", 0, match.start(2))
                found.append(Example(match.group(1), match.group(2), line))
        return found

    def format_message(self, **fields: object) -> str:
        return self.message.format(**fields)


def rules_dir() -> Path:
    """Where the rule documents are: inside the wheel, or the repository's `rules/`."""
    packaged = Path(__file__).parent / "_rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


def _first_sentence(body: str) -> str:
    match = re.search(r"## What it does\n+(.+?)(?:\n\n|\Z)", body, re.DOTALL)
    if not match:
        return ""
    return " ".join(match.group(1).split()).split(". ")[0].rstrip(".:") + "."


def parse_rule_document(path: Path) -> RuleMeta:
    text = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ValueError(f"{path}: a rule document starts with +++ TOML front matter +++")
    meta = tomllib.loads(match.group(1))
    return RuleMeta(
        code=meta["code"],
        name=meta["name"],
        severity=Severity(meta["severity"]),
        analyzers=tuple(meta["analyzers"]),
        message=meta["message"],
        fix=meta.get("fix", "none"),
        default=meta.get("default", True),
        body=text[match.end():],
        path=path,
        body_line=text.count("\n", 0, match.end()) + 1,
        options=meta.get("options", {}),
        summary=meta.get("summary") or _first_sentence(text[match.end():]) or meta["name"],
    )


@functools.lru_cache(maxsize=None)
def load_catalog() -> dict[str, RuleMeta]:
    rules = {}
    for path in sorted(rules_dir().glob("NAN*.md")):
        meta = parse_rule_document(path)
        rules[meta.code] = meta
    return rules


def rule(code: str) -> RuleMeta:
    return load_catalog()[code]
