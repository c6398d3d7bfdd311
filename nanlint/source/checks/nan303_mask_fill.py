"""NAN303 infinite-mask-fill: scores masked with -inf (or a constant that is -inf in
float16) before a softmax, so a fully masked row is NaN.

Fills are collected during the walk. A softmax then looks for them in its input: the
expression itself and the local assignments it reads (through `masked_fill_`
statements too, which rebind their variable), a few assignments back. Whether the file
runs in float16 is a whole-file fact, so the decision is made in `finish`. Causal masks
(`tril`/`triu`, also through a buffer registered from one), masks that spare each
row's maximum (`(x.max(-1, keepdim=True) - x) > t`, the top-k filter `x < v[:, [-1]]`
with `v` the top-k values of `x`) and masks with a column of every row set to False
(top-p filtering's `remove[..., 0] = False`) never mask a whole row and are left alone;
a softmax wrapped in `nan_to_num` has its NaN handled.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import libcst as cst

from nanlint.findings import Fix
from nanlint.floats import LARGEST
from nanlint.source.checks._calls import argument, names_in, subexpressions
from nanlint.source.fixers import finfo_min_fix
from nanlint.source.rule import StaticRule

_FILLS = frozenset({"masked_fill", "masked_fill_"})
_CAUSAL_NAME = re.compile(r"causal|tril|triu|subsequent|future|look_?ahead|autoregressive", re.IGNORECASE)
# Masks that never mask a whole row where they are True: those that spare each row's
# maximum and those that leave a column of every row False. `where(mask, x, -inf)` fills
# where the mask is False instead. (Causal masks spare a row either way round: tril
# keeps, triu removes.)
_SPARES_EVERY_ROW = frozenset({"keeps_max", "spares_column"})
# How many assignments back a softmax input is followed to find the fill.
_DEPTH = 3
_INSTEAD = "fill with `torch.finfo(scores.dtype).min` instead, which stays finite and gives a fully masked row uniform weights"


@dataclass(frozen=True)
class _Fill:
    node: cst.CSTNode
    value: str
    # True: only a hazard when the file runs in float16 (a finite constant beyond 65504).
    fp16_only: bool
    # True: reported whether or not a softmax reads it (`0 * -inf` is NaN by
    # itself; an additive mask is built for a softmax elsewhere).
    always: bool = False
    # The fill value replaced by `torch.finfo(<tensor>.dtype).min`, when the tensor is known.
    fix: Fix | None = None


class InfiniteMaskFill(StaticRule):
    codes = ("NAN303",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._fills: list[_Fill] = []
        # ids of the fill nodes a softmax reads; fills by subscript, by filled variable.
        self._feeding_softmax: set[int] = set()
        self._subscript_fills: dict[str, list[_Fill]] = {}
        # `self.<name>` attributes that hold a causal mask (`register_buffer("bias", tril(...))`).
        self._causal_attributes: set[str] = set()

    # -- what the walk collects

    def visit_Call(self, node: cst.Call) -> None:
        name, is_method = self.ctx.call_name(node)
        called = name or _called_attribute(node)
        if called and "softmax" in called.lower():
            return
        if called == "register_buffer":
            self._note_causal(argument(node, 0, "name"), argument(node, 1, "tensor"))
        elif name in _FILLS:
            tensor = node.func.value if is_method else argument(node, 0, "input")  # type: ignore[attr-defined]
            self._fill(node, argument(node, 0 if is_method else 1, "mask"), argument(node, 1 if is_method else 2, "value"), tensor)
        elif name == "where" and not is_method:
            branches = (argument(node, 1, "input"), argument(node, 2, "other"))
            for branch, other, fills_where_true in ((*branches, True), (*branches[::-1], False)):
                if branch is not None and self._is_minus_inf(branch):
                    # Only a tensor branch has a dtype for `finfo`: `where(c, 0, -inf)` has none.
                    tensor = other if other is not None and not self.ctx.value(other).number else None
                    self._fill(node, argument(node, 0, "condition"), branch, tensor, fills_where_true)
                    return

    def leave_Call(self, node: cst.Call) -> None:
        """A softmax is read when it is left, after the fills inside it (`F.softmax(x.masked_fill(m, -inf))`)."""
        called = self.ctx.call_name(node)[0] or _called_attribute(node)
        if called and "softmax" in called.lower():
            self._softmax(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            target_node = target.target
            if isinstance(target_node, cst.Subscript) and self._is_minus_inf(node.value):
                mask = target_node.slice[0].slice if target_node.slice else None
                fill = self._fill(node, getattr(mask, "value", None), node.value, target_node.value)
                if fill is not None and isinstance(target_node.value, cst.Name):
                    self._subscript_fills.setdefault(target_node.value.value, []).append(fill)
            elif isinstance(target_node, cst.Attribute) and isinstance(target_node.value, cst.Name):
                if target_node.value.value == "self" and "causal" in self.ctx.value(node.value).tags:
                    self._causal_attributes.add(target_node.attr.value)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        """Additive masks: `(1 - mask) * -1e9` (inf in float16) and `(1 - mask) * -inf` (0 * -inf)."""
        if not isinstance(node.operator, cst.Multiply):
            return
        for constant, other in ((node.left, node.right), (node.right, node.left)):
            value = self.ctx.value(constant)
            if not (value.number and value.known and value.lo == value.hi and value.lo < 0):
                continue
            if not self._mentions_mask(other):
                continue
            if value.lo == -math.inf:
                self._fills.append(_Fill(node, self.ctx.short_code(constant, 20), False, always=True))
            elif -value.lo > LARGEST["fp16"]:
                # An additive mask is built for a softmax, often in another function.
                self._fills.append(_Fill(node, self.ctx.short_code(constant, 20), True, always=True))
            return

    # -- whole-file decision

    def finish(self) -> None:
        fp16 = self.ctx.precision == "fp16"
        for fill in self._fills:
            if fill.fp16_only and not fp16:
                continue
            if fill.always and not fill.fp16_only:
                effect = "0 * -inf is NaN at every position the mask keeps"
            elif fill.fp16_only:
                effect = "a row that is entirely masked is -inf everywhere and its softmax is NaN"
            elif id(fill.node) not in self._feeding_softmax:
                continue
            else:
                effect = "a row that is entirely masked is -inf everywhere and its softmax is exp(-inf - (-inf)) = NaN"
            what = f"`{fill.value}`, which is -inf in float16 (beyond 65504)," if fill.fp16_only else f"`{fill.value}`"
            self.ctx.report(
                "NAN303",
                fill.node,
                value=what,
                effect=effect,
                instead=_INSTEAD,
                detail=f"mask fill with {fill.value}" + (" in a float16 file" if fill.fp16_only else " that a softmax reads"),
                fix=fill.fix,
            )

    # -- helpers

    def _fill(
        self,
        node: cst.CSTNode,
        mask: cst.BaseExpression | None,
        value: cst.BaseExpression | None,
        tensor: cst.BaseExpression | None = None,
        fills_where_true: bool = True,
    ) -> _Fill | None:
        if value is None or not self._is_minus_inf(value):
            return None
        if mask is not None and self._spares_every_row(mask, fills_where_true):
            return None
        fix = finfo_min_fix(self.ctx, node, value, tensor) if tensor is not None else None
        fill = _Fill(node, self.ctx.short_code(value, 20), False, fix=fix)
        self._fills.append(fill)
        return fill

    def _softmax(self, node: cst.Call) -> None:
        """Mark the fills this softmax reads, unless its NaN is handled (`nan_to_num`)."""
        for ancestor in reversed(self.ctx.ancestors[:-1]):
            if isinstance(ancestor, cst.Call) and (self.ctx.call_name(ancestor)[0] or "").endswith("nan_to_num"):
                return
            if isinstance(ancestor, cst.SimpleStatementLine):
                break
        recorded = {id(f.node) for f in self._fills}
        seen: set[str] = set()
        frontier: list[cst.CSTNode] = [node]
        for _ in range(_DEPTH + 1):
            names: list[str] = []
            for root in frontier:
                for sub in subexpressions(root):
                    if id(sub) in recorded:
                        self._feeding_softmax.add(id(sub))
                    elif isinstance(sub, cst.Name) and sub.value not in seen:
                        seen.add(sub.value)
                        names.append(sub.value)
                        for fill in self._subscript_fills.get(sub.value, ()):
                            self._feeding_softmax.add(id(fill.node))
            frontier = [b.expr for n in names if (b := self.ctx.binding(n)) is not None and b.expr is not None]

    def _is_minus_inf(self, node: cst.BaseExpression) -> bool:
        value = self.ctx.value(node)
        return value.known and value.hi == -math.inf

    def _spares_every_row(self, mask: cst.BaseExpression, fills_where_true: bool) -> bool:
        """Does filling where `mask` is True (False: where it is False) leave a position of
        every row unfilled? The sparing tags are read off the mask's own value, which `~`
        and other operations on it drop; only causality is also found inside it."""
        return fills_where_true and bool(self.ctx.value(mask).tags & _SPARES_EVERY_ROW) or self._is_causal(mask)

    def _is_causal(self, mask: cst.BaseExpression) -> bool:
        if "causal" in self.ctx.value(mask).tags or _CAUSAL_NAME.search(self.ctx.code_for(mask)):
            return True
        for sub in subexpressions(mask):
            if isinstance(sub, cst.Attribute) and sub.attr.value in self._causal_attributes:
                return True
            if isinstance(sub, cst.Name) and (bound := self.ctx.binding(sub.value)) is not None:
                if "causal" in bound.value.tags or (bound.expr is not None and _CAUSAL_NAME.search(self.ctx.code_for(bound.expr))):
                    return True
        return False

    def _mentions_mask(self, node: cst.BaseExpression) -> bool:
        return "mask" in self.ctx.value(node).tags or any("mask" in name.lower() for name in names_in(node))

    def _note_causal(self, name: cst.BaseExpression | None, tensor: cst.BaseExpression | None) -> None:
        if isinstance(name, cst.SimpleString) and tensor is not None and "causal" in self.ctx.value(tensor).tags:
            attribute = name.evaluated_value
            if isinstance(attribute, str):
                self._causal_attributes.add(attribute)


def _called_attribute(node: cst.Call) -> str | None:
    """`softmax` in `self.softmax(x)` / `nn.Softmax(dim=-1)(x)`, which have no torch name."""
    func = node.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Call):
        return _called_attribute(func)
    return func.value if isinstance(func, cst.Name) else None
