"""Where no gradient is taken, for the hazards that only exist in the backward pass.

An infinite derivative (`sqrt` at 0, `acos` at 1, the unselected branch of a
`torch.where`) is harmless in code that autograd never differentiates: `torch.no_grad()`
blocks, cached helpers (their arguments are hashable, so not tensors that need grad),
feature extractors and processors (data preparation, not `nn.Module`s), values that
are turned into Python numbers right away (`.item()`), and values only read by ops with
integer or bool results (`torch.bucketize`, comparisons). The forward hazards (NaN, -inf)
are reported there all the same.
"""
from __future__ import annotations

import re
from typing import Iterator

import libcst as cst

from nanlint.source.context import FileContext
from nanlint.source.tree import children

_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode"})
_CACHES = re.compile(r"cache", re.IGNORECASE)
# Base classes of data preparation code (transformers' feature extractors, processors,
# tokenizers and image processors).
_PREPARATION_BASE = re.compile(r"(FeatureExtractor|Processor|ProcessorMixin|Tokenizer|TokenizerFast|ImageProcessor\w*)$")
_TO_NUMBER = frozenset({"item", "tolist", "numpy"})
# Ops whose result is an integer or a bool: autograd does not pass through them, so the
# value they read gets no gradient from them (`torch.bucketize(dists, boundaries)`). A
# float op with a zero gradient (`round`) does not count: 0 times an infinite slope is NaN.
_INTEGER_RESULTS = frozenset(
    {"bucketize", "searchsorted", "argmax", "argmin", "argsort", "long", "int", "short", "byte", "bool",
     "gt", "ge", "lt", "le", "eq", "ne", "greater", "greater_equal", "less", "less_equal"}
)


def without_gradient(ctx: FileContext, node: cst.CSTNode) -> bool:
    """True when `node` (the node being visited) is in code autograd never differentiates."""
    return (
        in_no_grad(ctx)
        or _in_preparation_class(ctx)
        or _becomes_a_number(ctx, node)
        or _preparation_file(ctx)
        or only_feeds_integers(ctx, node)
    )


def _last_name(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Call):
        node = node.func
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return node.value if isinstance(node, cst.Name) else ""


def in_no_grad(ctx: FileContext) -> bool:
    """Inside `with torch.no_grad()`/`inference_mode()`, or a function decorated so (or cached)."""
    for ancestor in ctx.ancestors:
        if isinstance(ancestor, cst.With):
            for item in ancestor.items:
                call = item.item
                if isinstance(call, cst.Call) and ctx.qualname(call.func) in _NO_GRAD:
                    return True
        elif isinstance(ancestor, cst.FunctionDef):
            for decorator in ancestor.decorators:
                target = decorator.decorator
                name = ctx.qualname(target.func if isinstance(target, cst.Call) else target)
                if name in _NO_GRAD or _CACHES.search(_last_name(target)):
                    return True
    return False


def _is_preparation_class(cls: cst.ClassDef) -> bool:
    return any(_PREPARATION_BASE.search(_last_name(base.value)) for base in cls.bases)


def _in_preparation_class(ctx: FileContext) -> bool:
    return any(_is_preparation_class(cls) for cls in ctx.classes)


def _preparation_file(ctx: FileContext) -> bool:
    """A module whose classes prepare data and none is a model: its helpers do too.

    Only the top-level class headers are read, and only when a finding is about to be
    reported, so this costs nothing on the walk.
    """
    classes = [s for s in ctx.module.body if isinstance(s, cst.ClassDef)]
    models = any("Module" in _last_name(b.value) or "Model" in _last_name(b.value) for c in classes for b in c.bases)
    return not models and any(_is_preparation_class(c) for c in classes)


def _becomes_a_number(ctx: FileContext, node: cst.CSTNode) -> bool:
    """`torch.sqrt(x).item()`: the result leaves autograd at once."""
    ancestors = ctx.ancestors
    if len(ancestors) < 3 or ancestors[-1] is not node:
        return False
    attribute, call = ancestors[-2], ancestors[-3]
    return (
        isinstance(attribute, cst.Attribute)
        and attribute.value is node
        and attribute.attr.value in _TO_NUMBER
        and isinstance(call, cst.Call)
    )


def only_feeds_integers(ctx: FileContext, node: cst.CSTNode) -> bool:
    """`dists = torch.sqrt(...)` read only by `torch.bucketize(dists, ...)` (openfold's
    distogram), or a comparison: no gradient ever reaches it. Searched only when a
    finding is about to be reported."""
    ancestors = ctx.ancestors
    if len(ancestors) < 3 or ancestors[-1] is not node:
        return False
    if _reads_into_integers(ctx, node, ancestors[-2], ancestors[-3]):
        return True
    statement = ancestors[-2]
    if not (isinstance(statement, cst.Assign) and statement.value is node and len(statement.targets) == 1):
        return False
    target = statement.targets[0].target
    if not isinstance(target, cst.Name):
        return False
    reads = list(_reads(ctx.functions[-1] if ctx.functions else ctx.module, target.value))
    return bool(reads) and all(_reads_into_integers(ctx, *read) for read in reads)


def _reads_into_integers(ctx: FileContext, node: cst.CSTNode, parent: cst.CSTNode, grandparent: cst.CSTNode | None) -> bool:
    if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
        return True
    if isinstance(parent, cst.Arg) and isinstance(grandparent, cst.Call):
        call = grandparent  # `torch.bucketize(node, ...)`
    elif isinstance(parent, cst.Attribute) and parent.value is node and isinstance(grandparent, cst.Call):
        call = grandparent  # `node.long()`
    else:
        return False
    return ctx.call_name(call)[0] in _INTEGER_RESULTS


def _reads(scope: cst.CSTNode, name: str) -> Iterator[tuple[cst.CSTNode, cst.CSTNode, cst.CSTNode | None]]:
    """(the name, its parent, its grandparent) wherever `scope` reads the variable `name`."""
    stack: list[tuple[cst.CSTNode, cst.CSTNode | None, cst.CSTNode | None]] = [(scope, None, None)]
    while stack:
        node, parent, grandparent = stack.pop()
        if isinstance(node, cst.Name):
            if node.value == name and parent is not None and not _is_not_a_read(node, parent):
                yield node, parent, grandparent
            continue
        stack.extend((child, node, parent) for child in children(node))


def _is_not_a_read(name: cst.Name, parent: cst.CSTNode) -> bool:
    """An assignment target, an attribute's name (`x.dists`) or a keyword (`dists=`)."""
    return (
        isinstance(parent, cst.AssignTarget)
        or (isinstance(parent, cst.Attribute) and parent.attr is name)
        or (isinstance(parent, cst.Arg) and parent.keyword is name)
    )
