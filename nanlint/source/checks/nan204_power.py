"""NAN204 sqrt-at-zero and NAN205 fractional-power.

`sqrt(x)` is `x ** 0.5`, so both ask one question of the base: can it be negative (the
result is NaN), or exactly 0 at a point where gradient still flows into it (the
derivative `p * x ** (p - 1)` is infinite there for `p < 1`)? The second needs the
base's origin, not just its range: a zero made by `relu` is harmless (its backward
passes 0 without multiplying), a zero of a sum of squares, a difference or a
`clamp(min=0)` is not (checked on torch 2.13).

Both codes take "can be negative" from `Value.can_be_negative`: a finite negative lower
bound or a range at or below 0, a value centred on its own mean, or a sum or mean of
data nothing forces positive (GeM pooling); not a -inf bound that only comes from
arithmetic the intervals cannot follow (a ratio of norms), whose sign is unknown.
"""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import operand, second, unparenthesized
from nanlint.source.checks._gradients import without_gradient
from nanlint.source.checks.nan101_division import is_hazardous_denominator
from nanlint.source.rule import StaticRule
from nanlint.source.values import Value

_SQRTS = frozenset({"sqrt", "sqrt_"})
_POWS = frozenset({"pow", "pow_", "float_power", "float_power_"})

# Origins whose zeros still receive gradient (unlike relu's, whose backward is a select).
_ZERO_WITH_GRADIENT = frozenset(
    {"sum", "square", "norm", "var", "std", "difference", "clamped", "mask", "count", "mean", "max", "prob"}
)


def _zero_hazard(value: Value) -> bool:
    # A random draw (`torch.randn` quaternions) carries no gradient to be infinite.
    return value.lo == 0.0 and bool(value.tags & _ZERO_WITH_GRADIENT) and "random" not in value.tags


def _subject(value: Value) -> bool:
    return value.tensor and not value.number and not value.guarded


class PowerDomain(StaticRule):
    codes = ("NAN204", "NAN205")

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.ctx.explained:
            return
        name, is_method = self.ctx.call_name(node)
        if name in _SQRTS:
            base = operand(node, is_method)
            if base is not None:
                self._root(node, base)
        elif name in _POWS:
            base, exponent = operand(node, is_method), second(node, is_method, "exponent")
            if base is not None and exponent is not None:
                self._power(node, base, exponent)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power) and id(node) not in self.ctx.explained:
            self._power(node, node.left, node.right)

    def _power(self, node: cst.CSTNode, base: cst.BaseExpression, exponent: cst.BaseExpression) -> None:
        power = self.ctx.value(exponent)
        constant = power.lo if power.number and power.known and power.lo == power.hi else None
        if constant is not None and constant == 0.5:
            self._root(node, base)
            return
        if constant is not None and constant.is_integer():
            return
        value = self.ctx.value(base)
        if not _subject(value) or not (value.known or value.can_be_negative):
            return
        exponent_text = self.ctx.short_code(exponent, 20)
        kind = f"the non-integer exponent {constant:g}" if constant is not None else f"the variable exponent `{exponent_text}`"
        base_text = self.ctx.short_code(base, 40)
        detail = f"base `{base_text}` has range {value.describe()}; exponent {kind.split(' ', 1)[1]}"
        if value.can_be_negative:
            self.ctx.report(
                "NAN205", node, base=base_text, kind=kind, what="negative", why=value.negative_origin(),
                effect="a negative number to a non-integer power is NaN", detail=detail,
            )
        elif constant is not None and constant < 1 and _zero_hazard(value) and not without_gradient(self.ctx, node):
            self.ctx.report(
                "NAN205", node, base=base_text, kind=kind, what="exactly 0", why=value.origin(),
                effect=f"the gradient {constant:g} * x ** {constant - 1:g} is infinite at 0 and backpropagates as NaN",
                detail=detail,
            )

    def _root(self, node: cst.CSTNode, arg: cst.BaseExpression) -> None:
        value = self.ctx.value(arg)
        if not _subject(value) or self._is_reported_denominator(node):
            return
        text = self.ctx.short_code(arg, 50)
        detail = f"argument `{text}` has range {value.describe()} and no eps"
        if _one_minus_square(self.ctx, arg):
            self.ctx.report(
                "NAN204", node, arg=text, what="slightly negative",
                why="1 - x ** 2 rounds below 0 when |x| rounds to 1",
                effect="the result is NaN, and at exactly 0 the gradient is infinite",
                instead="clamp it first (`(1 - x ** 2).clamp_min(eps)`)", detail=detail,
            )
        elif value.can_be_negative:
            self.ctx.report(
                "NAN204", node, arg=text, what="negative", why=value.negative_origin(),
                effect="the square root of a negative number is NaN",
                instead="clamp it first (`.clamp_min(eps)`)", detail=detail,
            )
        elif value.known and _zero_hazard(value) and not without_gradient(self.ctx, node):
            self.ctx.report(
                "NAN204", node, arg=text, what="exactly 0", why=value.origin(),
                effect="the gradient 1 / (2 sqrt(x)) is infinite there and backpropagates as NaN",
                instead="add an eps inside (`sqrt(x + eps)`) or clamp it (`.clamp_min(eps)`)", detail=detail,
            )

    def _is_reported_denominator(self, node: cst.CSTNode) -> bool:
        """`y / sqrt(v)`: the division is flagged (NAN101/NAN102) and its fix fixes both."""
        ancestors = self.ctx.ancestors
        parent = ancestors[-2] if len(ancestors) > 1 and ancestors[-1] is node else None
        if not isinstance(parent, cst.BinaryOperation) or not isinstance(parent.operator, cst.Divide):
            return False
        if parent.right is not node or not {"NAN101", "NAN102"} & self.ctx.enabled:
            return False
        return is_hazardous_denominator(self.ctx.value(node))  # type: ignore[arg-type]


def _one_minus_square(ctx, arg: cst.BaseExpression) -> bool:
    """`1 - x ** 2` (or `1 - x * x`, `1 - x.pow(2)`) with `x` known to reach +-1: the sine
    from a cosine, by hand. An `x` the analysis knows nothing about is not flagged."""
    arg = unparenthesized(arg)
    if not (isinstance(arg, cst.BinaryOperation) and isinstance(arg.operator, cst.Subtract)):
        return False
    left, right = ctx.value(arg.left), ctx.value(arg.right)
    if not (left.number and left.known and left.lo > 0 and "square" in right.tags and not right.guarded):
        return False
    base = _squared_base(ctx, arg.right)
    if base is None:
        return False
    value = ctx.value(base)
    return value.known and max(abs(value.lo), abs(value.hi)) ** 2 >= left.lo


def _squared_base(ctx, square: cst.BaseExpression) -> cst.BaseExpression | None:
    """`x` in `x ** 2`, `x * x`, `x.pow(2)`, `torch.pow(x, 2)`, `x.square()`."""
    square = unparenthesized(square)
    if isinstance(square, cst.BinaryOperation):
        if isinstance(square.operator, cst.Power) or (isinstance(square.operator, cst.Multiply) and square.left.deep_equals(square.right)):
            return square.left
        return None
    if isinstance(square, cst.Call):
        name, is_method = ctx.call_name(square)
        if name in ("pow", "square"):
            return operand(square, is_method)
    return None
