"""One vocabulary for both graph dialects: what an fx node computes, and its arguments by name.

`torch.fx.symbolic_trace` writes `operator.truediv`, `torch.log`, `Tensor.div` (a
`call_method`) and `F.softmax`; `torch.export` writes ATen overloads (`aten.div.Tensor`,
`aten._softmax.default`). Both are mapped here, once, to a canonical op name (`div`,
`softmax`) and a dict of arguments keyed by the names the range rules use (`input`,
`other`, `dim`...), so the analysis never looks at a target again.
"""
from __future__ import annotations

import inspect
import operator
from typing import Any, Callable

# Canonical names for the spellings that differ between torch functions, Tensor methods,
# the `operator` module and ATen (after leading/trailing underscores are stripped).
ALIASES = {
    "truediv": "div", "divide": "div", "true_divide": "div",
    "multiply": "mul", "subtract": "sub", "negative": "neg", "absolute": "abs",
    "clip": "clamp", "clip_min": "clamp_min", "clip_max": "clamp_max",
    "concat": "cat", "concatenate": "cat", "float_power": "pow",
    "native_batch_norm": "batch_norm",
    "native_batch_norm_legit": "batch_norm",
    "native_batch_norm_legit_no_training": "batch_norm",
    "native_batch_norm_legit_functional": "batch_norm",
    "native_layer_norm": "layer_norm", "native_group_norm": "group_norm",
    "fused_rms_norm": "rms_norm",
    "safe_softmax": "softmax",
    "frobenius_norm": "norm", "linalg_norm": "norm", "linalg_vector_norm": "norm",
    "feature_dropout": "dropout", "alpha_dropout": "dropout", "feature_alpha_dropout": "dropout",
    "native_dropout": "dropout",
    "conv1d": "conv", "conv2d": "conv", "conv3d": "conv", "convolution": "conv",
    "conv_transpose1d": "conv_transpose", "conv_transpose2d": "conv_transpose",
    "conv_transpose3d": "conv_transpose",
    "scaled_dot_product_flash_attention_for_cpu": "scaled_dot_product_attention",
    "scaled_dot_product_efficient_attention": "scaled_dot_product_attention",
    "scaled_dot_product_flash_attention": "scaled_dot_product_attention",
    "unsafe_view": "view",
}

# Positional parameter names for callables without an introspectable signature
# (torch builtins, Tensor methods, `operator`); the first is the tensor itself.
_BINARY = ("input", "other")
_REDUCE = ("input", "dim", "keepdim")
SIGNATURES: dict[str, tuple[str, ...]] = {
    "add": ("input", "other", "alpha"), "sub": ("input", "other", "alpha"),
    "rsub": ("input", "other", "alpha"), "mul": _BINARY, "div": _BINARY, "floordiv": _BINARY,
    "maximum": _BINARY, "minimum": _BINARY, "fmax": _BINARY, "fmin": _BINARY,
    "matmul": _BINARY, "mm": _BINARY, "bmm": _BINARY,
    "addmm": ("input", "mat1", "mat2", "beta", "alpha"),
    "baddbmm": ("input", "batch1", "batch2", "beta", "alpha"),
    "pow": ("input", "exponent"),
    "clamp": ("input", "min", "max"), "clamp_min": ("input", "min"), "clamp_max": ("input", "max"),
    "sum": _REDUCE, "mean": _REDUCE, "nansum": _REDUCE, "nanmean": _REDUCE,
    "amax": _REDUCE, "amin": _REDUCE, "max": _REDUCE, "min": _REDUCE, "prod": _REDUCE,
    "logsumexp": _REDUCE, "cumsum": ("input", "dim"), "cumprod": ("input", "dim"),
    "var": ("input", "dim", "unbiased", "keepdim"), "std": ("input", "dim", "unbiased", "keepdim"),
    "var_mean": ("input", "dim", "unbiased", "keepdim"), "std_mean": ("input", "dim", "unbiased", "keepdim"),
    "norm": ("input", "p", "dim", "keepdim"),
    "softmax": ("input", "dim"), "log_softmax": ("input", "dim"),
    "linear": ("input", "weight", "bias"),
    "conv": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "where": ("condition", "input", "other"),
    "masked_fill": ("input", "mask", "value"),
    "cat": ("tensors", "dim"), "stack": ("tensors", "dim"),
    "getitem": ("input", "index"), "getattr": ("input", "name"),
    "scaled_dot_product_attention": ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale"),
    "layer_norm": ("input", "normalized_shape", "weight", "bias", "eps"),
    "group_norm": ("input", "num_groups", "weight", "bias", "eps"),
    "rms_norm": ("input", "normalized_shape", "weight", "eps"),
    "dropout": ("input", "p", "training"),
    "gelu": ("input", "approximate"), "leaky_relu": ("input", "negative_slope"),
    "hardtanh": ("input", "min_val", "max_val"), "elu": ("input", "alpha"),
    "softplus": ("input", "beta", "threshold"),
    "full": ("size", "fill_value"), "full_like": ("input", "fill_value"),
    "scalar_tensor": ("value",), "tensor": ("data",),
    "embedding": ("input", "weight"),
    "index_select": ("input", "dim", "index"), "gather": ("input", "dim", "index"),
    "size": ("input", "dim"),
    "index_add": ("input", "dim", "index", "source"), "scatter_add": ("input", "dim", "index", "source"),
    "index_put": ("input", "indices", "values", "accumulate"),
}

# Argument-name spellings that mean the same thing.
_NAME_ALIASES = {"self": "input", "train": "training", "ord": "p", "a": "input", "x": "input"}

_OPERATORS: dict[Callable[..., Any], str] = {
    operator.add: "add", operator.iadd: "add", operator.sub: "sub", operator.isub: "sub",
    operator.mul: "mul", operator.imul: "mul", operator.truediv: "div", operator.itruediv: "div",
    operator.floordiv: "floordiv", operator.neg: "neg", operator.pos: "alias",
    operator.pow: "pow", operator.matmul: "matmul", operator.getitem: "getitem",
    operator.abs: "abs", operator.mod: "mod",
    operator.gt: "compare", operator.ge: "compare", operator.lt: "compare", operator.le: "compare",
    operator.eq: "compare", operator.ne: "compare", operator.and_: "logical", operator.or_: "logical",
    operator.invert: "logical", getattr: "getattr",
}


def canonical_name(op: str, target: Any) -> str:
    """The canonical op name of an fx node (`op` is the node's opcode)."""
    if op == "call_method":
        name = str(target)
    elif target in _OPERATORS:
        return _OPERATORS[target]
    else:
        packet = getattr(target, "overloadpacket", None)
        name = getattr(packet or target, "__name__", str(target))
    name = name.strip("_")
    return ALIASES.get(name, name)


def _python_signature(target: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


_SIGNATURE_CACHE: dict[Any, tuple[str, ...] | None] = {}


def _parameter_names(op: str, target: Any, name: str) -> tuple[str, ...]:
    """Positional parameter names: the ATen schema, a Python signature, or the table."""
    key = (op, target) if op != "call_method" else (op, name)
    try:
        cached = _SIGNATURE_CACHE.get(key)
    except TypeError:  # an unhashable target
        cached = None
    if cached is not None:
        return cached
    names: tuple[str, ...] | None = None
    schema = getattr(target, "_schema", None)
    if schema is not None:
        names = tuple(_NAME_ALIASES.get(a.name, a.name) for a in schema.arguments)
    elif op == "call_function" and target not in _OPERATORS:
        signature = _python_signature(target)
        if signature is not None:
            names = tuple(_NAME_ALIASES.get(p, p) for p in signature.parameters)
    if not names:
        names = SIGNATURES.get(name, ("input",))
    try:
        _SIGNATURE_CACHE[key] = names
    except TypeError:
        pass
    return names


def bind_arguments(op: str, target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The node's arguments keyed by parameter name; extra positionals are `arg<i>`."""
    names = _parameter_names(op, target, name)
    bound: dict[str, Any] = {}
    for index, value in enumerate(args):
        key = names[index] if index < len(names) else f"arg{index}"
        if key.startswith("*"):
            key = f"arg{index}"
        bound[key] = value
    for key, value in kwargs.items():
        bound[_NAME_ALIASES.get(key, key)] = value
    if name in ("cat", "stack") and "tensors" not in bound:
        # Tensor methods have no such form; `torch.cat(*tensors)` does not exist either.
        bound["tensors"] = ()
    return bound
