"""NAN401 batchnorm-tiny-batch: a BatchNorm model trained on a configured tiny batch."""
from __future__ import annotations

import libcst as cst

from nanlint.findings import Severity
from nanlint.source.context import FileContext
from nanlint.source.rule import StaticRule

BATCH_NORMS = frozenset(
    f"torch.nn.{name}"
    for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")
) | {"torch.nn.functional.batch_norm"}
DATA_LOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
# Tensor factories whose first size is the batch dimension of a literal training batch.
_FACTORIES = frozenset({"randn", "rand", "zeros", "ones", "empty", "full", "normal", "randint"})


def _first_size(call: cst.Call, name: str) -> cst.BaseExpression | None:
    """The expression giving dim 0 of `torch.randn(2, 20)`, `torch.zeros((2, 20))`, `randint(0, 9, (2, 3))`."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    size_kw = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "size"), None)
    size = size_kw if size_kw is not None else (positional[2] if name == "randint" and len(positional) > 2 else None)
    if size is None and name != "randint" and positional:
        size = positional[0]
    if isinstance(size, (cst.Tuple, cst.List)):
        return size.elements[0].value if size.elements else None
    return size


class BatchNormTinyBatch(StaticRule):
    codes = ("NAN401",)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.has_batch_norm = False
        # Classes of this file that build a BatchNorm, and how many BatchNorms were built
        # when each open class began (to tell at its end whether it built one).
        self.batch_norm_classes: set[str] = set()
        self.built = 0
        self.class_starts: list[int] = []
        self.trains = False
        # Scopes that run backward() or an optimizer step: a train-mode forward elsewhere
        # (a quick check of the outputs) is not training.
        self.optimizing_scopes: set[int] = set()
        # (node, size, what configured it, scope that must optimize or None for loaders)
        self.batches: list[tuple[cst.CSTNode, int, str, int | None]] = []
        # Train/eval mode of module variables, by (scope, name), in source order.
        self.modes: dict[tuple[int, str], bool] = {}

    def visit_Call(self, node: cst.Call) -> None:
        qual = self.ctx.qualname(node.func)
        if qual in BATCH_NORMS:
            self.has_batch_norm = True
            self.built += 1
        elif qual in DATA_LOADERS:
            self._loader(node)
        elif isinstance(node.func, cst.Attribute):
            self._method(node, node.func)
        elif isinstance(node.func, cst.Name) and self.modes.get((id(self.ctx.scope), node.func.value)):
            self._forward_in_train_mode(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_starts.append(self.built)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        if self.built > self.class_starts.pop():
            self.batch_norm_classes.add(node.name.value)

    def _carries_batch_norm(self, expr: cst.BaseExpression | None, depth: int = 0) -> bool:
        """Whether a module expression builds a BatchNorm: `nn.Sequential(..., nn.BatchNorm1d(..))`,
        `Net()` of a BatchNorm class of this file, or a variable bound to one, through wrappers
        such as `DistributedDataParallel(net)` or `copy.deepcopy(net)`."""
        if expr is None or depth > 8:
            return False
        if isinstance(expr, cst.Name):
            bound = self.ctx.binding(expr.value)
            return bound is not None and self._carries_batch_norm(bound.expr, depth + 1)
        if isinstance(expr, cst.Attribute):
            return self._carries_batch_norm(expr.value, depth + 1)
        if not isinstance(expr, cst.Call):
            return False
        if self.ctx.qualname(expr.func) in BATCH_NORMS:
            return True
        if isinstance(expr.func, cst.Name) and expr.func.value in self.batch_norm_classes:
            return True
        parts = [a.value for a in expr.args] + ([expr.func.value] if isinstance(expr.func, cst.Attribute) else [])
        return any(self._carries_batch_norm(part, depth + 1) for part in parts)

    def _loader(self, node: cst.Call) -> None:
        batch = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "batch_size"), None)
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        if batch is None and len(positional) > 1:
            batch = positional[1]
        if any(a.keyword is not None and a.keyword.value == "shuffle" and _is_true(a.value) for a in node.args):
            self.trains = True  # shuffling is what training loaders do
        size = self._literal_size(batch)
        if batch is not None and size is not None:
            self.batches.append((batch, size, f"DataLoader(batch_size={size})", None))

    def _method(self, node: cst.Call, func: cst.Attribute) -> None:
        method = func.attr.value
        if method == "backward" or (method == "step" and not node.args):
            self.trains = True
            self.optimizing_scopes.add(id(self.ctx.scope))
        if method in ("train", "eval") and isinstance(func.value, cst.Name):
            training = method == "train" and not (node.args and _is_false(node.args[0].value))
            self.modes[(id(self.ctx.scope), func.value.value)] = training
            self.trains = self.trains or training

    def _forward_in_train_mode(self, node: cst.Call) -> None:
        if not node.args or not self._carries_batch_norm(node.func):
            return
        argument = node.args[0].value
        if isinstance(argument, cst.Name):
            bound = self.ctx.binding(argument.value)
            argument = bound.expr if bound is not None and bound.expr is not None else argument
        if not isinstance(argument, cst.Call):
            return
        name, is_method = self.ctx.call_name(argument)
        if name not in _FACTORIES or is_method:
            return
        size = self._literal_size(_first_size(argument, name))
        if size is not None:
            source = f"a training batch of {size} (`{self.ctx.short_code(argument, 40)}`)"
            self.batches.append((node, size, source, id(self.ctx.scope)))

    def _literal_size(self, node: cst.BaseExpression | None) -> int | None:
        if node is None:
            return None
        value = self.ctx.value(node)
        if value.number and value.known and value.lo == value.hi and float(value.lo).is_integer():
            return int(value.lo)
        return None

    def finish(self) -> None:
        if not (self.has_batch_norm and self.trains):
            return
        settings = self.ctx.settings
        minimum = settings.option("NAN401", "min-batch-size", settings.min_batch_size)
        for node, size, source, scope in self.batches:
            if size >= minimum or (scope is not None and scope not in self.optimizing_scopes):
                continue
            if size == 1:
                why = "BatchNorm raises 'Expected more than 1 value per channel' on (N, C) inputs, and one sample's statistics are its own values"
            else:
                why = f"statistics of {size} samples are noise: the running variance eval uses can collapse towards 0 and eval outputs blow up"
            self.ctx.report(
                "NAN401",
                node,
                severity=Severity.ERROR if size == 1 else None,
                size=size,
                why=why,
                minimum=minimum,
                detail=f"{source} in a file that builds a BatchNorm model and trains it",
            )


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"
