"""NAN207 exp-overflow: softmax, sigmoid and logsumexp written by hand without the max shift.

The value analysis tags every value computed from an `exp` (`"exp"`), and recognises the
stabilising shift `x - x.amax(...)`, whose range is at most 0. A ratio with such a
denominator, or a log of a sum of exps, is found from the tags; the `exp` calls that feed
it are then found in the source (through local variables), and each one whose argument
is not bounded above is reported: that is where the max has to be subtracted.
"""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import operand, subexpressions, unparenthesized
from nanlint.source.checks._empty import on_empty_tensor
from nanlint.source.conditions import bounded_above, selecting_conditions
from nanlint.source.rule import StaticRule
from nanlint.source.values import INF

_EXPS = frozenset({"exp", "exp_"})
_LOGS = frozenset({"log", "log_"})
_DIVISIONS = frozenset({"div", "divide", "true_divide"})
# How many assignments back an `exp` is looked for (`num = s.exp(); den = num.sum(); num / den`).
_BINDING_DEPTH = 3


class ExpOverflow(StaticRule):
    codes = ("NAN207",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._reported: set[int] = set()

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._ratio(node, node.left, node.right)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        if name in _DIVISIONS and not is_method and len(node.args) >= 2:
            self._ratio(node, node.args[0].value, node.args[1].value)
        elif name in _LOGS:
            arg = operand(node, is_method)
            if arg is not None and {"exp", "sum"} <= self.ctx.value(arg).tags:
                self._report_exps(node, arg, "log(sum(exp(x)))", "`torch.logsumexp(x, dim)`")

    def _ratio(self, node: cst.CSTNode, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> None:
        den = self.ctx.value(denominator)
        if "exp" not in den.tags:
            return
        num = self.ctx.value(numerator)
        if "sum" in den.tags or "exp" in num.tags:
            self._report_exps(node, denominator, "exp(x) / sum(exp(x))", "`torch.softmax(x, dim)`")
        elif _is_one_plus(self.ctx, denominator):
            self._report_exps(node, denominator, "1 / (1 + exp(-x))", "`torch.sigmoid(x)`")

    def _report_exps(self, node: cst.CSTNode, expression: cst.BaseExpression, pattern: str, instead: str) -> None:
        for call, arg in self._exps_feeding(expression):
            if self.ctx.value(arg).hi < INF or id(call) in self._reported:
                continue  # shifted by its max (or otherwise bounded): cannot overflow
            if on_empty_tensor(self.ctx, arg) or self._kept_where_bounded(arg):
                continue  # no element to overflow, or the overflowing ones are discarded
            self._reported.add(id(call))
            text = self.ctx.short_code(arg, 40)
            self.ctx.report(
                "NAN207",
                call,
                arg=text,
                pattern=pattern,
                instead=instead,
                detail=f"`exp({text})` has no upper bound and feeds `{self.ctx.short_code(node, 60)}`",
            )

    def _kept_where_bounded(self, arg: cst.BaseExpression) -> bool:
        """`torch.where(s > threshold, g, g * e / (e + 1))` with `e = exp(s)`: the ratio is
        kept only where `s` is bounded (softplus_backward); the discarded NaN's gradient
        is NAN501's."""
        values = self.ctx.values
        return any(
            bounded_above(values, condition, arg, selected_when_true)
            for condition, selected_when_true in selecting_conditions(values, self.ctx.ancestors)
        )

    def _exps_feeding(self, expression: cst.BaseExpression) -> list[tuple[cst.Call, cst.BaseExpression]]:
        """The `exp` calls in `expression` and in the local assignments it reads."""
        found: list[tuple[cst.Call, cst.BaseExpression]] = []
        seen: set[str] = set()
        frontier: list[cst.CSTNode] = [expression]
        for _ in range(_BINDING_DEPTH + 1):
            names: list[str] = []
            for root in frontier:
                for sub in subexpressions(root):
                    if isinstance(sub, cst.Call):
                        name, is_method = self.ctx.call_name(sub)
                        arg = operand(sub, is_method) if name in _EXPS else None
                        if arg is not None:
                            found.append((sub, arg))
                    elif isinstance(sub, cst.Name) and sub.value not in seen:
                        seen.add(sub.value)
                        names.append(sub.value)
            frontier = [b.expr for n in names if (b := self.ctx.binding(n)) is not None and b.expr is not None]
        return found


def _is_one_plus(ctx, denominator: cst.BaseExpression) -> bool:
    """`1 + exp(-x)`: a hand-written sigmoid."""
    den = unparenthesized(denominator)
    if not (isinstance(den, cst.BinaryOperation) and isinstance(den.operator, cst.Add)):
        return False
    return any((v := ctx.value(side)).number and v.known and v.lo > 0 for side in (den.left, den.right))
