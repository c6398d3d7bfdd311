"""Code that only runs on an empty tensor: `if x.numel() == 0: return torch.exp(x).sum().log()`.

An element-wise hazard needs an element; in the branch taken when the tensor has none,
there is nothing to overflow or divide (torch's own reference `logsumexp` special-cases
the empty input so).
"""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import is_number, subexpressions, unparenthesized
from nanlint.source.context import FileContext


def on_empty_tensor(ctx: FileContext, operand: cst.BaseExpression) -> bool:
    """Is the node being visited in the body of `if x.numel() == 0:` (or `if not x.numel():`),
    with `x` a variable that `operand` reads?"""
    read = {n.value for n in subexpressions(operand) if isinstance(n, cst.Name)}
    ancestors = ctx.ancestors
    for index, ancestor in enumerate(ancestors[:-1]):
        if isinstance(ancestor, cst.If) and ancestors[index + 1] is ancestor.body:
            empty = _tested_for_emptiness(ancestor.test)
            if empty is not None and empty in read:
                return True
    return False


def _tested_for_emptiness(test: cst.BaseExpression) -> str | None:
    """`x` in `x.numel() == 0`, `0 == x.numel()` or `not x.numel()`."""
    test = unparenthesized(test)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _numel_of(test.expression)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.comparisons[0].operator, cst.Equal):
        left, right = test.left, test.comparisons[0].comparator
        if is_number(right, 0.0):
            return _numel_of(left)
        if is_number(left, 0.0):
            return _numel_of(right)
    return None


def _numel_of(node: cst.BaseExpression) -> str | None:
    node = unparenthesized(node)
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in ("numel", "nelement")
        and isinstance(node.func.value, cst.Name)
    ):
        return node.func.value.value
    return None
