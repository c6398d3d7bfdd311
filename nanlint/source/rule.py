"""The base of every static check.

A check is a small class: the codes it reports, and `visit_<Node>` / `leave_<Node>`
methods named after libcst node types, like a libcst visitor. The engine collects the
methods of all enabled checks into one dispatch table and walks each file once; a check
never walks the tree itself. Per-file state lives on the instance (a new one per file);
decisions that need the whole file (its precision, a GradScaler seen later) go in
`finish`.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from nanlint.source.context import FileContext


class StaticRule:
    codes: ClassVar[tuple[str, ...]]

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx

    def finish(self) -> None:
        """Called once after the walk, for checks that decide on whole-file facts."""

    @classmethod
    def hooks(cls) -> tuple[str, ...]:
        """The `visit_<Node>` / `leave_<Node>` methods this check defines."""
        return _hooks(cls)


@lru_cache(maxsize=None)
def _hooks(cls: type) -> tuple[str, ...]:
    return tuple(name for name in dir(cls) if name.startswith(("visit_", "leave_")) and callable(getattr(cls, name)))
