"""NAN101 unguarded-division and NAN102 normalization-without-eps."""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import unparenthesized
from nanlint.source.conditions import excludes_zero, reads, selecting_conditions
from nanlint.source.rule import StaticRule
from nanlint.source.values import Value

_DIVISIONS = frozenset({"div", "div_", "divide", "divide_", "true_divide", "true_divide_"})
_RECIPROCALS = frozenset({"reciprocal", "reciprocal_", "rsqrt", "rsqrt_"})
# Methods that keep "0 exactly when the tensor is 0" (once an `abs` or a `norm` is taken).
_MAGNITUDES = frozenset({"abs", "norm", "sum", "max", "amax", "mean", "float", "double"})

_NORMALIZATION_FIX = {
    "norm": "`F.normalize(x, dim=..., eps=1e-12)` or `x.norm(...).clamp_min(eps)`",
    "std": "`std + eps` (or `torch.sqrt(var + eps)`)",
}


def is_hazardous_denominator(value: Value) -> bool:
    # exp-based denominators (hand-written softmax) are NAN207's: reported there once.
    return value.is_tensor_hazard_subject and value.can_be_zero and "exp" not in value.tags


class UnguardedDivision(StaticRule):
    codes = ("NAN101", "NAN102")

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.right)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.DivideAssign):
            self._check(node, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        if name is None:
            return
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        if name in _DIVISIONS:
            index = 0 if is_method else 1
            denominator = keywords.get("other", positional[index] if len(positional) > index else None)
            if denominator is not None:
                self._check(node, denominator)
        elif name in _RECIPROCALS:
            operand = node.func.value if is_method else (positional[0] if positional else None)  # type: ignore[attr-defined]
            if operand is not None:
                self._check(node, operand)

    def _check(self, node: cst.CSTNode, denominator: cst.BaseExpression) -> None:
        value = self.ctx.value(denominator)
        if not is_hazardous_denominator(value) or self._selected_away_from_zero(denominator):
            return
        if self._magnitude_of_checked(denominator):
            return
        text = self.ctx.short_code(denominator)
        detail = f"denominator `{text}` is a tensor with range {value.describe()} and no guard"
        if "reduction" in value.tags and value.tags & {"norm", "std", "sum", "mean", "max"}:
            kind = "norm" if "norm" in value.tags else "std" if "std" in value.tags else "sum"
            instead = _NORMALIZATION_FIX.get(kind, "`.clamp_min(eps)` on the denominator")
            result = "nonzero/0 = Inf" if self._nonzero_numerator(node) else "0/0 = NaN"
            self.ctx.report("NAN102", node, denominator=text, why=value.origin(), result=result, instead=instead,
                            detail=detail)
        else:
            self.ctx.report("NAN101", node, denominator=text, why=value.origin(), detail=detail)

    def _nonzero_numerator(self, node: cst.CSTNode) -> bool:
        """`1.0 / x.sum()`, `rsqrt(v)`: the numerator cannot be 0 with the denominator, so 0 gives Inf, not NaN."""
        if isinstance(node, cst.Call):
            return self.ctx.call_name(node)[0] in _RECIPROCALS
        numerator = node.left if isinstance(node, cst.BinaryOperation) else None
        if numerator is None:
            return False
        value = self.ctx.value(numerator)
        return value.number and value.known and (value.lo > 0 or value.hi < 0)

    def _selected_away_from_zero(self, denominator: cst.BaseExpression) -> bool:
        """`torch.where(d > 0, n / d, 1.0)`: the quotient is kept only where `d` is not 0,
        so the forward value is finite (a NaN gradient there is NAN501's). So is
        `q = n / (c - 1)` when every later read of `q` is `torch.where(c > 1, q, inf)`."""
        ancestors = self.ctx.ancestors
        if self._kept_where_nonzero(ancestors, denominator):
            return True
        statement = ancestors[-2] if len(ancestors) > 1 else None
        if not (isinstance(statement, cst.Assign) and statement.value is ancestors[-1] and len(statement.targets) == 1):
            return False
        target = statement.targets[0].target
        if not isinstance(target, cst.Name):
            return False
        scope = self.ctx.functions[-1] if self.ctx.functions else self.ctx.module
        paths = list(reads(scope, target.value))
        return bool(paths) and all(self._kept_where_nonzero(path, denominator) for path in paths)

    def _kept_where_nonzero(self, path: list[cst.CSTNode], denominator: cst.BaseExpression) -> bool:
        values = self.ctx.values
        return any(
            excludes_zero(values, condition, denominator, selected_when_true)
            for condition, selected_when_true in selecting_conditions(values, path)
        )

    def _magnitude_of_checked(self, denominator: cst.BaseExpression) -> bool:
        """`flat_grad.abs().sum()` after `if flat_grad.abs().max() <= tolerance: return`
        (LBFGS): a magnitude of a tensor whose zeros the author tested for is as
        guarded as the tensor itself."""
        node, magnitude = unparenthesized(denominator), False
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _MAGNITUDES:
            magnitude = magnitude or node.func.attr.value in ("abs", "norm")
            node = unparenthesized(node.func.value)
        return magnitude and isinstance(node, cst.Name) and node.value in self.ctx.scope.zero_checked
