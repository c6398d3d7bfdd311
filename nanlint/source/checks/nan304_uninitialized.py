"""NAN304 uninitialized-tensor: `torch.empty*` (or a legacy `torch.FloatTensor(n)`) read
before anything is written to it.

The first use of the allocated variable in the same function decides, in source order:
a write (`buf[i] = ...`, `buf.zero_()`, `fill_`, `copy_`, `normal_`, `out=buf`,
`nn.init.*_(buf)`) is fine, a read (arithmetic, `buf += x`, a reduction, a torch op that
reads it) is the hazard. Anything the check cannot classify (an unknown function the
tensor is passed to, `return buf`, storing it elsewhere) ends the tracking quietly:
that function may well fill it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from nanlint.source.checks._calls import keyword
from nanlint.source.rule import StaticRule

_ALLOCATIONS = frozenset({"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"})
_LEGACY = frozenset(
    f"{prefix}{kind}Tensor" for prefix in ("", "cuda.") for kind in ("Float", "Double", "Half", "BFloat16", "")
)
_WRITES = frozenset(
    {"zero_", "fill_", "copy_", "normal_", "uniform_", "random_", "bernoulli_", "exponential_", "geometric_",
     "cauchy_", "log_normal_", "set_", "index_copy_", "fill_diagonal_"}
)
# Reading the metadata of a tensor reads none of its values.
_METADATA = frozenset(
    {"size", "dim", "numel", "stride", "element_size", "nelement", "is_contiguous", "data_ptr", "get_device",
     "shape", "dtype", "device", "ndim", "is_cuda", "requires_grad", "layout"}
)
# Operations that compute with the values (a view, a copy, `.to()` or `cat` only moves
# them, and their result may be discarded or overwritten: not followed).
_READS = frozenset(
    "sum mean nansum nanmean prod std var norm max min amax amin argmax argmin any all cumsum cumprod "
    "exp log log2 log10 log1p sqrt rsqrt abs neg relu sigmoid tanh softmax log_softmax square reciprocal "
    "sin cos floor ceil round sign pow add sub mul div true_divide clamp clip matmul mm bmm dot einsum "
    "item tolist numpy nn.functional.linear".split()
)
# In-place operations that combine the old values with new ones.
_READ_IN_PLACE = frozenset(
    "add_ sub_ mul_ div_ pow_ clamp_ clamp_min_ clamp_max_ exp_ log_ sqrt_ abs_ neg_ relu_ sigmoid_ tanh_ "
    "index_add_ scatter_add_ addmm_ addcmul_ addcdiv_ lerp_ baddbmm_ cumsum_".split()
)
_SHAPE_ONLY = re.compile(r"meta|fake|abstract")
_WRAPPERS = frozenset({"nn.Parameter", "nn.parameter.Parameter", "nn.Buffer", "nn.parameter.Buffer"})


@dataclass
class _Allocation:
    call: cst.Call
    assign: cst.CSTNode | None
    function: int


class UninitializedTensor(StaticRule):
    codes = ("NAN304",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._tracked: dict[str, _Allocation] = {}

    def visit_Call(self, node: cst.Call) -> None:
        if not self._is_allocation(node) or self._in_shape_function():
            return
        parent = self.ctx.ancestors[-2] if len(self.ctx.ancestors) > 1 else None
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            self._tracked[parent.targets[0].target.value] = _Allocation(node, parent, self._function())
            return
        verdict, use = self._use(node, len(self.ctx.ancestors) - 1)
        if verdict == "read":
            self._report(node, "the new tensor", use)

    def visit_Name(self, node: cst.Name) -> None:
        allocation = self._tracked.get(node.value)
        if allocation is None:
            return
        index = len(self.ctx.ancestors) - 1
        parent = self.ctx.ancestors[index - 1]
        if isinstance(parent, cst.AssignTarget) and self.ctx.ancestors[index - 2] is allocation.assign:
            return  # the allocation's own target
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            return  # `x.total` is not the variable `total`
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            return
        if self._function() != allocation.function:
            del self._tracked[node.value]
            return  # used from another function: not followed
        verdict, use = self._use(node, index)
        if verdict == "metadata":
            return
        del self._tracked[node.value]
        if verdict == "read":
            self._report(allocation.call, f"`{node.value}`", use)

    # -- classification of one use

    def _use(self, node: cst.CSTNode, index: int) -> tuple[str, cst.CSTNode]:
        """('read' | 'write' | 'metadata' | 'unknown', the user) of the node at ancestors[index]."""
        ancestors = self.ctx.ancestors
        parent = ancestors[index - 1] if index > 0 else None
        if isinstance(parent, cst.Attribute) and parent.value is node:
            attr = parent.attr.value
            if attr in _METADATA:
                return "metadata", parent
            call = ancestors[index - 2] if index > 1 else None
            if not (isinstance(call, cst.Call) and call.func is parent):
                return "unknown", parent
            if attr in _WRITES:
                return "write", call
            if attr == "scatter_reduce_":
                # `include_self=False` overwrites every scattered row; the default folds them in.
                include_self = keyword(call, "include_self")
                return ("write" if isinstance(include_self, cst.Name) and include_self.value == "False" else "read"), call
            if attr in _READS or attr in _READ_IN_PLACE:
                return "read", call
            return "unknown", call
        if isinstance(parent, cst.AugAssign):
            return "read", parent  # `buf += x` reads the garbage; `x += buf` reads it too
        if isinstance(parent, cst.ComparisonTarget) and isinstance(parent.operator, (cst.Is, cst.IsNot)):
            return "metadata", parent  # `buf is None`
        if isinstance(parent, cst.Comparison) and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in parent.comparisons):
            return "metadata", parent
        if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
            return "read", parent
        if isinstance(parent, cst.SubscriptElement) or isinstance(parent, cst.Index):
            return "unknown", parent
        if isinstance(parent, cst.Subscript) and parent.value is node:
            grand = ancestors[index - 2] if index > 1 else None
            if isinstance(grand, cst.AssignTarget):
                return "write", grand  # `buf[i] = ...`: assume the loop fills it
            if isinstance(grand, cst.AugAssign) and grand.target is parent:
                return "read", grand
            return "unknown", parent
        if isinstance(parent, cst.Arg):
            call = ancestors[index - 2] if index > 1 else None
            if not isinstance(call, cst.Call):
                return "unknown", parent
            if parent.keyword is not None and parent.keyword.value == "out":
                return "write", call
            name, _ = self.ctx.call_name(call)
            if name is None or name.startswith("@") or name in _WRAPPERS:
                return "unknown", call
            if name.startswith("nn.init.") and name.endswith("_"):
                return "write", call
            if name in _READS or name.removeprefix("nn.functional.") in _READS:
                return "read", call
            return "unknown", call
        return "unknown", parent if parent is not None else node

    def _report(self, allocation: cst.Call, what: str, use: cst.CSTNode) -> None:
        text = self.ctx.short_code(allocation.func, 30)
        self.ctx.report(
            "NAN304",
            allocation,
            alloc=text,
            what=what,
            use=self.ctx.short_code(use, 50),
            detail=f"{what} from `{text}(...)` is first used by `{self.ctx.short_code(use, 50)}`, which reads it",
        )

    def _is_allocation(self, node: cst.Call) -> bool:
        name, is_method = self.ctx.call_name(node)
        if name in _ALLOCATIONS:
            # `queue.empty()` is not `torch.empty`: only `x.new_empty(...)` is a method.
            return not is_method or name.startswith("new_")
        if name in _LEGACY and node.args:
            # `torch.FloatTensor(3, 4)` allocates; `torch.FloatTensor([1.0, 2.0])` copies data.
            return all(a.keyword is None and not a.star and self.ctx.value(a.value).number for a in node.args)
        return False

    def _in_shape_function(self) -> bool:
        """Meta and fake kernels (`@register_meta`, `@register_fake`) compute shapes only:
        their tensors have no values to be uninitialized."""
        for function in self.ctx.functions:
            if isinstance(function, cst.FunctionDef):
                for decorator in function.decorators:
                    target = decorator.decorator
                    text = self.ctx.code_for(target.func if isinstance(target, cst.Call) else target).lower()
                    if _SHAPE_ONLY.search(text):
                        return True
        return False

    def _function(self) -> int:
        return id(self.ctx.functions[-1]) if self.ctx.functions else 0
