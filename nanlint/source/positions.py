"""Positions for the reported nodes only.

libcst's PositionProvider records a range for every node of the file, which costs about
twice the parse. A linter needs the positions of the handful of nodes it reports, so
this replays libcst's code generation without building the text, records only the
target nodes, and stops as soon as the last target is closed. Ranges follow
PositionProvider's syntactic rules (parentheses and surrounding whitespace excluded).
"""
from __future__ import annotations

import re
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import libcst as cst
from libcst._add_slots import add_slots
from libcst._nodes.internal import CodegenState

from nanlint.findings import Span

_NEWLINE = re.compile(r"\r\n?|\n")
_NOTHING = nullcontext()


class _AllFound(Exception):
    pass


@add_slots
@dataclass(frozen=False)
class _TargetPositionState(CodegenState):
    targets: frozenset[int] = frozenset()
    found: dict[int, Span] = field(default_factory=dict)
    line: int = 1
    column: int = 0
    starts: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.column += len(token)

    def add_token(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def pop_trailing_newline(self) -> None:
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.targets:
            self.starts[id(node)] = (self.line, self.column)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.targets:
            if key not in self.found:
                line, column = self.starts[key]
                self.found[key] = Span(line, column + 1, self.line, self.column + 1)
            if len(self.found) == len(self.targets):
                raise _AllFound

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> AbstractContextManager[None]:
        # Called for most nodes: the ones not reported share one do-nothing context
        # (a generator-based one per node was a quarter of the replay).
        if id(node) not in self.targets:
            return _NOTHING
        return self._recording(node, start_node, end_node)

    @contextmanager
    def _recording(self, node: cst.CSTNode, start_node: cst.CSTNode | None, end_node: cst.CSTNode | None) -> Iterator[None]:
        start = (self.line, self.column)
        yield
        end = (self.line, self.column)
        if start_node is not None and id(start_node) in self.found:
            hoisted = self.found[id(start_node)]
            start = (hoisted.line, hoisted.column - 1)
        if end_node is not None and id(end_node) in self.found:
            hoisted = self.found[id(end_node)]
            end = (hoisted.end_line, hoisted.end_column - 1)
        self.found[id(node)] = Span(start[0], start[1] + 1, end[0], end[1] + 1)


def spans_of(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, Span]:
    """1-based spans (end exclusive) of `nodes`, keyed by `id(node)`."""
    targets = frozenset(id(node) for node in nodes)
    if not targets:
        return {}
    state = _TargetPositionState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        targets=targets,
    )
    try:
        module._codegen(state)
    except _AllFound:
        pass
    return state.found
