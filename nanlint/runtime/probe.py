"""Run a model forward and backward in train and in eval mode and record what went non-finite.

Each mode runs once, watched op by op (`observe.py`), from the same random seed, with
float inputs that require grad so that parameter-free models get gradients too. The
backward is of the loss the factory gives, else of every float output (with ones as
the output gradient: no summed scalar that could overflow on its own). The model is
left as it was: buffers (running statistics), training flags and `.grad`s are restored.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn as nn

from nanlint.graph.load import one_line
from nanlint.graph.trace import preserved
from nanlint.runtime.batchnorm import Attribution, BatchNormStats, Recorder, batch_statistics, output_change
from nanlint.runtime.checkpoint import BadTensor, DegenerateStats, degenerate_running_stats, nonfinite_state
from nanlint.runtime.observe import (
    BackwardEvent,
    BackwardWatch,
    ModuleEvent,
    OpEvent,
    Site,
    TensorNames,
    Watch,
    input_labels,
)
from nanlint.runtime.tensors import TensorSummary, all_finite, float_tensors, is_finite, summarize

MODES = ("train", "eval")
SEED = 0

Loss = Callable[[Any], torch.Tensor]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Thresholds:
    """NAN603's options (defaults in rules/NAN603.md)."""

    max_deviation: float = 1.0
    min_output_change: float = 0.25
    min_batch_values: int = 32


@dataclass
class ModeRun:
    mode: str
    # The forward or backward raised: the reason (this mode's other fields are partial).
    error: str | None = None
    output: list[torch.Tensor] = field(default_factory=list)
    output_finite: bool = True
    loss_finite: bool = True
    # Where the non-finite values of the output (or loss) were born (when they are not finite).
    origin: OpEvent | None = None
    # How many ops output non-finite values.
    events: int = 0
    first_module: ModuleEvent | None = None
    backward: BackwardEvent | None = None
    backward_births: int = 0
    # (what holds the gradient, its module path, the gradient): parameters and model inputs.
    bad_grads: list[tuple[str, str, TensorSummary]] = field(default_factory=list)
    module_sites: dict[str, Site | None] = field(default_factory=dict)
    batch_norms: dict[str, BatchNormStats] = field(default_factory=dict)

    @property
    def went_nonfinite(self) -> bool:
        return not self.output_finite or not self.loss_finite or bool(self.bad_grads)


@dataclass
class ProbeResult:
    model: str
    runs: list[ModeRun]
    bad_state: list[BadTensor]
    degenerate: list[DegenerateStats]
    # NAN603: the BatchNorms whose statistics explain an eval output that differs from train.
    divergent: list[BatchNormStats] = field(default_factory=list)
    attribution: Attribution | None = None

    def site_of(self, module: str) -> Site | None:
        for run in self.runs:
            site = run.module_sites.get(module)
            if site is not None:
                return site
        return None

    def run(self, mode: str) -> ModeRun | None:
        return next((r for r in self.runs if r.mode == mode), None)


@contextlib.contextmanager
def restored(model: nn.Module) -> Iterator[None]:
    """Put back the buffers, training flags and parameter gradients after the block.

    The model's own warnings are silenced meanwhile: the probe reports what they warn
    of, and they would point at the probe's frames.
    """
    grads = [(p, p.grad) for p in model.parameters()]
    try:
        with preserved(model), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for parameter, grad in grads:
            parameter.grad = grad


def _leaf(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.detach().clone().requires_grad_(True)
    if isinstance(value, tuple):
        return tuple(_leaf(v) for v in value)
    if isinstance(value, list):
        return [_leaf(v) for v in value]
    if isinstance(value, dict):
        return {k: _leaf(v) for k, v in value.items()}
    return value


def _forward(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], loss: Loss | None) -> tuple[Any, Any]:
    output = model(*args, **kwargs)
    return output, (loss(output) if loss is not None else None)


def run_mode(
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    mode: str,
    loss: Loss | None = None,
) -> ModeRun:
    """A forward and backward in `mode`; the model is restored afterwards.

    The first run checks only the output, the loss and the gradients, so a healthy model
    pays little. When something is non-finite, the same run (same seed, same state) is
    repeated watched op by op and node by node to find where it was born.
    """
    run = _attempt(model, args, kwargs, mode, loss, watched=False)
    if run.error is None and run.went_nonfinite:
        run = _attempt(model, args, kwargs, mode, loss, watched=True)
    return run


def _attempt(
    model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], mode: str, loss: Loss | None, watched: bool
) -> ModeRun:
    run = ModeRun(mode)
    with restored(model), torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model.train(mode == "train")
        args, kwargs = _leaf(args), _leaf(kwargs)
        labels = input_labels(args, kwargs)
        watch = Watch(model, TensorNames(model, labels), map_backward=watched)
        recorder = Recorder(model) if mode == "eval" else None
        handles = watch.hook_modules(model, watched) + (recorder.hook() if recorder else [])
        for parameter in model.parameters():
            parameter.grad = None
        try:
            _run_once(run, model, args, kwargs, loss, watch if watched else None, labels)
        finally:
            for handle in handles:
                handle.remove()
        run.module_sites = watch.module_sites
        run.batch_norms = recorder.stats if recorder else {}
    return run


def _run_once(
    run: ModeRun,
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    loss: Loss | None,
    watch: Watch | None,
    labels: list[tuple[str, torch.Tensor]],
) -> None:
    try:
        with watch if watch is not None else contextlib.nullcontext():
            output, value = _forward(model, args, kwargs, loss)
    except (Exception, SystemExit) as error:  # whatever the model raises is this mode's result
        run.error = f"{run.mode}-mode forward raised {one_line(error)}"
        return
    run.output = [t.detach().clone() for t in float_tensors(output)]
    run.output_finite = all_finite(output)
    run.loss_finite = value is None or all_finite(value)
    if watch is not None:
        run.first_module = watch.first_module
        run.events = len(watch.events)
        if not run.output_finite or not run.loss_finite:
            run.origin = watch.origin_of(output if not run.output_finite else value)
    if not run.output_finite or not run.loss_finite:
        return
    roots = [value] if value is not None else [t for t in float_tensors(output) if t.requires_grad]
    roots = [t for t in roots if isinstance(t, torch.Tensor) and t.requires_grad]
    if not roots:
        return
    backward = BackwardWatch(roots, watch.grad_sites) if watch is not None else None
    try:
        torch.autograd.backward(roots, [torch.ones_like(t) for t in roots])
    except (Exception, SystemExit) as error:
        run.error = f"{run.mode}-mode backward raised {one_line(error)}"
        return
    if backward is not None:
        run.backward = backward.first
        run.backward_births = backward.births
    gradients = [(f"parameter `{name}`", name.rpartition(".")[0], p.grad) for name, p in model.named_parameters()]
    gradients += [(label, "", t.grad) for label, t in labels if t.requires_grad]
    gradients = [(name, module, g) for name, module, g in gradients if g is not None]
    if not all_finite([g for _, _, g in gradients]):
        run.bad_grads = [(name, module, summarize(g)) for name, module, g in gradients if not is_finite(g)]


def _divergent(
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    eval_run: ModeRun,
    thresholds: Thresholds,
    checkpoint: bool,
    announce: Phases,
) -> tuple[list[BatchNormStats], Attribution | None]:
    """The BatchNorms that deviate and, together, explain a change of the eval output."""
    candidates = [s for s in eval_run.batch_norms.values()
                  if s.deviation >= thresholds.max_deviation and s.count >= thresholds.min_batch_values
                  and (checkpoint or not s.never_updated)]
    if not candidates or eval_run.error or not eval_run.output:
        return [], None
    announce(f"BatchNorm statistics: eval with batch statistics in {len(candidates)} layer"
             f"{'s' if len(candidates) != 1 else ''}")
    with restored(model), torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(SEED)
        model.eval()
        with batch_statistics(model, {s.path for s in candidates}):
            try:
                output = model(*args, **kwargs)
            except (Exception, SystemExit):  # the eval run worked; a failure here only means no attribution
                return [], None
    attribution = output_change(eval_run.output, float_tensors(output))
    explains = attribution.change >= thresholds.min_output_change
    return (sorted(candidates, key=lambda s: -s.deviation) if explains else []), attribution


class Phases:
    """Announces each phase once the probe has run for more than a second."""

    def __init__(self, progress: Progress | None, threshold: float = 1.0) -> None:
        self._progress = progress
        self._start = time.perf_counter()
        self._threshold = threshold

    def __call__(self, text: str) -> None:
        elapsed = time.perf_counter() - self._start
        if self._progress is not None and elapsed > self._threshold:
            self._progress(f"{text} ({elapsed:.1f} s so far)")


def probe_model(
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    loss: Loss | None = None,
    modes: Sequence[str] = MODES,
    thresholds: Thresholds = Thresholds(),
    checkpoint: bool = False,
    phases: Phases | None = None,
) -> ProbeResult:
    """Check the state, run every mode, and find the BatchNorms that explain eval != train."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"modes are {' and '.join(MODES)}, not {', '.join(sorted(unknown))}")
    announce = phases or Phases(None)
    result = ProbeResult(type(model).__name__, [], nonfinite_state(model), degenerate_running_stats(model))
    for mode in modes:
        announce(f"{mode} mode: forward and backward")
        result.runs.append(run_mode(model, args, kwargs, mode, loss))
    eval_run = result.run("eval")
    if eval_run is not None and eval_run.batch_norms:
        result.divergent, result.attribution = _divergent(model, args, kwargs, eval_run, thresholds, checkpoint,
                                                          announce)
    return result
