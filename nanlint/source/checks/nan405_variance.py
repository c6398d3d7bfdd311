"""NAN405 variance-of-one: the unbiased variance over the batch dimension, in model code.

`x.var(0)` divides by `n - 1`: a batch of one sample gives 0 / 0. Only dimension 0
alone is the batch (over `(0, 2, 3)` a single image still has H * W values), and only
model code (an `nn.Module`'s methods, a `forward`) sees arbitrary batches: a dataset
statistic `data.std(0)` runs over thousands of rows and is not flagged.
"""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._calls import argument, keyword, unparenthesized
from nanlint.source.rule import StaticRule

_VARIANCES = frozenset({"var", "std", "var_mean", "std_mean"})


def _is_batch_dim(dim: cst.BaseExpression) -> bool:
    dim = unparenthesized(dim)
    if isinstance(dim, (cst.Tuple, cst.List)) and len(dim.elements) == 1:
        dim = unparenthesized(dim.elements[0].value)
    return isinstance(dim, cst.Integer) and dim.evaluated_value == 0


def _is_false_or_zero(node: cst.BaseExpression) -> bool:
    node = unparenthesized(node)
    if isinstance(node, cst.Name):
        return node.value == "False"
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.evaluated_value) == 0.0


class VarianceOfOne(StaticRule):
    codes = ("NAN405",)

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        if name not in _VARIANCES or not self._in_model_code():
            return
        offset = 0 if is_method else 1
        dim = argument(node, offset, "dim")
        if dim is None or not _is_batch_dim(dim):
            return
        unbiased = argument(node, offset + 1, "unbiased")
        correction = keyword(node, "correction")
        if (unbiased is not None and _is_false_or_zero(unbiased)) or (correction is not None and _is_false_or_zero(correction)):
            return
        if is_method and self.ctx.value(node.func.value).number:  # type: ignore[attr-defined]
            return
        shown = "1" if correction is None else self.ctx.short_code(correction, 10)
        self.ctx.report(
            "NAN405",
            node,
            function=name,
            dim="0",
            correction=shown,
            why="one element along dim 0 (a batch of one sample, a one-frame sequence) leaves n - 1 = 0 degrees of freedom",
            detail=f"`{self.ctx.short_code(node, 40)}` reduces dim 0 alone with correction {shown}, in model code",
        )

    def _in_model_code(self) -> bool:
        for function in self.ctx.functions:
            if isinstance(function, cst.FunctionDef) and function.name.value == "forward":
                return True
        for cls in self.ctx.classes:
            if "norm" in cls.name.value.lower():
                return True
            for base in cls.bases:
                qual = self.ctx.qualname(base.value)
                if qual == "torch.nn.Module" or (qual is None and _last_name(base.value) == "Module"):
                    return True
        return False


def _last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return node.value if isinstance(node, cst.Name) else None
