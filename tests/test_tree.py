"""The fast children are libcst's children less whitespace and punctuation, in libcst's order."""
from __future__ import annotations

import libcst as cst
import pytest

from nanlint.source.tree import children
from tests.conftest import REPO

# Every kind of statement and expression (Python 3.12 syntax that libcst parses).
EVERY_SYNTAX = '''
"""Docstring."""
from __future__ import annotations
import os.path as osp, sys
from . import sibling
from ..pkg.mod import (a as b, c)
from m import *

@decorator
@other(1, key=2)
async def f(a, /, b: int = 1, *args: str, c, d=2, **kwargs) -> "T":
    global g
    nonlocal_ = lambda x, *y, z=1, **w: (x, y, z, w)
    async with open(a) as h, open(b):
        async for i, (j, k) in h:
            await i
    x: list[int] = [i for i in range(3) if i for j in range(i)]
    y = {k: v for k, v in x.items()}
    z = {v async for v in w}
    q = (v for v in x)
    del x[0], y[1:2], z[::3], q[1:2:3]
    return a if b else c

class C(Base, metaclass=M, **extra):
    attribute: int
    def method(self) -> None:
        nonlocal other
        yield from self
        yield
        raise ValueError("x") from None

try:
    pass
except (ValueError, TypeError) as error:
    pass
except Exception:
    raise
else:
    pass
finally:
    pass

try:
    pass
except* ValueError as group:
    pass

while not done and (x := next(it)) is not None or y in z:
    x += 1; x -= 1; x *= 2; x /= 2; x //= 2; x %= 2; x **= 2; x @= m; x &= 1; x |= 1; x ^= 1; x >>= 1; x <<= 1
    break
else:
    continue_ = ...

if a < b <= c != d == e > f >= g is not h not in i:
    assert x, "message"
elif -a + ~b - +c:
    pass
else:
    print(f"{a!r:>{width}} {b=} {c:{d}}", "implicit" "concat", r"raw", b"bytes", 1j, 0x1F, 1_000.5e-3)

match command:
    case [Point(x=0, y=0), *rest] if rest:
        pass
    case {"key": value, **others} | (1 | 2) as alias:
        pass
    case str() | None | True:
        pass
    case _:
        pass

type Alias[T: int, *Ts, **P] = list[T]

def generic[T](x: T) -> T:
    return x

with a, b as (c, d):
    x = [*a, *b]
    y = {**a, "k": 1}
    z = a[1, 2:3, ...]
    w = a.b.c(d)(e)[f]
    v = x @ y | z & w ^ u << 1 >> 2 // 3 % 4
'''


def _libcst_children_without_tokens(node: cst.CSTNode, ours: list[cst.CSTNode]) -> list[cst.CSTNode]:
    kept = {id(child) for child in ours}
    return [child for child in node.children if id(child) in kept]


# What `children` leaves out: whitespace, comments, punctuation, operators, `*`, `/`.
_TOKENS = (
    cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline,
    cst.Comment, cst.Comma, cst.Semicolon, cst.Colon, cst.Dot, cst.AssignEqual, cst.LeftParen, cst.RightParen,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.BaseBinaryOp,
    cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp, cst.ParamSlash, cst.Asynchronous,
)


def _every_node(module: cst.Module):
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


@pytest.mark.parametrize(
    "source",
    [EVERY_SYNTAX, *(p.read_text() for p in sorted((REPO / "nanlint" / "source").rglob("*.py")))],
    ids=lambda s: s.splitlines()[1][:30] if s is EVERY_SYNTAX else None,
)
def test_children_are_libcsts_less_tokens_in_the_same_order(source):
    for node in _every_node(cst.parse_module(source)):
        ours = children(node)
        assert ours == _libcst_children_without_tokens(node, ours), type(node).__name__
        assert len({id(c) for c in ours}) == len(ours)
        left_out = [c for c in node.children if all(c is not o for o in ours)]
        unexpected = [type(c).__name__ for c in left_out if not isinstance(c, _TOKENS)]
        assert not unexpected, f"{type(node).__name__} leaves out {unexpected}"
