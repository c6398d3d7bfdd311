"""TARGET -> the model and its example inputs, or an exported program.

Every way this can fail becomes a `TraceFailure` with a one-line reason, which the
analyzer reports as NAN002: a trace target must never crash the run.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from nanlint.config import TraceTarget


class TraceFailure(Exception):
    """The target could not be loaded, built, run or traced; `str()` is the reason."""


@dataclass
class LoadedModel:
    module: nn.Module | None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Set instead of `module` for a `torch.export.save`d program.
    program: torch.export.ExportedProgram | None = None
    # The third item of a factory's `(module, example_inputs, loss)`: output -> scalar loss.
    loss: Callable[[Any], torch.Tensor] | None = None


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0].strip() if text else ""
    if len(first) > 200:
        first = first[:197] + "..."
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def load_target(target: TraceTarget) -> LoadedModel:
    spec = target.target
    root = target.root
    if spec.endswith(".pt2"):
        path = Path(root, spec) if root else Path(spec)
        if not path.is_file():
            raise TraceFailure(f"no such file `{path}`")
        return LoadedModel(None, program=_load_exported(str(path)))
    location, sep, attr = spec.rpartition(":")
    if not sep or not location or not attr:
        raise TraceFailure("expected TARGET as `package.module:attr`, `path/file.py:attr` or `model.pt2`")
    container = _import(location, root)
    try:
        obj = getattr(container, attr)
    except AttributeError:
        raise TraceFailure(f"`{location}` has no attribute `{attr}`") from None
    module, inputs, loss = _build(obj, attr)
    if target.checkpoint:
        _load_checkpoint(module, target.checkpoint)
    if inputs is None:
        inputs = _inputs_from_shapes(target)
    args, kwargs = _split_inputs(inputs)
    return LoadedModel(module, args, kwargs, loss=loss)


def _load_exported(path: str) -> torch.export.ExportedProgram:
    try:
        return torch.export.load(path)
    except Exception as error:  # a corrupt or foreign file: any error means "not loadable"
        raise TraceFailure(f"cannot load exported program `{path}`: {one_line(error)}") from None


@contextlib.contextmanager
def _on_sys_path(folder: str) -> Iterator[None]:
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


def _import(location: str, root: str | None) -> Any:
    if location.endswith(".py") or os.sep in location or "/" in location:
        return _import_file(Path(root, location) if root else Path(location))
    try:
        with _on_sys_path(root or os.getcwd()):
            return importlib.import_module(location)
    except (Exception, SystemExit) as error:  # the user's module may raise anything while importing
        raise TraceFailure(f"cannot import module `{location}`: {one_line(error)}") from None


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise TraceFailure(f"no such file `{path}`")
    name = f"nanlint_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    if spec is None or spec.loader is None:
        raise TraceFailure(f"cannot import `{path}` as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_sys_path(str(path.resolve().parent)):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise TraceFailure(f"importing `{path}` raised {one_line(error)}") from None
    return module


def _build(obj: Any, attr: str) -> tuple[nn.Module, Any, Any]:
    if isinstance(obj, nn.Module):
        return obj, None, None
    if not callable(obj):
        raise TraceFailure(f"`{attr}` is a {type(obj).__name__}, not an nn.Module, a module class or a factory")
    what = "building" if isinstance(obj, type) else "calling"
    try:
        built = obj()
    except (Exception, SystemExit) as error:
        raise TraceFailure(f"{what} `{attr}()` raised {one_line(error)}") from None
    if isinstance(built, nn.Module):
        return built, None, None
    if isinstance(built, (tuple, list)) and len(built) in (2, 3) and isinstance(built[0], nn.Module):
        loss = built[2] if len(built) == 3 else None
        if loss is not None and not callable(loss):
            raise TraceFailure(f"the loss `{attr}()` returned third is a {type(loss).__name__}, not a callable")
        return built[0], built[1], loss
    raise TraceFailure(f"`{attr}()` returned {type(built).__name__}, not an nn.Module, (module, example_inputs) "
                       "or (module, example_inputs, loss)")


def _load_checkpoint(module: nn.Module, path: str) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # weights_only refuses pickled code with an UnpicklingError
        raise TraceFailure(_refused(path, error)) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TraceFailure(f"checkpoint `{path}` holds a {type(state).__name__}, not a state_dict")
    try:
        module.load_state_dict(state)
    except Exception as error:
        raise TraceFailure(f"checkpoint `{path}` does not fit the model: {one_line(error)}") from None


def _refused(path: str, error: Exception) -> str:
    """The reason in one line: torch's own message starts by suggesting weights_only=False,
    the one thing not to do with a file that references `os.system`."""
    text = str(error)
    found = re.search(r"GLOBAL (\S+)", text)
    if found:
        return (f"checkpoint `{path}` refused: it references `{found.group(1)}`, which a weights-only load does not "
                "allow (unpickling it could run code; nothing in it was run)")
    lines = [line.strip() for line in text.splitlines()]
    detail = next((line for line in lines if line.startswith("Unsupported")), None)
    return f"cannot load checkpoint `{path}` with weights_only=True: {detail or one_line(error)}"


def _inputs_from_shapes(target: TraceTarget) -> tuple[torch.Tensor, ...]:
    if not target.input_shapes:
        raise TraceFailure("no example inputs: give --input-shape (one per model input) "
                           "or a factory returning (model, example_inputs)")
    generator = torch.Generator().manual_seed(0)
    ranges = target.input_ranges or ()
    inputs = []
    for index, shape in enumerate(target.input_shapes):
        sample = torch.randn(shape, generator=generator)
        if index < len(ranges) and all(map(_finite, ranges[index])):
            low, high = ranges[index]
            sample = torch.rand(shape, generator=generator) * (high - low) + low
        inputs.append(sample)
    return tuple(inputs)


def _finite(value: float) -> bool:
    return value not in (float("inf"), float("-inf")) and value == value


def _split_inputs(inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,), {}
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    raise TraceFailure(f"example inputs must be a tensor, a tuple of them or a dict, not {type(inputs).__name__}")
