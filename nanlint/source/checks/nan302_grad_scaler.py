"""NAN302 fp16-without-grad-scaler: float16 autocast training whose backward has no loss scaling.

Whole-file facts decide: fp16 autocast outside inference code (from `ctx.facts`), a
`backward()`, and no loss scaling anywhere (a `GradScaler`, a `scaler.scale(...)`, or a
framework that scales for you: accelerate, Lightning, DeepSpeed, apex). A model stored
in float16 (`.half()`) is not flagged here: `GradScaler` refuses float16 parameters, so
it is not the fix; its Adam eps is NAN301's.
"""
from __future__ import annotations

import libcst as cst

from nanlint.source.checks._gradients import without_gradient
from nanlint.source.rule import StaticRule

# Libraries that scale the loss themselves when asked for float16.
_SCALING_FRAMEWORKS = ("accelerate", "lightning", "pytorch_lightning", "deepspeed", "apex", "colossalai")


def _receiver_name(func: cst.Attribute) -> str:
    value = func.value
    while isinstance(value, (cst.Attribute, cst.Call)):
        value = value.func if isinstance(value, cst.Call) else value.value
    return value.value.lower() if isinstance(value, cst.Name) else ""


class Fp16WithoutGradScaler(StaticRule):
    codes = ("NAN302",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._backward: cst.Call | None = None
        self._scaled = False
        # float16 sites in code without gradient (`@torch.no_grad()` inference).
        self._inference: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        facts = self.ctx.facts
        # The engine records a site before the checks visit it: `[-1] is node` is this call.
        if facts.fp16_autocast and facts.fp16_autocast[-1] is node and without_gradient(self.ctx, node):
            self._inference.add(id(node))
        if self._scaled:
            return
        func = node.func
        qual = self.ctx.qualname(func)
        if qual is not None and qual.endswith("GradScaler"):
            self._scaled = True
            return
        if not isinstance(func, cst.Attribute):
            return
        receiver = _receiver_name(func)
        if "scaler" in receiver or "accelerator" in receiver:
            self._scaled = True  # `scaler.scale(loss).backward()`, `accelerator.backward(loss)`
        elif func.attr.value == "backward" and self._backward is None and (qual is None or qual == "torch.autograd.backward"):
            self._backward = node

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._note_module(self.ctx.code_for(alias.name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and not node.relative:
            self._note_module(self.ctx.code_for(node.module))

    def _note_module(self, module: str) -> None:
        if module.split(".", 1)[0] in _SCALING_FRAMEWORKS:
            self._scaled = True

    def finish(self) -> None:
        if self._scaled or self._backward is None:
            return
        facts = self.ctx.facts
        if self.ctx.settings.precision not in ("auto", "fp16"):
            return
        autocast = [n for n in facts.fp16_autocast if id(n) not in self._inference]
        if not autocast:
            return
        site = self.ctx.short_code(autocast[0], 50)
        self.ctx.report(
            "NAN302",
            self._backward,
            site=site,
            detail=f"float16 autocast `{site}`; no GradScaler, `scaler.scale(...)` or scaling framework in this file",
        )
