"""Whole-file facts several checks depend on, gathered during the one walk.

The precision a file runs in decides whether `eps=1e-8` is a hazard (it is 0.0 in
float16) and whether a `-1e9` mask constant overflows, so it is inferred once here from
what the file does: `.half()`, `torch.float16`/`torch.half` anywhere (dtype arguments,
`.to(...)`), fp16 autocast (`torch.cuda.amp.autocast()` and CUDA autocast default to
float16), and the bfloat16 equivalents.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from nanlint.source.names import Scope, qualified_name

FP16_NAMES = frozenset({"torch.float16", "torch.half"})
BF16_NAMES = frozenset({"torch.bfloat16"})
_AUTOCAST = frozenset({"torch.autocast", "torch.cuda.amp.autocast", "torch.amp.autocast", "torch.cpu.amp.autocast"})


@dataclass
class FileFacts:
    fp16_sites: list[cst.CSTNode] = field(default_factory=list)
    bf16_sites: list[cst.CSTNode] = field(default_factory=list)

    def observe_attribute(self, node: cst.Attribute, scope: Scope) -> None:
        if node.attr.value in ("float16", "half", "bfloat16"):
            qual = qualified_name(node, scope)
            if qual in FP16_NAMES:
                self.fp16_sites.append(node)
            elif qual in BF16_NAMES:
                self.bf16_sites.append(node)

    def observe_call(self, node: cst.Call, scope: Scope) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and not node.args:
            if func.attr.value == "half" and qualified_name(func, scope) is None:
                self.fp16_sites.append(node)
                return
            if func.attr.value == "bfloat16" and qualified_name(func, scope) is None:
                self.bf16_sites.append(node)
                return
        if not isinstance(func, (cst.Attribute, cst.Name)) or "autocast" not in _last_name(func):
            return
        qual = qualified_name(func, scope)
        if qual not in _AUTOCAST:
            return
        if any(arg.keyword is not None and arg.keyword.value == "dtype" for arg in node.args):
            return  # the dtype attribute itself is observed
        if qual == "torch.cuda.amp.autocast" or _device_is_cuda(node):
            self.fp16_sites.append(node)
        elif qual == "torch.cpu.amp.autocast" or _device_is_cpu(node):
            self.bf16_sites.append(node)

    def precision(self, setting: str) -> str:
        """The effective precision of the file: the setting, or inferred when `auto`."""
        if setting != "auto":
            return setting
        if self.fp16_sites:
            return "fp16"
        if self.bf16_sites:
            return "bf16"
        return "fp32"


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


def _device_is_cuda(node: cst.Call) -> bool:
    return _device_argument(node) == "cuda"


def _device_is_cpu(node: cst.Call) -> bool:
    return _device_argument(node) == "cpu"
