"""NAN201 log-of-nonpositive, NAN202 log-of-probability, NAN203 bce-on-probabilities.

One module because they are one decision: the log of a probability is NAN202 (its fix
is to stay in log space), a hand-written cross-entropy or KL term is NAN203 (its fix is
the fused loss), and any other log of a value that can be 0 is NAN201. The pattern
rules run on the enclosing expression, which the walk visits before the logs inside
it, and mark those logs explained so that one hazard gives one finding.
"""
from __future__ import annotations

import libcst as cst

from nanlint.findings import Fix
from nanlint.source.checks._calls import is_number, operand, same_expression, unparenthesized
from nanlint.source.checks._gradients import only_feeds_integers
from nanlint.source.rule import StaticRule
from nanlint.source.values import INF, Value

_LOGS = frozenset({"log", "log2", "log10", "log_", "log2_", "log10_"})
_LOG1P = frozenset({"log1p", "log1p_"})

# Probability functions and the log-space function that replaces `log(f(x))`, by the
# canonical name `ValueAnalyzer.call_name` gives (method calls give the bare name).
_SOFTMAXES = frozenset({"softmax", "nn.functional.softmax"})
_SIGMOIDS = frozenset({"sigmoid", "nn.functional.sigmoid", "expit"})

_UNDERFLOW = {
    "softmax": "softmax is exactly 0 for a logit about 104 below its row's maximum (float32)",
    "sigmoid": "sigmoid(x) is exactly 0 for x below about -104 (float32)",
    "prob": "a product or mixture of probabilities underflows to exactly 0",
}

_MASK_INSTEAD = (
    "to mask scores, fill them instead: `scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)`"
)


def _log_call(ctx, node: cst.BaseExpression) -> tuple[cst.Call, cst.BaseExpression] | None:
    """(the call, its argument) if `node` is `log(arg)` / `arg.log()` in any spelling."""
    node = unparenthesized(node)
    if not isinstance(node, cst.Call):
        return None
    name, is_method = ctx.call_name(node)
    if name not in _LOGS:
        return None
    arg = operand(node, is_method)
    return (node, arg) if arg is not None else None


def _logs_in_term(ctx, term: cst.BaseExpression) -> tuple[cst.Call, cst.BaseExpression] | None:
    """The log of a cross-entropy term: `log(p)`, `y * log(p)`, `-log(p) * y`."""
    term = unparenthesized(term)
    if isinstance(term, cst.UnaryOperation) and isinstance(term.operator, cst.Minus):
        return _logs_in_term(ctx, term.expression)
    found = _log_call(ctx, term)
    if found is not None:
        return found
    if isinstance(term, cst.BinaryOperation) and isinstance(term.operator, cst.Multiply):
        return _log_call(ctx, term.left) or _log_call(ctx, term.right) or _logs_in_term(ctx, term.left)
    return None


def _terms(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The operands of a chain of `+` and `-` (signs do not matter for the pattern)."""
    node = unparenthesized(node)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _terms(node.expression)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Add, cst.Subtract)):
        return _terms(node.left) + _terms(node.right)
    return [node]


def _one_minus(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """`p` if `expr` is `1 - p`."""
    expr = unparenthesized(expr)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Subtract) and is_number(expr.left, 1.0):
        return expr.right
    return None


def _strictly_inside_unit(value: Value) -> bool:
    return value.guarded or (value.known and value.lo > 0 and value.hi < 1)


class LogDomain(StaticRule):
    codes = ("NAN201", "NAN202", "NAN203")

    # ------------------------------------------------------------ NAN203 patterns

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if "NAN203" not in self.ctx.enabled:
            return
        if isinstance(node.operator, (cst.Add, cst.Subtract)):
            self._binary_cross_entropy(node)
        elif isinstance(node.operator, cst.Multiply):
            self._kl_term(node)

    def _binary_cross_entropy(self, node: cst.BinaryOperation) -> None:
        logs = [found for term in _terms(node) if (found := _logs_in_term(self.ctx, term)) is not None]
        for call, p in logs:
            for other_call, other_arg in logs:
                one_minus = _one_minus(other_arg)
                if one_minus is None or not same_expression(one_minus, p):
                    continue
                if id(call) in self.ctx.explained or _strictly_inside_unit(self.ctx.value(p)):
                    continue
                text = self.ctx.short_code(p, 30)
                self.ctx.explained.update((id(call), id(other_call)))
                self.ctx.report(
                    "NAN203",
                    node,
                    what="binary cross-entropy",
                    p=text,
                    instead="`F.binary_cross_entropy_with_logits(logits, y)` on the logits (or `nn.BCEWithLogitsLoss`)",
                    detail=f"`log({text})` and `log(1 - {text})` with `{text}` not clamped inside (0, 1)",
                )
                return

    def _kl_term(self, node: cst.BinaryOperation) -> None:
        for weight, other in ((node.left, node.right), (node.right, node.left)):
            found = _log_call(self.ctx, other)
            if found is None or id(found[0]) in self.ctx.explained:
                continue
            ratio = unparenthesized(found[1])
            if not (isinstance(ratio, cst.BinaryOperation) and isinstance(ratio.operator, cst.Divide)):
                continue
            if not same_expression(ratio.left, weight):
                continue
            if _strictly_inside_unit(self.ctx.value(weight)) or self.ctx.value(ratio.left).guarded:
                continue
            text = self.ctx.short_code(weight, 30)
            self.ctx.explained.add(id(found[0]))
            self.ctx.report(
                "NAN203",
                node,
                what="KL divergence",
                p=text,
                instead=f"`torch.xlogy({text}, {text}) - torch.xlogy({text}, q)` or `F.kl_div(log_q, {text})` with log inputs",
                detail=f"`{text} * log({text} / ...)` with `{text}` a distribution that can hold exact zeros",
            )
            return

    # ------------------------------------------------------------ the logs themselves

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.ctx.explained:
            return
        name, is_method = self.ctx.call_name(node)
        if name in _LOGS:
            self._log(node, name, is_method)
        elif name in _LOG1P:
            self._log1p(node, is_method)

    def _log(self, node: cst.Call, name: str, is_method: bool) -> None:
        arg = operand(node, is_method)
        if arg is None:
            return
        value = self.ctx.value(arg)
        if not value.tensor or value.number or value.guarded or value.lo > 0:
            return
        text = self.ctx.short_code(arg, 50)
        function = name.rstrip("_")
        detail = f"argument `{text}` has range {value.describe()} and no guard"
        if "prob" in value.tags:
            # A product with a probability is 0 wherever it underflows, whatever the
            # other factor (`w * softmax(x)`), so the tag alone is enough here.
            self._log_of_probability(node, arg, function, is_method, value, text, detail)
            return
        if "centred" not in value.tags and (not value.known or value.lo == -INF):
            # A sum or difference of values of unknown sign: nothing says it is <= 0 (a
            # log, unlike a root, also meets sums of probabilities the analysis cannot
            # see). `x - x.mean()` is negative below the mean whatever `x` is.
            return
        if "exp" in value.tags and "sum" in value.tags:
            return  # log(sum(exp(x))): NAN207's, its fix is logsumexp
        if value.lo == 0 and only_feeds_integers(self.ctx, node):
            return  # -inf compares correctly (rejection sampling: `u.log_().gt(c)`)
        self.ctx.report(
            "NAN201",
            node,
            function=function,
            arg=text,
            what="0" if value.lo == 0 else "0 or negative",
            why=value.origin() if value.lo == 0 else value.negative_origin(),
            result="-inf" if value.lo == 0 else "-inf, or NaN below 0",
            instead=_MASK_INSTEAD if "mask" in value.tags else "clamp it first (`.clamp_min(eps)`) or stay in log space",
            detail=detail,
        )

    def _log1p(self, node: cst.Call, is_method: bool) -> None:
        arg = operand(node, is_method)
        if arg is None:
            return
        value = self.ctx.value(arg)
        if not value.is_tensor_hazard_subject or value.guarded or value.lo > -1:
            return
        text = self.ctx.short_code(arg, 50)
        self.ctx.report(
            "NAN201",
            node,
            function="log1p",
            arg=text,
            what="-1 or less",
            why=f"its range is {value.describe()}",
            result="-inf, or NaN below -1",
            instead="clamp it first (`.clamp_min(-1 + eps)`) or stay in log space",
            detail=f"argument `{text}` has range {value.describe()} and reaches -1",
        )

    def _log_of_probability(
        self, node: cst.Call, arg: cst.BaseExpression, function: str, is_method: bool, value: Value, text: str, detail: str
    ) -> None:
        inner = unparenthesized(arg)
        inner_name = self.ctx.call_name(inner)[0] if isinstance(inner, cst.Call) else None
        kind = "softmax" if inner_name in _SOFTMAXES else "sigmoid" if inner_name in _SIGMOIDS else "prob"
        instead = {
            "softmax": "`log_softmax` computes it in log space",
            "sigmoid": "`F.logsigmoid` computes it in log space",
            "prob": "stay in log space: `log_softmax`, `F.logsigmoid`, `torch.logsumexp` for a mixture",
        }[kind]
        fix = None
        if function == "log" and len(node.args) == (0 if is_method else 1) and isinstance(inner, cst.Call):
            fix = self._log_space_fix(inner, kind)
        self.ctx.report(
            "NAN202",
            node,
            arg=text,
            why=_UNDERFLOW[kind],
            instead=instead,
            detail=detail,
            fix=fix,
        )

    def _log_space_fix(self, inner: cst.Call, kind: str) -> Fix | None:
        """`log(softmax(x, d))` -> `log_softmax(x, d)`, `log(sigmoid(x))` -> `F.logsigmoid(x)`."""
        func = inner.func
        if kind == "softmax" and isinstance(func, cst.Attribute):
            replacement = inner.with_changes(func=func.with_changes(attr=cst.Name("log_softmax")))
            return Fix("use log_softmax", self.ctx.code_for(replacement), safe=True)
        if kind == "sigmoid":
            functional = self._functional_prefix(func)
            if functional is None:
                return None
            args = inner.args
            if isinstance(func, cst.Attribute) and self.ctx.qualname(func) is None:
                args = (cst.Arg(func.value),)  # `x.sigmoid()` -> `F.logsigmoid(x)`
            elif len(args) != 1 or args[0].keyword is not None:
                return None
            call = cst.Call(func=cst.parse_expression(f"{functional}.logsigmoid"), args=[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in args])
            return Fix("use F.logsigmoid", self.ctx.code_for(call), safe=True)
        return None

    def _functional_prefix(self, func: cst.BaseExpression) -> str | None:
        """How this file spells `torch.nn.functional`, or None if it cannot."""
        if isinstance(func, cst.Attribute) and self.ctx.qualname(func) == "torch.nn.functional.sigmoid":
            return self.ctx.code_for(func.value)
        scope = self.ctx.scope
        spelled: str | None = None
        while scope is not None:
            for local, target in scope.aliases.items():
                if target == "torch.nn.functional":
                    return local
                if target == "torch" and spelled is None:
                    spelled = f"{local}.nn.functional"
            scope = scope.parent
        return spelled
