"""Building fix text in a check: replacements computed on the libcst tree.

A check reports a node and a `Fix` whose replacement is the new text of that node, made
by changing the tree and printing it back: everything in the node that was not replaced
(spacing, comments, line breaks inside the call) is kept as written.
"""
from __future__ import annotations

import libcst as cst

from nanlint.findings import Fix
from nanlint.source.context import FileContext

# Expressions that need no parentheses before `.clamp(...)`.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float)


def torch_name(ctx: FileContext) -> str | None:
    """How the file spells the `torch` module (`torch`, `t`), or None if not imported."""
    scope = ctx.scope
    while scope is not None:
        for local, module in scope.aliases.items():
            if module == "torch" and ctx.scope.alias(local) == "torch":
                return local
        scope = scope.parent
    return None


def replace_in(ctx: FileContext, node: cst.CSTNode, old: cst.CSTNode, new: cst.CSTNode) -> str:
    """The text of `node` with its descendant `old` replaced by `new`."""
    return ctx.code_for(node.deep_replace(old, new))


def finfo_min_fix(ctx: FileContext, reported: cst.CSTNode, fill: cst.BaseExpression, tensor: cst.BaseExpression) -> Fix | None:
    """`float('-inf')` -> `torch.finfo(<tensor>.dtype).min` inside the reported node."""
    torch = torch_name(ctx)
    if torch is None:
        return None
    dtype_of = ctx.code_for(tensor) if isinstance(tensor, _ATOMS) else f"({ctx.code_for(tensor)})"
    new = cst.parse_expression(f"{torch}.finfo({dtype_of}.dtype).min")
    return Fix(
        f"fill with {torch}.finfo({dtype_of}.dtype).min: a fully masked row stays finite",
        replace_in(ctx, reported, fill, new),
        safe=True,
    )


def clamp_inside_unit_fix(ctx: FileContext, reported: cst.CSTNode, operand: cst.BaseExpression, eps: float) -> Fix:
    """`acos(x)` -> `acos(x.clamp(-1 + eps, 1 - eps))`: unsafe, it changes values at +-1."""
    text = ctx.code_for(operand)
    base = text if isinstance(operand, _ATOMS) else f"({text})"
    new = cst.parse_expression(f"{base}.clamp(-1 + {eps!r}, 1 - {eps!r})")
    return Fix(
        f"clamp the argument into (-1 + {eps!r}, 1 - {eps!r})",
        replace_in(ctx, reported, operand, new),
        safe=False,
    )
