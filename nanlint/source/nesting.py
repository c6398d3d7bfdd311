"""How deeply a file nests, bounded from its text before libcst parses it.

libcst's native parser recurses once per nesting level: past about 2,000 levels it
overflows the C stack (a segfault, which no `except` catches), and its time grows faster
than the depth (a 3,000-term `a + a + ...` chain takes 35 s to parse, 20,000 terms
hours). After the parse, libcst's code generator (positions.py replays it) and the value
analysis recurse once or twice per level and reach Python's recursion limit at a few
hundred. So each logical line's depth is bounded from above here, in one regex pass
that skips strings and comments:

- a segment (the text between commas at one bracket level) costs its characters, one
  per string (implicit concatenation nests) and two per bracket group in it (trailers
  such as `a[0][0]` nest); a bracket group costs its costliest segment;
- a segment's bound is its cost plus the largest bound of a group inside it (one path
  from the root to a leaf crosses one group per level).

Characters over-count, so a line whose bound passes `SHALLOW` is measured again
counting tokens instead. Whitespace and names over-count even then; the bound is
never below the real depth, which is what keeps the parser safe.
"""
from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

# Deeper lines run with a large stack and recursion limit (see `deep_stack`).
SHALLOW = 150
# Deeper lines are not parsed: libcst would take seconds per line, then minutes, then
# crash. Python itself refuses 200 nested brackets; hand-written code stays far below.
MAX_DEPTH = 1000

_TOKENS = re.compile(
    # The lookahead lets the regex engine skip to the next candidate character at C
    # speed (4x faster on torch's sources). String prefixes need no matching: `r"\""`
    # skips like `"\""`.
    r"(?=[\"'#()\[\]{},;\\\r\n]|\Z)(?:"
    r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
    r'|"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"'
    r"|'[^'\\\r\n]*(?:\\.[^'\\\r\n]*)*'"
    r"|(?P<comment>#[^\r\n]*)"
    r"|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<sep>[,;])"
    r"|(?P<join>\\\r?\n)|(?P<newline>\r\n?|\n)|(?P<end>\Z))",
    re.DOTALL,
)
# For lines between SHALLOW and MAX_DEPTH: a thread stack that holds libcst's native
# recursion and ours at MAX_DEPTH with room to spare (only touched pages are committed).
_DEEP_STACK = 256 * 1024 * 1024
_DEEP_RECURSION = 50_000
_DEEP_LOCK = threading.Lock()

_WORDS = re.compile(r"\w+|[^\w\s]")
_BRACES = re.compile(r"\{\{|\}\}|[{}]")
_INDENT = re.compile(r"[ \t\f]*")


@dataclass(frozen=True)
class Nesting:
    """The largest depth bound of the file's logical lines, and the first line of it."""

    depth: int
    line: int


def _lines(text: str, start: int, end: int, tokens: bool) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The deepest logical line of text[start:end] as (bound, start), and the (start, end)
    of every line whose bound passes SHALLOW."""
    deepest, deep = (0, start), []
    # The open bracket groups outside the current one, each as (cost, inner, widest);
    # for the current one: the cost of its current segment, the largest bound of a
    # group inside that segment, and the costliest segment so far.
    outer: list[tuple[int, int, int]] = []
    cost = inner = widest = 0
    line_start = gap = start
    for match in _TOKENS.finditer(text, start, end + 1):
        kind = match.lastgroup
        position = match.start()
        if position > gap:
            cost += len(_WORDS.findall(text, gap, position)) if tokens else position - gap
        gap = match.end()
        if kind == "end" or (kind == "newline" and not outer):
            while outer:  # brackets left open at the end: close them
                closed = max(widest, cost + inner)
                cost, inner, widest = outer.pop()
                cost, inner = cost + 2, max(inner, closed)
            bound = max(widest, cost + inner)
            if tokens:
                bound += _INDENT.match(text, line_start).end() - line_start
            if bound > deepest[0]:
                deepest = (bound, line_start)
            if bound > SHALLOW:
                deep.append((line_start, position))
            cost = inner = widest = 0
            line_start = gap
        elif kind is None:  # a string; an f-string's fields are code, and nest like code
            cost += 1 + (_field_cost(text, position, gap, tokens) if _formatted(text, position) else 0)
        elif kind == "sep":
            widest = max(widest, cost + inner)
            cost = inner = 0
        elif kind == "open":
            outer.append((cost, inner, widest))
            cost = inner = widest = 0
        elif kind == "close" and outer:  # an unmatched `)` is the parser's to report
            closed = max(widest, cost + inner)
            cost, inner, widest = outer.pop()
            cost, inner = cost + 2, max(inner, closed)
    return deepest, deep


def _formatted(text: str, quote: int) -> bool:
    """Whether the string starting at `quote` has an f (or t) prefix."""
    prefix = text[max(0, quote - 3) : quote]
    prefix = prefix[len(prefix.rstrip("rRbBuUfFtT")) :]
    return "f" in prefix.lower() or "t" in prefix.lower()


def _field_cost(text: str, start: int, end: int, tokens: bool) -> int:
    """What the replacement fields `{...}` of an f-string cost: their text, counted flat
    (no structure inside a string), twice for the wrappers libcst puts around each level."""
    cost = depth = field = 0
    for match in _BRACES.finditer(text, start, end):
        brace = match.group()
        if depth == 0:
            if brace == "{":  # `{{` and `}}` outside a field are literal braces
                depth, field = 1, match.end()
            continue
        depth += brace.count("{") - brace.count("}")
        if depth <= 0:
            cost += 2 + 2 * (len(_WORDS.findall(text, field, match.start())) if tokens else match.start() - field)
            depth = 0
    if depth > 0:  # a field left open: the rest of the string
        cost += 2 + 2 * (len(_WORDS.findall(text, field, end)) if tokens else end - field)
    return cost


def deepest_line(text: str) -> Nesting:
    """An upper bound of the nesting depth of the deepest logical line."""
    (depth, at), deep = _lines(text, 0, len(text), tokens=False)
    if depth > SHALLOW:
        depth, at = max(_lines(text, start, end, tokens=True)[0] for start, end in deep)
    return Nesting(depth, text.count("\n", 0, at) + 1)


Result = TypeVar("Result")


def deep_stack(function: Callable[[], Result]) -> Result:
    """`function()` on a thread with a large stack and recursion limit; raises what it raises.

    The recursion limit is per process, so it is raised only while the thread runs, and
    deep files go one at a time.
    """
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as error:  # handed back to the caller's thread
            outcome.append((False, error))

    with _DEEP_LOCK:
        _return_freed_memory()
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _DEEP_RECURSION))
        try:
            stack = threading.stack_size(_DEEP_STACK)
            try:
                thread = threading.Thread(target=run, name="nanlint-deep")
                thread.start()
            finally:
                threading.stack_size(stack)
            thread.join()
        finally:
            sys.setrecursionlimit(limit)
        _return_freed_memory()
    finished, value = outcome[0]
    if not finished:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]


def _return_freed_memory() -> None:
    """Hand the memory that malloc holds free back to the system (glibc only).

    glibc gives a new thread a malloc arena of its own: the deep thread's parse grows a
    fresh one (25 MB for torch/nn/attention/flex_attention.py) on top of what the main
    arena keeps resident after earlier files (80 MB free after torch's largest file),
    and that arena stays resident after the thread ends. Trimming before and after
    keeps a worker's peak at what the largest file needs (measured: 160 -> 130 MB).
    Each trim takes under 10 ms; deep files are a few in a thousand.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here: only a deep file pays for it

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # a C library without it (musl)
        return
    trim(0)
