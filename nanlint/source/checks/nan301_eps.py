"""NAN301 epsilon-too-small: an eps that is 0.0 in the precision the file runs in.

An eps lives in one of two dtypes. Optimizer and BatchNorm eps live with the parameters:
float16 only when the file stores them in float16 (`.half()`). Any other eps is applied
to tensors: float16 when the file stores tensors in float16, or inside an fp16 autocast
block, where autocast runs ops in float16; outside the block the same file computes in
float32 (an eval metric next to an autocast training step).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from nanlint.floats import DTYPE_NAMES, SMALLEST_NORMAL, round_to
from nanlint.source.context import FileContext
from nanlint.source.rule import StaticRule

# Where an eps lives: (positional index of `eps`, its default, what a vanished eps does).
# Only APIs whose kernels really compute with eps in the tensor's dtype are listed for
# the precision check: LayerNorm, GroupNorm and RMSNorm accumulate in float32 even for
# float16 inputs (checked on torch 2.13), so their eps cannot vanish that way; they are
# still checked against a configured `min-eps`.
_ADAM_UPDATE = "the update m / (sqrt(v) + eps) divides by 0 once v underflows, and the weights become Inf/NaN"
_BATCH_NORM = "a constant channel gives 0 / sqrt(0 + 0) = NaN, and a zero running_var gives Inf in eval"
_COSINE = "a zero vector gives 0 / max(0, eps) = NaN"


@dataclass(frozen=True)
class EpsApi:
    index: int
    default: float | None
    consequence: str
    # True: the eps lives in the parameters' dtype (float16 only after `.half()`-style
    # storage, not under autocast); False: in the dtype of the tensors it is applied to.
    in_parameters: bool


_OPTIMIZERS = {
    "torch.optim.Adam": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.AdamW": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.Adamax": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.NAdam": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.RAdam": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.SparseAdam": EpsApi(3, 1e-8, _ADAM_UPDATE, True),
    "torch.optim.RMSprop": EpsApi(3, 1e-8, "the update g / (sqrt(v) + eps) divides by 0 once v underflows", True),
    "torch.optim.Adagrad": EpsApi(5, 1e-10, "the update g / (sqrt(sum g^2) + eps) divides by 0 for a zero gradient", True),
    "torch.optim.Adadelta": EpsApi(3, 1e-6, "the update divides by sqrt(v + eps) = 0", True),
}
_PRECISION_SENSITIVE = {
    **_OPTIMIZERS,
    **{
        f"torch.nn.{name}": EpsApi(1, 1e-5, _BATCH_NORM, True)
        for name in (
            "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
            "LazyBatchNorm2d", "LazyBatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
        )
    },
    "torch.nn.functional.batch_norm": EpsApi(7, 1e-5, _BATCH_NORM, False),
    "torch.nn.functional.instance_norm": EpsApi(7, 1e-5, _BATCH_NORM, False),
    "torch.nn.functional.normalize": EpsApi(3, 1e-12, _COSINE, False),
    "torch.nn.functional.cosine_similarity": EpsApi(3, 1e-8, _COSINE, False),
    "torch.cosine_similarity": EpsApi(3, 1e-8, _COSINE, False),
    "torch.nn.CosineSimilarity": EpsApi(1, 1e-8, _COSINE, True),
}
# Checked only against a configured min-eps.
_OTHER_EPS_APIS = {
    "torch.nn.LayerNorm": 1,
    "torch.nn.GroupNorm": 2,
    "torch.nn.RMSNorm": 1,
    "torch.nn.functional.layer_norm": 4,
    "torch.nn.functional.group_norm": 4,
    "torch.nn.functional.rms_norm": 3,
    "torch.nn.functional.pairwise_distance": 3,
    "torch.nn.PairwiseDistance": 1,
}
_GUARD_CONSEQUENCE = "the value it guards can be exactly 0 again"
# Literals larger than this are not epsilons (`x + 1`, `clamp(min=0.5)`).
_EPS_CEILING = 1e-3


@dataclass(frozen=True)
class _Candidate:
    node: cst.CSTNode
    value: float
    text: str
    # Empty for APIs checked only against min-eps (their kernels keep eps in float32).
    consequence: str
    in_parameters: bool
    # The fp16 autocast call whose block holds the eps, if any.
    autocast: cst.CSTNode | None = None


def _literal(node: cst.BaseExpression) -> float | None:
    if isinstance(node, (cst.Float, cst.Integer)):
        return float(node.evaluated_value)
    return None


def _argument(call: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    return positional[index] if index < len(positional) else None


class EpsilonTooSmall(StaticRule):
    codes = ("NAN301",)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.candidates: list[_Candidate] = []

    def visit_Call(self, node: cst.Call) -> None:
        qual = self.ctx.qualname(node.func)
        if qual is not None:
            self._api_eps(node, qual)
        name, is_method = self.ctx.call_name(node)
        if name in ("clamp", "clamp_", "clip", "clamp_min", "clamp_min_"):
            # `x.clamp(min=eps)` / `torch.clamp(x, eps)`: the receiver is not an argument.
            self._guard_literal(_argument(node, 0 if is_method else 1, "min"))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Add):
            return
        for literal, other in ((node.right, node.left), (node.left, node.right)):
            # `1e-30 + 1e-30j` is a complex constant, not a guard.
            if _literal(literal) is not None and not isinstance(other, (cst.Imaginary, cst.Float, cst.Integer)):
                if not self.ctx.value(other).number:
                    self._guard_literal(literal)

    def _guard_literal(self, node: cst.BaseExpression | None) -> None:
        value = _literal(node) if node is not None else None
        if node is not None and value is not None and 0 < value <= _EPS_CEILING:
            self._add(_Candidate(node, value, self.ctx.code_for(node), _GUARD_CONSEQUENCE, False))

    def _api_eps(self, call: cst.Call, qual: str) -> None:
        api = _PRECISION_SENSITIVE.get(qual)
        if api is None:
            index = _OTHER_EPS_APIS.get(qual)
            eps = _argument(call, index, "eps") if index is not None else None
            value = _literal(eps) if eps is not None else None
            if eps is not None and value is not None:
                self._add(_Candidate(eps, value, f"eps={self.ctx.code_for(eps)}", "", False))
            return
        eps = _argument(call, api.index, "eps")
        if eps is None and api.default is not None:
            short = qual.removeprefix("torch.nn.functional.").removeprefix("torch.")
            self._add(
                _Candidate(call.func, api.default, f"the default eps={api.default:g} of `{short}`", api.consequence, api.in_parameters)
            )
            return
        value = _literal(eps) if eps is not None else None
        if eps is not None and value is not None:
            self._add(_Candidate(eps, value, f"eps={self.ctx.code_for(eps)}", api.consequence, api.in_parameters))

    def _add(self, candidate: _Candidate) -> None:
        autocast = self.ctx.facts.fp16_autocast_around(self.ctx.ancestors)
        self.candidates.append(replace(candidate, autocast=autocast) if autocast is not None else candidate)

    def finish(self) -> None:
        settings = self.ctx.settings
        min_eps = settings.option("NAN301", "min-eps", settings.min_eps)
        for candidate in self.candidates:
            dtype, site = self._dtype_of(candidate)
            if candidate.consequence and round_to(candidate.value, dtype) == 0.0:
                self._report_vanished(candidate, dtype, site)
            elif min_eps is not None and candidate.value < min_eps:
                self.ctx.report(
                    "NAN301",
                    candidate.node,
                    eps=candidate.text,
                    problem=f"is below the configured min-eps {min_eps:g}",
                    consequence="it is too small to guard what it is added to",
                    instead=f"eps >= {min_eps:g}",
                    detail=f"{candidate.text} = {candidate.value:g} < min-eps {min_eps:g}",
                )

    def _dtype_of(self, candidate: _Candidate) -> tuple[str, cst.CSTNode | None]:
        """The dtype the eps lives in, and the code that makes it float16 (None if the
        precision was set, or the eps is not float16)."""
        setting, facts = self.ctx.settings.precision, self.ctx.facts
        if setting != "auto":
            return setting, None
        if facts.half_storage:
            return "fp16", facts.half_storage[0]
        if candidate.in_parameters:
            return "fp32", None  # under autocast alone, parameters and optimizer state stay float32
        if candidate.autocast is not None:
            return "fp16", candidate.autocast
        return ("bf16" if facts.bf16_sites else "fp32"), None

    def _site_text(self, site: cst.CSTNode) -> str:
        """`.half()` rather than the whole model expression it is called on."""
        if isinstance(site, cst.Call) and isinstance(site.func, cst.Attribute) and site.func.attr.value == "half":
            return ".half()"
        return self.ctx.short_code(site, 50)

    def _report_vanished(self, candidate: _Candidate, precision: str, site: cst.CSTNode | None) -> None:
        dtype = DTYPE_NAMES[precision]
        if site is None:
            where = f"precision {dtype}"
        elif site is candidate.autocast:
            where = f"it runs under `{self._site_text(site)}`"
        else:
            where = f"this file runs in {dtype}: `{self._site_text(site)}`"
        self.ctx.report(
            "NAN301",
            candidate.node,
            eps=candidate.text,
            problem=f"is {round_to(candidate.value, precision)} in {dtype} ({where})",
            consequence=candidate.consequence,
            instead=f"eps >= {SMALLEST_NORMAL[precision]:.2g} (the smallest normal {dtype}), e.g. 1e-4, or keep this computation in float32",
            detail=f"{candidate.value:g} rounds to {round_to(candidate.value, precision)} in {dtype}",
        )
