"""NAN501 where-gradient-trap: `torch.where(c, f(x), y)` with `f` non-finite where `c` is false.

`torch.where` computes both branches everywhere and only selects afterwards, so the
condition protects the forward value but not the gradient. The rule is precise because
it needs the condition to mention a variable the hazardous operation consumes: that is
the author saying "this is only valid where ...". Integer branches and `no_grad` code
have no gradient and are left alone.
"""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from nanlint.source.checks._calls import argument, names_in, operand, second, subexpressions, unparenthesized
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
_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode"})


class WhereGradientTrap(StaticRule):
    codes = ("NAN501",)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        if name != "where":
            return
        if is_method:  # `x.where(c, y)` is `torch.where(c, x, y)`
            condition, branches = argument(node, 0, "condition"), (node.func.value, argument(node, 1, "other"))  # type: ignore[attr-defined]
        else:
            condition, branches = argument(node, 0, "condition"), (argument(node, 1, "input"), argument(node, 2, "other"))
        if condition is None or self._without_gradient():
            return
        guarded_names = self._names_read(condition)
        for branch in branches:
            if branch is None or self._is_integer(branch):
                continue
            for op, risky, bad in self._hazards(branch):
                if self._names_read(risky) & guarded_names:
                    self.ctx.explained.add(id(op))
                    self.ctx.report(
                        "NAN501",
                        node,
                        op=self.ctx.short_code(op, 40),
                        condition=self.ctx.short_code(condition, 30),
                        bad=bad,
                        detail=f"`{self.ctx.short_code(risky, 30)}` is read by both the condition and `{self.ctx.short_code(op, 40)}`",
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

    # -- names and bindings

    def _with_bindings(self, expression: cst.BaseExpression) -> list[cst.BaseExpression]:
        """The expression, and the assignments of the local names it reads (one level)."""
        roots = [expression]
        for name in sorted(names_in(expression)):
            bound = self.ctx.binding(name)
            if bound is not None and bound.expr is not None:
                roots.append(bound.expr)
        return roots

    def _names_read(self, expression: cst.BaseExpression) -> set[str]:
        names: set[str] = set()
        for root in self._with_bindings(expression):
            names |= names_in(root)
        return names

    # -- code without gradient

    def _is_integer(self, branch: cst.BaseExpression) -> bool:
        for root in self._with_bindings(branch):
            for sub in subexpressions(root):
                if isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute):
                    if sub.func.attr.value in _INTEGER_CASTS and not sub.args:
                        return True
                    if sub.func.attr.value == "to" and any(self.ctx.qualname(a.value) in _INTEGER_DTYPES for a in sub.args):
                        return True
        return False

    def _without_gradient(self) -> bool:
        for ancestor in self.ctx.ancestors:
            if isinstance(ancestor, cst.With):
                for item in ancestor.items:
                    call = item.item
                    if isinstance(call, cst.Call) and self.ctx.qualname(call.func) in _NO_GRAD:
                        return True
            elif isinstance(ancestor, cst.FunctionDef):
                for decorator in ancestor.decorators:
                    target = decorator.decorator
                    target = target.func if isinstance(target, cst.Call) else target
                    if self.ctx.qualname(target) in _NO_GRAD:
                        return True
        return False
