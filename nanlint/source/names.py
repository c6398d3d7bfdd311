"""Qualified names from a light import-alias map kept during the one walk.

`import torch.nn as nn`, `from torch.nn import BatchNorm1d as BN` and
`import torch.nn.functional as F` make `nn.BatchNorm1d`, `BN` and `F.log_softmax`
resolve to `torch.nn.BatchNorm1d` and `torch.nn.functional.log_softmax`.
libcst's Scope/QualifiedName providers would do the same at 8-10x the cost of the
parse; this map costs a dict lookup per name.
"""
from __future__ import annotations

import libcst as cst

# Public aliases that name the same function; rules match on the canonical spelling.
_CANONICAL_PREFIXES = (
    ("torch.nn.functional.", "torch.nn.functional."),
    ("torch.special.", "torch."),
    ("torch.linalg.", "torch.linalg."),
    ("torch.Tensor.", "torch."),
    ("torch.cuda.amp.", "torch.cuda.amp."),
)


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, None for anything else."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


class Scope:
    """Names bound in one module or function body.

    `aliases` maps a local name to the dotted module path it was imported as;
    `bindings` maps a local variable to its last assignment (in source order, which is
    the order of the walk), for the value analysis.
    """

    __slots__ = ("aliases", "bindings", "parent", "kind", "zero_checked")

    def __init__(self, parent: Scope | None, kind: str) -> None:
        self.aliases: dict[str, str] = {}
        self.bindings: dict[str, cst.BaseExpression | None] = {}
        self.parent = parent
        self.kind = kind
        # Names compared with 0 in an `if`/`while`/`assert` test: the author handled the zero.
        self.zero_checked: set[str] = set()

    def alias(self, name: str) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                # A local variable shadows a module-level import of the same name.
                return None
            found = scope.aliases.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def binding(self, name: str) -> cst.BaseExpression | None:
        """The last value assigned to `name` in this function (not in enclosing ones)."""
        return self.bindings.get(name)

    def add_import(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted_name(alias.name)
                if full is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self.aliases[alias.asname.name.value] = full
                else:
                    # `import torch.nn.functional` binds `torch`.
                    head = full.split(".", 1)[0]
                    self.aliases[head] = head
            return
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = dotted_name(node.module)
        if module is None:
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.aliases[local] = f"{module}.{name}"


def canonical(name: str) -> str:
    for prefix, replacement in _CANONICAL_PREFIXES:
        if name.startswith(prefix):
            return replacement + name[len(prefix):]
    return name


def qualified_name(node: cst.BaseExpression, scope: Scope) -> str | None:
    """The canonical qualified name of a Name/Attribute chain rooted in an import."""
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    base = scope.alias(head)
    if base is None:
        return None
    return canonical(f"{base}.{rest}" if rest else base)
