"""Whole-file facts several checks depend on, gathered during the one walk.

The precision a file runs in decides whether `eps=1e-8` is a hazard (it is 0.0 in
float16) and whether a `-1e9` mask constant overflows, so it is inferred once here from
what the file does. Two kinds of float16 evidence are kept apart because they mean
different things for an optimizer: `.half()` / `torch.float16` dtypes store tensors and
parameters in float16 (Adam's eps then lives in float16 too), while fp16 autocast
(`torch.cuda.amp.autocast()`, CUDA autocast, `dtype=torch.float16`) runs some ops in
float16 on float32 parameters, and only inside its block: the autocast `with` blocks
(and functions decorated with autocast) are kept, so a value computed outside them, in
float32, is not taken for float16.

Neither counts where the float16 tensors never reach training: a `Dataset` that hands
out float16 samples (the model casts them), or a float16 copy made to be saved
(`torch.save(model.half().state_dict(), ...)`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import libcst as cst

from nanlint.source.names import Scope, qualified_name

FP16_NAMES = frozenset({"torch.float16", "torch.half"})
BF16_NAMES = frozenset({"torch.bfloat16"})
_AUTOCAST = frozenset({"torch.autocast", "torch.cuda.amp.autocast", "torch.amp.autocast", "torch.cpu.amp.autocast"})
_SAVES = frozenset({"torch.save", "torch.jit.save", "torch.onnx.export", "safetensors.torch.save_file"})
_DATASET_BASE = re.compile(r"Dataset$")


@dataclass
class FileFacts:
    # Nodes that store tensors or parameters in float16: `.half()`, `torch.float16` dtypes.
    half_storage: list[cst.CSTNode] = field(default_factory=list)
    fp16_autocast: list[cst.CSTNode] = field(default_factory=list)
    bf16_sites: list[cst.CSTNode] = field(default_factory=list)
    # dtype arguments of autocast calls, so they are not also taken for storage.
    _autocast_dtypes: set[int] = field(default_factory=set)
    # id of each `with` statement (or decorated function) that opens fp16 autocast, to the
    # autocast call that opens it.
    _fp16_regions: dict[int, cst.CSTNode] = field(default_factory=dict)

    def observe_attribute(self, node: cst.Attribute, scope: Scope, ancestors: Sequence[cst.CSTNode]) -> None:
        # Only a dtype passed to a call stores anything in it (`.to(torch.float16)`,
        # `dtype=torch.half`); `x.dtype == torch.float16` and dtype tables do not.
        if not isinstance(ancestors[-2], cst.Arg):
            return
        if node.attr.value in ("float16", "half", "bfloat16") and id(node) not in self._autocast_dtypes:
            if _in_dataset(ancestors):
                return
            qual = qualified_name(node, scope)
            if qual in FP16_NAMES:
                self.half_storage.append(node)
            elif qual in BF16_NAMES:
                self.bf16_sites.append(node)

    def observe_call(self, node: cst.Call, scope: Scope, ancestors: Sequence[cst.CSTNode]) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and not node.args and qualified_name(func, scope) is None:
            if func.attr.value == "half":
                if _in_dataset(ancestors) or _saved(ancestors, scope):
                    return
                self.half_storage.append(node)
                return
            if func.attr.value == "bfloat16":
                self.bf16_sites.append(node)
                return
        if not isinstance(func, (cst.Attribute, cst.Name)) or "autocast" not in _last_name(func):
            return
        qual = qualified_name(func, scope)
        if qual not in _AUTOCAST:
            return
        dtype = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "dtype"), None)
        if dtype is not None:
            self._autocast_dtypes.add(id(dtype))
            dtype_name = qualified_name(dtype, scope)
            if dtype_name in FP16_NAMES:
                self._fp16_autocast(node, ancestors)
            elif dtype_name in BF16_NAMES:
                self.bf16_sites.append(node)
        elif qual == "torch.cuda.amp.autocast" or _device_argument(node) == "cuda":
            self._fp16_autocast(node, ancestors)  # CUDA autocast defaults to float16
        elif qual == "torch.cpu.amp.autocast" or _device_argument(node) == "cpu":
            self.bf16_sites.append(node)  # CPU autocast defaults to bfloat16

    def _fp16_autocast(self, node: cst.Call, ancestors: Sequence[cst.CSTNode]) -> None:
        self.fp16_autocast.append(node)
        region = _opened_region(ancestors)
        if region is not None:
            self._fp16_regions.setdefault(id(region), node)

    def fp16_autocast_around(self, ancestors: Sequence[cst.CSTNode]) -> cst.CSTNode | None:
        """The fp16 autocast call whose block (or decorated function) holds the node these
        are the ancestors of, if any: only there do autocast's ops run in float16."""
        for ancestor in reversed(ancestors):
            site = self._fp16_regions.get(id(ancestor))
            if site is not None:
                return site
        return None

    @property
    def fp16_sites(self) -> list[cst.CSTNode]:
        return self.half_storage + self.fp16_autocast

    def precision(self, setting: str) -> str:
        """The effective precision of the file: the setting, or inferred when `auto`."""
        if setting != "auto":
            return setting
        if self.fp16_sites:
            return "fp16"
        if self.bf16_sites:
            return "bf16"
        return "fp32"


def _opened_region(ancestors: Sequence[cst.CSTNode]) -> cst.CSTNode | None:
    """The `with` statement whose item is the call these are the ancestors of (also inside
    `a if amp else nullcontext()`), or the function it decorates."""
    for index in range(len(ancestors) - 2, 0, -1):
        ancestor = ancestors[index]
        if isinstance(ancestor, (cst.WithItem, cst.Decorator)):
            return ancestors[index - 1]
        if isinstance(ancestor, (cst.BaseStatement, cst.BaseSmallStatement, cst.BaseSuite)):
            return None  # a call in a statement, not the one that opens a block
    return None


def _in_dataset(ancestors: Sequence[cst.CSTNode]) -> bool:
    """Inside a `Dataset` class: samples it makes float16 are cast by whoever trains on them."""
    return any(
        isinstance(a, cst.ClassDef) and any(_DATASET_BASE.search(_base_name(b.value)) for b in a.bases) for a in ancestors
    )


def _saved(ancestors: Sequence[cst.CSTNode], scope: Scope) -> bool:
    """`model.half().state_dict()` or `torch.save(model.half(), ...)`: a float16 copy to store, not to train."""
    parent = ancestors[-2] if len(ancestors) > 1 else None
    if isinstance(parent, cst.Attribute) and parent.attr.value == "state_dict":
        return True
    return any(isinstance(a, cst.Call) and qualified_name(a.func, scope) in _SAVES for a in ancestors[:-1])


def _base_name(node: cst.BaseExpression) -> str:
    return _last_name(node) if isinstance(node, (cst.Attribute, cst.Name)) else ""


def _last_name(func: cst.BaseExpression) -> str:
    return func.attr.value if isinstance(func, cst.Attribute) else func.value  # type: ignore[attr-defined]


def _device_argument(node: cst.Call) -> str | None:
    for index, arg in enumerate(node.args):
        if (arg.keyword is None and index == 0) or (arg.keyword is not None and arg.keyword.value == "device_type"):
            if isinstance(arg.value, cst.SimpleString):
                value = arg.value.evaluated_value
                return value if isinstance(value, str) else None
            return None
    return None
