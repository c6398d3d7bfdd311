"""NAN501 where-gradient-trap: `torch.where(c, f(x), y)` with `f` non-finite where `c` is false.

`torch.where` computes both branches everywhere and only selects afterwards, so the
condition protects the forward value but not the gradient. The rule is precise because
it needs the condition to test the very operand of the hazardous operation (`x > 0` for
`log(x)`, `c > 1` for `1 / (c - 1)`): that is the author saying "this is only valid
where ...". Integer branches, random draws, counts of comparisons and code without
gradient are left alone.
"""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from nanlint.source.checks._calls import argument, compact_code, names_in, operand, second, subexpressions, unparenthesized
from nanlint.source.checks._gradients import without_gradient
from nanlint.source.rule import StaticRule
from nanlint.source.values import Value

# name -> (what it is where the operand is at its bad point, the operand's safe floor)
_UNARY = {
    "log": ("-inf", 0.0), "log2": ("-inf", 0.0), "log10": ("-inf", 0.0), "log1p": ("-inf", -1.0),
    "sqrt": ("0 with an infinite slope", 0.0), "rsqrt": ("inf", 0.0), "reciprocal": ("inf", 0.0),
}
_DIVISIONS = frozenset({"div", "divide", "true_divide"})
_POWERS = frozenset({"pow", "float_power"})
_INTEGER_CASTS = frozenset({"long", "int", "short", "byte", "bool"})
_INTEGER_DTYPES = frozenset({"torch.long", "torch.int64", "torch.int", "torch.int32", "torch.int16", "torch.bool", "torch.uint8"})


_COMPARISONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne", "greater", "greater_equal", "less", "less_equal", "not_equal", "isclose"})
_TRANSPARENT = frozenset({"abs", "float", "double", "half", "detach", "to", "type_as"})
_ROUNDING = frozenset({"ceil", "floor", "round", "trunc"})
_REDUCTIONS = frozenset({"sum", "count_nonzero", "any", "all", "mean"})


class WhereGradientTrap(StaticRule):
    codes = ("NAN501",)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        if name != "where":
            return
        if is_method:  # `x.where(c, y)` is `torch.where(c, x, y)`; `ops.where(c, a, b)` is not a tensor's
            if sum(1 for a in node.args if a.keyword is None) > 2:
                return
            condition, branches = argument(node, 0, "condition"), (node.func.value, argument(node, 1, "other"))  # type: ignore[attr-defined]
        else:
            condition, branches = argument(node, 0, "condition"), (argument(node, 1, "input"), argument(node, 2, "other"))
        if condition is None or without_gradient(self.ctx, node):
            return
        comparisons = self._comparisons(condition)
        if not comparisons:
            return
        for branch in branches:
            if branch is None or self._is_integer(branch):
                continue
            for op, risky, bad in self._hazards(branch):
                if self._guards(comparisons, risky) and not self._without_gradient(risky):
                    self.ctx.explained.add(id(op))
                    self.ctx.report(
                        "NAN501",
                        node,
                        op=self.ctx.short_code(op, 40),
                        condition=self.ctx.short_code(condition, 30),
                        bad=bad,
                        detail=f"the condition tests `{self.ctx.short_code(risky, 30)}`, the operand of `{self.ctx.short_code(op, 40)}`",
                    )
                    return

    # -- what the branch computes

    def _hazards(self, branch: cst.BaseExpression) -> Iterator[tuple[cst.CSTNode, cst.BaseExpression, str]]:
        """(operation, the operand that must stay in its domain, what it is outside it)."""
        for root in self._with_bindings(branch):
            for sub in subexpressions(root):
                found = self._hazard(sub)
                if found is not None and not self._safe(found[1], found[3]):
                    yield sub, found[1], found[2]

    def _hazard(self, node: cst.CSTNode) -> tuple[cst.CSTNode, cst.BaseExpression, str, float] | None:
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Divide):
                return node, node.right, "inf (a division by 0)", 0.0
            if isinstance(node.operator, cst.Power) and self._fractional(node.right):
                return node, node.left, "NaN or infinitely steep (a fractional power)", 0.0
            return None
        if not isinstance(node, cst.Call):
            return None
        name, is_method = self.ctx.call_name(node)
        if name is None:
            return None
        name = name.rstrip("_")
        if name in _UNARY:
            arg = operand(node, is_method)
            return (node, arg, _UNARY[name][0], _UNARY[name][1]) if arg is not None else None
        if name in _DIVISIONS:
            denominator = second(node, is_method, "other")
            return (node, denominator, "inf (a division by 0)", 0.0) if denominator is not None else None
        if name in _POWERS:
            base, exponent = operand(node, is_method), second(node, is_method, "exponent")
            if base is not None and exponent is not None and self._fractional(exponent):
                return node, base, "NaN or infinitely steep (a fractional power)", 0.0
        return None

    def _fractional(self, exponent: cst.BaseExpression) -> bool:
        value = self.ctx.value(exponent)
        return not (value.number and value.known and value.lo == value.hi and value.lo.is_integer())

    def _safe(self, risky: cst.BaseExpression, floor: float) -> bool:
        """The operand is already kept in its domain (a clamp, `+ eps`, the double where)."""
        inner = unparenthesized(risky)
        if isinstance(inner, cst.Name) and (bound := self.ctx.binding(inner.value)) is not None and bound.expr is not None:
            inner = unparenthesized(bound.expr)
        if isinstance(inner, cst.Call) and self.ctx.call_name(inner)[0] == "where":
            return True
        value: Value = self.ctx.value(risky)
        return value.guarded or (value.known and value.lo > floor)

    # -- does the condition test the operand?

    def _comparisons(self, condition: cst.BaseExpression) -> list[tuple[cst.BaseExpression, cst.BaseExpression]]:
        """The (left, right) pairs compared in the condition and in the masks it names."""
        roots: list[cst.CSTNode] = [condition]
        for name in sorted(names_in(condition)):
            bound = self.ctx.binding(name)
            if bound is not None and bound.expr is not None:
                roots.append(bound.expr)
        pairs: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
        for root in roots:
            for sub in subexpressions(root):
                if isinstance(sub, cst.Comparison):
                    left = sub.left
                    for target in sub.comparisons:
                        pairs.append((left, target.comparator))
                        left = target.comparator
                elif isinstance(sub, cst.Call):
                    name, is_method = self.ctx.call_name(sub)
                    if name in _COMPARISONS:
                        a, b = operand(sub, is_method), second(sub, is_method, "other")
                        if a is not None and b is not None:
                            pairs.append((a, b))
        return pairs

    def _guards(self, comparisons: list[tuple[cst.BaseExpression, cst.BaseExpression]], risky: cst.BaseExpression) -> bool:
        """The condition compares the operand itself (`x > 0` for `log(x)`), or `a - b`
        for the operand `a - b` (`c > 1` for `1 / (c - 1)`)."""
        target = compact_code(risky)
        for left, right in comparisons:
            a, b = compact_code(self._transparent(left)), compact_code(self._transparent(right))
            if target in (f"{a}-{b}", f"{b}-{a}"):
                return True
            for side, other in ((a, right), (b, left)):
                # `loss < beta` tests the tensor `loss` against the threshold `beta`: a
                # division by `beta` is not what the condition protects.
                if target == side and not (self.ctx.value(other).tensor and not self.ctx.value(risky).tensor):
                    return True
        return False

    def _transparent(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """`x.abs()`, `torch.abs(x)`, `x.float()` test `x`."""
        node = unparenthesized(node)
        while isinstance(node, cst.Call):
            name, is_method = self.ctx.call_name(node)
            inner = operand(node, is_method) if name in _TRANSPARENT else None
            if inner is None:
                break
            node = unparenthesized(inner)
        return node

    # -- names and bindings

    def _with_bindings(self, expression: cst.BaseExpression) -> list[cst.BaseExpression]:
        """The expression, and the assignments of the local names it reads (one level)."""
        roots = [expression]
        for name in sorted(names_in(expression)):
            bound = self.ctx.binding(name)
            if bound is not None and bound.expr is not None:
                roots.append(bound.expr)
        return roots

    # -- values without gradient

    def _without_gradient(self, risky: cst.BaseExpression) -> bool:
        """Random draws and counts of a comparison (`(x > t).sum()`) carry no gradient."""
        if "random" in self.ctx.value(risky).tags:
            return True
        inner = unparenthesized(risky)
        if isinstance(inner, cst.Name) and (bound := self.ctx.binding(inner.value)) is not None and bound.expr is not None:
            inner = self._transparent(bound.expr)
        if isinstance(inner, cst.Call) and self.ctx.call_name(inner)[0] in _REDUCTIONS:
            counted = operand(inner, self.ctx.call_name(inner)[1])
            return counted is not None and isinstance(unparenthesized(counted), cst.Comparison)
        return False

    def _is_integer(self, branch: cst.BaseExpression) -> bool:
        for root in self._with_bindings(branch):
            for sub in subexpressions(root):
                if isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute):
                    if sub.func.attr.value in _INTEGER_CASTS and not sub.args:
                        return True
                    if sub.func.attr.value == "to" and any(self.ctx.qualname(a.value) in _INTEGER_DTYPES for a in sub.args):
                        return True
                if isinstance(sub, cst.Call) and (self.ctx.call_name(sub)[0] or "").rstrip("_") in _ROUNDING:
                    return True  # bucketing positions: a rounded value has no useful gradient
        return False
