"""Path patterns for `exclude` and `per-file-ignores`, with ruff's rules.

A pattern without a slash matches a file or folder name anywhere (`build`,
`test_*.py`); a pattern with a slash is anchored at the folder of the configuration
file that declared it (`tests/**/*.py`, `scripts/*.py`), so it is stored absolute.
`*` and `?` stay within one path component, `**` spans any number of them.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path


def anchor(pattern: str, base: Path) -> str:
    """The stored form of `pattern` declared in a config file in folder `base`."""
    pattern = pattern.replace("\\", "/").rstrip("/")
    if "/" not in pattern:
        return pattern
    return (base.absolute() / pattern.removeprefix("./")).as_posix()


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + r"\Z")


def matches(path: Path | str, pattern: str) -> bool:
    """Whether `path` (a file or folder) matches a stored pattern.

    A name pattern matches the last component; an anchored pattern the absolute path or
    any folder above it, so `build/**` and `build` both exclude what is inside `build`.
    """
    return _matches(Path(path).absolute().as_posix(), pattern)


def _matches(text: str, pattern: str) -> bool:
    if "/" not in pattern:
        return bool(_compile(pattern).match(text.rsplit("/", 1)[-1]))
    compiled = _compile(pattern)
    while True:
        if compiled.match(text):
            return True
        parent = text.rsplit("/", 1)[0]
        if not parent or parent == text:
            return False
        text = parent


def matches_any(path: Path | str, patterns: tuple[str, ...]) -> bool:
    # The absolute text once, not per pattern, and without pathlib: a folder walk asks
    # this for every file, and Path.absolute() cost 7 s on 20,000 files.
    text = os.path.join(os.getcwd(), path) if not os.path.isabs(path) else os.fspath(path)
    text = os.path.normpath(text) if "/." in text or "//" in text else text
    return any(_matches(text.replace(os.sep, "/"), p) for p in patterns)
