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

import collections.abc
import dataclasses
import typing
from operator import attrgetter
from typing import Any, Callable

import libcst as cst

# The "no value" of optional tokens and whitespace (`MaybeSentinel.DEFAULT`).
_DEFAULT = cst.MaybeSentinel.DEFAULT

_SKIPPED_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators",
        "header", "footer", "operator", "equal", "star", "dot", "colon", "lbracket",
        "rbracket", "lbrace", "rbrace", "newline", "trailing_whitespace", "asynchronous",
        "whitespace_before", "whitespace_after", "posonly_ind", "star_tok", "leading_whitespace",
        "first_colon", "second_colon",
    }
)

# The source order of the fields where it is not the order they are declared in (by
# class name: some of these classes are missing from older libcst versions).
_SOURCE_ORDER: dict[str, tuple[str, ...]] = {
    "FunctionDef": ("decorators", "name", "type_parameters", "params", "returns", "body"),
    "ClassDef": ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    "Arg": ("keyword", "value"),
    "Parameters": ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
    "ImportFrom": ("relative", "module", "names"),
    "LazyImportFrom": ("relative", "module", "names"),
    "IfExp": ("body", "test", "orelse"),
    "ExceptHandler": ("type", "name", "body"),
    "ExceptStarHandler": ("type", "name", "body"),
    "MatchCase": ("pattern", "guard", "body"),
    "TypeAlias": ("name", "type_parameters", "value"),
}

# How a field holds its children: one node (or None), a sequence of nodes, or either.
_ONE, _MANY, _EITHER = 0, 1, 2


def _kind(declared: object) -> int | None:
    """How a field of this declared type holds nodes; None when it never does."""
    if isinstance(declared, type):
        return _ONE if issubclass(declared, cst.CSTNode) else None
    if isinstance(declared, (str, typing.ForwardRef)):
        return _EITHER  # not resolved: check at run time, to be safe
    origin = typing.get_origin(declared)
    if origin is typing.Literal:
        return None  # `Literal["*", "**"]`: strings
    arguments = typing.get_args(declared)
    if origin is not None and isinstance(origin, type) and issubclass(origin, collections.abc.Sequence):
        return _MANY if all(_kind(a) == _ONE for a in arguments) else _EITHER
    kinds = {_kind(a) for a in arguments} - {None}
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else _EITHER


Spec = tuple[Callable[[cst.CSTNode], tuple[Any, ...]], tuple[int, ...]]


def _spec(cls: type) -> Spec | None:
    """How to read the fields of `cls` that may hold children, and how each holds them."""
    fields = [
        (f.name, kind)
        for f in dataclasses.fields(cls)
        if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace") and (kind := _kind(f.type)) is not None
    ]
    order = _SOURCE_ORDER.get(cls.__name__)
    if order is not None:
        fields.sort(key=lambda field: order.index(field[0]) if field[0] in order else len(order))
    if not fields:
        return None
    names = [name for name, _ in fields]
    read = attrgetter(*names) if len(names) > 1 else (lambda node, name=names[0]: (getattr(node, name),))
    return read, tuple(kind for _, kind in fields)  # type: ignore[return-value]


_SPECS: dict[type, Spec | None] = {}


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes a check can look for, in source order."""
    cls = node.__class__
    try:
        spec = _SPECS[cls]
    except KeyError:
        spec = _SPECS[cls] = _spec(cls)
    if spec is None:
        return []
    read, kinds = spec
    found: list[cst.CSTNode] = []
    for value, kind in zip(read(node), kinds):
        if value is None or value is _DEFAULT:
            continue
        if kind == _ONE:
            found.append(value)
        elif kind == _MANY:
            found.extend(value)
        elif isinstance(value, (tuple, list)):
            found.extend(item for item in value if isinstance(item, cst.CSTNode))
        elif isinstance(value, cst.CSTNode):
            found.append(value)
    return found
