"""Read a source file as Python would: coding cookie or BOM, else UTF-8."""
from __future__ import annotations

import codecs
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unreadable:
    """Why a file's text could not be obtained, and where (1-based line and column)."""

    reason: str
    line: int = 1
    column: int = 1


# PEP 263: a comment matching this on line 1 or 2 declares the encoding.
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def decode_source(data: bytes) -> str | Unreadable:
    if b"\0" in data:
        line, column = _line_and_column(data, data.index(b"\0"))
        return Unreadable("it contains NUL bytes, so it is not Python source", line, column)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        # tokenize blames the cookie for any bad UTF-8 in the first two lines, cookie or not.
        if _COOKIE.search(b"\n".join(data.removeprefix(codecs.BOM_UTF8).split(b"\n", 2)[:2])):
            if data.startswith(codecs.BOM_UTF8):
                return Unreadable("it starts with a UTF-8 byte-order mark, but its coding cookie names another encoding")
            return Unreadable(f"bad coding cookie: {error.msg}", error.lineno or 1)
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line, column = _line_and_column(data, error.start)
        return Unreadable(
            f"byte 0x{data[error.start]:02x} is not valid {encoding.removesuffix('-sig')}: add a coding cookie or re-encode the file",
            line,
            column,
        )
    except LookupError:
        return Unreadable(f"unknown encoding {encoding!r} in the coding cookie")
    return text


def read_source(path: Path) -> str | Unreadable:
    try:
        data = path.read_bytes()
    except OSError as error:
        return Unreadable(f"cannot read it ({error.strerror or error})")
    return decode_source(data)
