"""Read a source file as Python would: coding cookie or BOM, else UTF-8."""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unreadable:
    """Why a file's text could not be obtained, and where (1-based line and column)."""

    reason: str
    line: int = 1
    column: int = 1


def decode_source(data: bytes) -> str | Unreadable:
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        return Unreadable("it contains NUL bytes, so it is not Python source", line)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        return Unreadable(f"bad coding cookie: {error.msg}", error.lineno or 1)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        return Unreadable(f"byte 0x{data[error.start]:02x} is not valid {encoding}: add a coding cookie or re-encode the file", line, column)
    except LookupError:
        return Unreadable(f"unknown encoding {encoding!r} in the coding cookie")
    return text


def read_source(path: Path) -> str | Unreadable:
    try:
        data = path.read_bytes()
    except OSError as error:
        return Unreadable(f"cannot read it ({error.strerror or error})")
    return decode_source(data)
