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


def test_every_hazard_kind_has_at_least_two_flagged_variants():
    per_code: dict[str, int] = {}
    for path in FIXTURES:
        for _, code in expected_markers(path.read_text()):
            per_code[code] = per_code.get(code, 0) + 1
    thin = {code: n for code, n in per_code.items() if n < 2}
    assert not thin, f"codes with fewer than two variants: {thin}"
