"""NAN402 batchnorm-partial-batch: a BatchNorm model trained over a DataLoader that keeps
its last, partial batch."""
from __future__ import annotations

import re

import libcst as cst

from nanlint.source.checks._calls import keyword
from nanlint.source.checks.nan401_batchnorm import BATCH_NORMS, DATA_LOADERS
from nanlint.source.rule import StaticRule

_TRAINING_NAME = re.compile(r"train", re.IGNORECASE)


def _is_literal(node: cst.BaseExpression | None, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


class BatchNormPartialBatch(StaticRule):
    codes = ("NAN402",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._batch_norm = False
        self._trains = False
        self._loaders: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        qual = self.ctx.qualname(node.func)
        if qual in BATCH_NORMS:
            self._batch_norm = True
        elif qual in DATA_LOADERS:
            if self._keeps_partial_batch(node) and self._is_training_loader(node):
                self._loaders.append(node)
        elif isinstance(node.func, cst.Attribute) and (
            node.func.attr.value == "backward" or (node.func.attr.value == "step" and not node.args)
        ):
            self._trains = True

    def _keeps_partial_batch(self, node: cst.Call) -> bool:
        if keyword(node, "batch_sampler") is not None or _is_literal(keyword(node, "batch_size"), "None"):
            return False  # the batch sampler decides, or no batching at all
        drop_last = keyword(node, "drop_last")
        return drop_last is None or _is_literal(drop_last, "False")

    def _batch_size(self, node: cst.Call) -> float:
        """The literal batch size, or inf when it is not a known number."""
        size = keyword(node, "batch_size")
        if size is None and len(node.args) > 1 and node.args[1].keyword is None:
            size = node.args[1].value
        value = self.ctx.value(size) if size is not None else None
        if value is not None and value.number and value.known and value.lo == value.hi:
            return value.lo
        return float("inf")

    def _is_training_loader(self, node: cst.Call) -> bool:
        """Shuffled, or named for training: evaluation loaders may keep their last batch."""
        if _is_literal(keyword(node, "shuffle"), "True"):
            return True
        ancestors = self.ctx.ancestors
        parent = ancestors[-2] if len(ancestors) > 1 else None
        if isinstance(parent, cst.Assign) and any(_TRAINING_NAME.search(self.ctx.code_for(t.target)) for t in parent.targets):
            return True
        dataset = node.args[0].value if node.args and node.args[0].keyword is None else keyword(node, "dataset")
        return dataset is not None and bool(_TRAINING_NAME.search(self.ctx.code_for(dataset)))

    def finish(self) -> None:
        if not (self._batch_norm and self._trains):
            return
        settings = self.ctx.settings
        minimum = settings.option("NAN401", "min-batch-size", settings.min_batch_size)
        for loader in self._loaders:
            if "NAN401" in self.ctx.enabled and self._batch_size(loader) < minimum:
                continue  # a tiny batch is NAN401's, whose fix (a larger batch, drop_last) covers this
            self.ctx.report(
                "NAN402",
                loader,
                detail="a training DataLoader without drop_last=True in a file that trains a BatchNorm model",
            )
