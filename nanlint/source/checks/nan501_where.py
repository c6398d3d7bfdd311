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

# name -> (what it is at the operand's bad point, the operand's floor: bad at or below it)
_UNARY = {
    "log": ("-inf", 0.0), "log2": ("-inf", 0.0), "log10": ("-inf", 0.0), "log1p": ("-inf", -1.0),
    "sqrt": ("0 with an infinite slope", 0.0), "rsqrt": ("inf", 0.0), "reciprocal": ("inf", 0.0),
}
# A division is bad at 0 only; the other operations at and below their floor.
_AT_ZERO_ONLY = frozenset({"reciprocal"})
_DIVISION_BAD = "inf (a division by 0)"
_DIVISIONS = frozenset({"div", "divide", "true_divide"})
_POWERS = frozenset({"pow", "float_power"})
_INTEGER_CASTS = frozenset({"long", "int", "short", "byte", "bool"})
_INTEGER_DTYPES = frozenset({"torch.long", "torch.int64", "torch.int", "torch.int32", "torch.int16", "torch.bool", "torch.uint8"})


# Comparison functions and the operator they apply (`torch.gt(a, b)` is `a > b`).
_COMPARISONS = {
    "gt": ">", "greater": ">", "ge": ">=", "greater_equal": ">=", "lt": "<", "less": "<",
    "le": "<=", "less_equal": "<=", "eq": "==", "isclose": "==", "ne": "!=", "not_equal": "!=",
}
_OPERATORS = {
    cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.LessThan: "<", cst.LessThanEqual: "<=",
    cst.Equal: "==", cst.NotEqual: "!=",
}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
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
        for selected_when_true, branch in zip((True, False), branches):
            if branch is None or self._is_integer(branch):
                continue
            for op, risky, bad, floor in self._hazards(branch):
                at_zero_only = bad == _DIVISION_BAD
                if self._traps(comparisons, risky, floor, at_zero_only, selected_when_true) and not self._without_gradient(risky):
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

    def _hazards(self, branch: cst.BaseExpression) -> Iterator[tuple[cst.CSTNode, cst.BaseExpression, str, float]]:
        """(operation, the operand that must stay in its domain, what it is outside it, floor)."""
        for root in self._with_bindings(branch):
            for sub in subexpressions(root):
                found = self._hazard(sub)
                if found is not None and not self._safe(found[1], found[3]):
                    yield sub, found[1], found[2], found[3]

    def _hazard(self, node: cst.CSTNode) -> tuple[cst.CSTNode, cst.BaseExpression, str, float] | None:
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Divide):
                return node, node.right, _DIVISION_BAD, 0.0
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
            bad = _DIVISION_BAD if name in _AT_ZERO_ONLY else _UNARY[name][0]
            return (node, arg, bad, _UNARY[name][1]) if arg is not None else None
        if name in _DIVISIONS:
            denominator = second(node, is_method, "other")
            return (node, denominator, _DIVISION_BAD, 0.0) if denominator is not None else None
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

    def _comparisons(self, condition: cst.BaseExpression) -> list[tuple[cst.BaseExpression, str, cst.BaseExpression]]:
        """The (left, operator, right) comparisons in the condition and in the masks it names."""
        roots: list[cst.CSTNode] = [condition]
        for name in sorted(names_in(condition)):
            bound = self.ctx.binding(name)
            if bound is not None and bound.expr is not None:
                roots.append(bound.expr)
        found: list[tuple[cst.BaseExpression, str, cst.BaseExpression]] = []
        for root in roots:
            for sub in subexpressions(root):
                if isinstance(sub, cst.Comparison):
                    left = sub.left
                    for target in sub.comparisons:
                        operator = _OPERATORS.get(type(target.operator))
                        if operator is not None:
                            found.append((left, operator, target.comparator))
                        left = target.comparator
                elif isinstance(sub, cst.Call):
                    name, is_method = self.ctx.call_name(sub)
                    if name in _COMPARISONS:
                        a, b = operand(sub, is_method), second(sub, is_method, "other")
                        if a is not None and b is not None:
                            found.append((a, _COMPARISONS[name], b))
        return found

    def _traps(
        self,
        comparisons: list[tuple[cst.BaseExpression, str, cst.BaseExpression]],
        risky: cst.BaseExpression,
        floor: float,
        at_zero_only: bool,
        selected_when_true: bool,
    ) -> bool:
        """Does the condition test the operand so that, where the branch is *not*
        selected, the operand can be at its bad point? `where(x > 0, log(x), ...)`: yes
        (x <= 0 there); `where(k < 1e-5, 1 / k, ...)`: no (k >= 1e-5 there)."""
        target = compact_code(risky)
        for left, operator, right in comparisons:
            a, b = compact_code(self._transparent(left)), compact_code(self._transparent(right))
            if target == f"{a}-{b}":  # `c > 1` tests `c - 1` against 0
                subject_op, threshold = operator, 0.0
            elif target == f"{b}-{a}":
                subject_op, threshold = _FLIPPED[operator], 0.0
            elif target == a and not self._is_threshold(risky, right):
                subject_op, threshold = operator, self._number(right)
            elif target == b and not self._is_threshold(risky, left):
                subject_op, threshold = _FLIPPED[operator], self._number(left)
            else:
                continue
            # Where the branch is not selected, the subject satisfies `unselected`.
            unselected = _NEGATED[subject_op] if selected_when_true else subject_op
            if _reaches(unselected, threshold, floor, at_zero_only):
                return True
        return False

    def _is_threshold(self, risky: cst.BaseExpression, other: cst.BaseExpression) -> bool:
        """`loss < beta` tests the tensor `loss` against the threshold `beta`: a division by
        `beta` is not what the condition protects."""
        return self.ctx.value(other).tensor and not self.ctx.value(risky).tensor

    def _number(self, node: cst.BaseExpression) -> float | None:
        value = self.ctx.value(node)
        return value.lo if value.number and value.known and value.lo == value.hi else None

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


def _reaches(operator: str, threshold: float | None, floor: float, at_zero_only: bool) -> bool:
    """Can `subject <operator> threshold` hold for a subject at its bad point (at or below
    `floor`, or exactly 0 for a division)? An unknown threshold (`self.knee`) is taken to
    be above the bad point, as thresholds that guard a domain are."""
    if operator in ("<", "<="):
        if threshold is None or not at_zero_only:
            return True
        return threshold > 0 or (operator == "<=" and threshold == 0)
    if operator in (">", ">="):
        if threshold is None:
            return False
        bad = 0.0 if at_zero_only else floor
        return threshold < bad or (operator == ">=" and threshold == bad)
    if operator == "!=":
        return True
    # `==`: only the one value
    if threshold is None:
        return False
    return threshold == 0 if at_zero_only else threshold <= floor
