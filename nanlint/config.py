"""Settings: what to check and how, from defaults, `[tool.nanlint]` and CLI flags."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Settings:
    # Codes or prefixes (`NAN2`, `NAN`); empty `select` means every rule enabled by default.
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    precision: str = "auto"
    min_batch_size: int = 8
    min_eps: float | None = None
    # Per-rule options, keyed by code: {"NAN401": {"min-batch-size": 16}}.
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def enabled(self, code: str, default: bool = True) -> bool:
        """Whether `code` is reported; the most specific matching prefix wins, ignore on ties."""
        best_select = _longest_prefix(code, self.select + self.extend_select)
        best_ignore = _longest_prefix(code, self.ignore)
        if best_select < 0 and best_ignore < 0:
            return default and not self.select
        return best_select > best_ignore

    def option(self, code: str, name: str, default: Any) -> Any:
        return self.rule_options.get(code, {}).get(name, default)


def _longest_prefix(code: str, prefixes: tuple[str, ...]) -> int:
    return max((len(p) for p in prefixes if code.startswith(p)), default=-1)


@dataclass(frozen=True)
class TraceTarget:
    """A model to trace: `package.module:attr` and how to feed it."""

    target: str
    # One shape per model input, e.g. ((4, 8),); None when the target gives example inputs.
    input_shapes: tuple[tuple[int, ...], ...] | None = None
    # One (low, high) per model input; None means unbounded float inputs.
    input_ranges: tuple[tuple[float, float], ...] | None = None
    checkpoint: str | None = None
