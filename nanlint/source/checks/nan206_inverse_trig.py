"""NAN206 inverse-trig-domain: acos/asin/atanh of a value that reaches +-1."""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import operand
from nanlint.source.checks._gradients import without_gradient
from nanlint.source.fixers import clamp_inside_unit_fix
from nanlint.source.rule import StaticRule

# function -> what happens at +-1 exactly
_AT_THE_EDGE = {
    "acos": "the gradient -1 / sqrt(1 - x ** 2) is infinite there",
    "asin": "the gradient 1 / sqrt(1 - x ** 2) is infinite there",
    "atanh": "the result is +-inf there",
}
_FUNCTIONS = {
    "acos": "acos", "arccos": "acos", "asin": "asin", "arcsin": "asin", "atanh": "atanh", "arctanh": "atanh",
}


class InverseTrigDomain(StaticRule):
    codes = ("NAN206",)

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.ctx.explained:
            return
        name, is_method = self.ctx.call_name(node)
        function = _FUNCTIONS.get(name.rstrip("_")) if name else None
        if function is None:
            return
        arg = operand(node, is_method)
        if arg is None:
            return
        value = self.ctx.value(arg)
        # The range decides, not `guarded`: `x + eps` is no protection against 1.
        if not (value.tensor and value.known and not value.number) or (value.lo > -1 and value.hi < 1):
            return
        beyond = value.lo < -1 or value.hi > 1
        if not beyond and function != "atanh" and without_gradient(self.ctx, node):
            return  # exactly +-1 is only a problem for the gradient
        text = self.ctx.short_code(arg, 50)
        self.ctx.report(
            "NAN206",
            node,
            function=function,
            arg=text,
            range=value.describe(),
            reaches="goes beyond +-1" if beyond else "reaches +-1",
            effect=f"{_AT_THE_EDGE[function]}, and NaN beyond" if beyond else _AT_THE_EDGE[function],
            detail=f"argument `{text}` has range {value.describe()}, not strictly inside (-1, 1)",
            # Unsafe: it changes the result at (and beyond) +-1, which is the point.
            fix=clamp_inside_unit_fix(self.ctx, node, arg, 1e-6),
        )
