"""The children of a libcst node, read straight from its fields.

libcst's `node.children` runs a visitor that rebuilds the node to list them, about 20x
the cost of reading the fields; its visitors cost 60% of a parse. The engine's walk and
the checks' helpers read the fields instead, once per class decided which ones can hold
a node a check looks for:

- fields whose declared type holds no node (`Name.value: str`) are never read;
- fields that only hold whitespace, punctuation or operator tokens are skipped: no
  check looks below them, and skipping them halves the nodes walked.

The order is libcst's (the order of the source); tests/test_tree.py checks that
`children(node)` is `node.children` less those tokens, on every node of a file that
uses all of Python's syntax.
"""
from __future__ import annotations

import dataclasses
import typing
from operator import attrgetter
from typing import Any, Callable

import libcst as cst

_SKIPPED_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators",
        "header", "footer", "operator", "equal", "star", "dot", "colon", "lbracket",
        "rbracket", "lbrace", "rbrace", "newline", "trailing_whitespace", "asynchronous",
        "whitespace_before", "whitespace_after", "posonly_ind", "star_tok", "leading_whitespace",
        "first_colon", "second_colon",
    }
)

# The source order of the fields where it is not the order they are declared in.
_SOURCE_ORDER: dict[type, tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.Arg: ("keyword", "value"),
    cst.Parameters: ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
    cst.ImportFrom: ("relative", "module", "names"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.ExceptStarHandler: ("type", "name", "body"),
    cst.MatchCase: ("pattern", "guard", "body"),
    cst.TypeAlias: ("name", "type_parameters", "value"),
}

Reader = Callable[[cst.CSTNode], tuple[Any, ...]]


def _holds_nodes(declared: object) -> bool:
    if isinstance(declared, type):
        return issubclass(declared, cst.CSTNode)
    if isinstance(declared, (str, typing.ForwardRef)):
        return True  # not resolved: read it, to be safe
    return any(_holds_nodes(argument) for argument in typing.get_args(declared))


def _reader(cls: type) -> Reader | None:
    """A function giving the values of the fields of `cls` that may hold children."""
    fields = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace") and _holds_nodes(f.type)
    ]
    order = _SOURCE_ORDER.get(cls)
    if order is not None:
        fields.sort(key=lambda name: order.index(name) if name in order else len(order))
    if not fields:
        return None
    if len(fields) == 1:
        (name,) = fields
        return lambda node: (getattr(node, name),)
    return attrgetter(*fields)  # type: ignore[return-value]


_READERS: dict[type, Reader | None] = {}
# Whether a class is a node class: isinstance against libcst's abstract base is slow.
_IS_NODE: dict[type, bool] = {}


def _is_node(cls: type) -> bool:
    known = _IS_NODE.get(cls)
    if known is None:
        known = _IS_NODE[cls] = issubclass(cls, cst.CSTNode)
    return known


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes a check can look for, in source order."""
    cls = node.__class__
    try:
        read = _READERS[cls]
    except KeyError:
        read = _READERS[cls] = _reader(cls)
    if read is None:
        return []
    found: list[cst.CSTNode] = []
    for value in read(node):
        kind = value.__class__
        if kind is tuple or kind is list:
            found.extend(item for item in value if _is_node(item.__class__))
        elif _is_node(kind):
            found.append(value)
    return found
