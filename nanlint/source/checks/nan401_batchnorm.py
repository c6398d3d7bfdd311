"""NAN401 batchnorm-tiny-batch: a BatchNorm model trained on a configured tiny batch."""
from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from nanlint.findings import Severity
from nanlint.source.checks._gradients import in_no_grad
from nanlint.source.context import FileContext
from nanlint.source.rule import StaticRule

BATCH_NORMS = frozenset(
    f"torch.nn.{name}"
    for name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")
) | {"torch.nn.functional.batch_norm"}
DATA_LOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
# Names of loaders that only feed evaluation (`val_loader`, `test_dl`, `eval_dataloader`).
_EVALUATION_NAME = re.compile(r"(^|_)(val|valid|validation|test|eval|evaluation|dev|predict|inference)(_|$)", re.IGNORECASE)
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


@dataclass(frozen=True)
class _Batch:
    """A configured batch size: the node to report, what configured it, and where."""

    node: cst.CSTNode
    size: int
    source: str
    # A literal batch: the scope that must optimize for it to be training.
    scope: int | None = None
    # A loader: its DataLoader call and the name it is bound to.
    loader: cst.Call | None = None
    name: str | None = None


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
        self.batches: list[_Batch] = []
        # A loader that only feeds evaluation has no BatchNorm statistics to spoil: one named
        # so, or one whose every loop runs under no_grad or with its scope's models in eval
        # mode. Loops by the name iterated (evaluating or not), and loaders looped over inline.
        self.loops: dict[str, list[bool]] = {}
        self.evaluation_loaders: set[int] = set()
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

    def visit_For(self, node: cst.For) -> None:
        self._loop(node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._loop(node.iter)

    def _loop(self, source: cst.BaseExpression) -> None:
        scope_modes = [training for (scope, _), training in self.modes.items() if scope == id(self.ctx.scope)]
        evaluating = in_no_grad(self.ctx) or (bool(scope_modes) and not any(scope_modes))
        if isinstance(source, cst.Call) and isinstance(source.func, cst.Name) and source.func.value == "enumerate":
            source = source.args[0].value if source.args else source
        if isinstance(source, cst.Call) and evaluating:
            self.evaluation_loaders.add(id(source))
        elif isinstance(source, (cst.Name, cst.Attribute)):
            name = source.attr.value if isinstance(source, cst.Attribute) else source.value
            self.loops.setdefault(name, []).append(evaluating)

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
            self.batches.append(_Batch(batch, size, f"DataLoader(batch_size={size})", loader=node, name=self._bound_name()))

    def _bound_name(self) -> str | None:
        """`val_loader` of `val_loader = DataLoader(...)` or `self.val_loader = ...`, while visiting the call."""
        ancestors = self.ctx.ancestors
        parent = ancestors[-2] if len(ancestors) > 1 else None
        if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1):
            return None
        target = parent.targets[0].target
        name = target.attr if isinstance(target, cst.Attribute) else target
        return name.value if isinstance(name, cst.Name) else None

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
            self.batches.append(_Batch(node, size, source, scope=id(self.ctx.scope)))

    def _literal_size(self, node: cst.BaseExpression | None) -> int | None:
        if node is None:
            return None
        value = self.ctx.value(node)
        if value.number and value.known and value.lo == value.hi and float(value.lo).is_integer():
            return int(value.lo)
        return None

    def _outside_training(self, batch: _Batch) -> bool:
        """A literal batch fed where nothing is optimized, or a loader that only feeds evaluation."""
        if batch.scope is not None:
            return batch.scope not in self.optimizing_scopes
        name = batch.name
        if id(batch.loader) in self.evaluation_loaders or (name and _EVALUATION_NAME.search(name)):
            return True
        loops = self.loops.get(name, []) if name else []
        return bool(loops) and all(loops)

    def finish(self) -> None:
        if not (self.has_batch_norm and self.trains):
            return
        settings = self.ctx.settings
        minimum = settings.option("NAN401", "min-batch-size", settings.min_batch_size)
        for batch in self.batches:
            if batch.size >= minimum or self._outside_training(batch):
                continue
            node, size, source = batch.node, batch.size, batch.source
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
