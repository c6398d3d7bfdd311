"""Shared test helpers: run the static analyzer on text, read `# expect:` markers."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from nanlint.config import Settings
from nanlint.findings import Finding
from nanlint.source.engine import analyze_source

REPO = Path(__file__).resolve().parent.parent

_EXPECT = re.compile(r"#\s*expect:\s*([A-Z0-9, ]+)")


def lint(source: str, path: str = "example.py", **settings: object) -> list[Finding]:
    """Static findings for dedented `source`, sorted by position."""
    findings = analyze_source(textwrap.dedent(source), path, Settings(**settings))  # type: ignore[arg-type]
    return sorted(findings, key=Finding.sort_key)


def codes_by_line(source: str, **settings: object) -> set[tuple[int, str]]:
    return {(f.line, f.code) for f in lint(source, **settings)}


def expected_markers(source: str) -> set[tuple[int, str]]:
    """{(line, code)} from `# expect: NAN101, NAN301` comments."""
    expected = set()
    for number, line in enumerate(textwrap.dedent(source).splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            expected.update((number, code.strip()) for code in match.group(1).split(",") if code.strip())
    return expected


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


needs_torch = pytest.mark.skipif(not torch_available(), reason="torch is not installed (pip install torch==2.13.0)")
