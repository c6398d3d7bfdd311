"""The variant fixtures: every `# expect:` marker is found, nothing else is.

`tests/fixtures/*.py` hold the other spellings of each hazard (aliases, method forms,
values flowing through variables) and the look-alikes that must stay quiet, marked
inline as in bugbear's tests. A first-line comment `# nanlint-test: precision=fp16` sets the
precision a file is checked with.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import codes_by_line, expected_markers

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.py"))
_SETTING = re.compile(r"#\s*nanlint-test:\s*(\w+)=(\w+)")


def _settings(source: str) -> dict[str, object]:
    first = source.splitlines()[0] if source else ""
    return {key: value for key, value in _SETTING.findall(first)}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_gives_exactly_its_markers(path: Path):
    source = path.read_text()
    assert codes_by_line(source, **_settings(source)) == expected_markers(source)


RULE_CODES = sorted({p.stem[:6].upper() for p in FIXTURES if re.match(r"nan\d{3}_", p.stem)})


@pytest.mark.parametrize("code", RULE_CODES)
def test_each_rule_has_at_least_two_flagged_variants(code: str):
    files = [p for p in FIXTURES if p.stem[:6].upper() == code]
    found = [(p.name, line) for p in files for line, marked in expected_markers(p.read_text()) if marked == code]
    assert len(found) >= 2, f"{code}: {len(found)} flagged variant(s) in {[p.name for p in files]}"
