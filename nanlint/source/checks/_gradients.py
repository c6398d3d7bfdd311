"""Where no gradient is taken, for the hazards that only exist in the backward pass.

An infinite derivative (`sqrt` at 0, `acos` at 1, the unselected branch of a
`torch.where`) is harmless in code that autograd never differentiates: `torch.no_grad()`
blocks, cached helpers (their arguments are hashable, so not tensors that need grad),
feature extractors and processors (data preparation, not `nn.Module`s), and values that
are turned into Python numbers right away (`.item()`). The forward hazards (NaN, -inf)
are reported there all the same.
"""
from __future__ import annotations

import re

import libcst as cst

from nanlint.source.context import FileContext

_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode"})
_CACHES = re.compile(r"cache", re.IGNORECASE)
# Base classes of data preparation code (transformers' feature extractors, processors,
# tokenizers and image processors).
_PREPARATION_BASE = re.compile(r"(FeatureExtractor|Processor|ProcessorMixin|Tokenizer|TokenizerFast|ImageProcessor\w*)$")
_TO_NUMBER = frozenset({"item", "tolist", "numpy"})


def without_gradient(ctx: FileContext, node: cst.CSTNode) -> bool:
    """True when `node` (the node being visited) is in code autograd never differentiates."""
    return _in_no_grad(ctx) or _in_preparation_class(ctx) or _becomes_a_number(ctx, node) or _preparation_file(ctx)


def _last_name(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Call):
        node = node.func
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return node.value if isinstance(node, cst.Name) else ""


def _in_no_grad(ctx: FileContext) -> bool:
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
