"""Settings: what to check and how, from defaults, `[tool.nanlint]` and CLI flags."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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
    # (path pattern, codes) pairs; patterns as stored by `pathglob.anchor`.
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Folder and file patterns discovery skips; None means the default folder names.
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True

    def enabled(self, code: str, default: bool = True) -> bool:
        """Whether `code` is reported; the most specific matching prefix wins, ignore on ties."""
        best_select = _longest_prefix(code, self.select + self.extend_select)
        best_ignore = _longest_prefix(code, self.ignore)
        if best_select < 0 and best_ignore < 0:
            return default and not self.select
        return best_select > best_ignore

    def option(self, code: str, name: str, default: Any) -> Any:
        return self.rule_options.get(code, {}).get(name, default)

    def ignored_in(self, path: str) -> tuple[str, ...]:
        """The codes and prefixes `per-file-ignores` switches off for `path`."""
        from nanlint.pathglob import matches

        return tuple(code for pattern, codes in self.per_file_ignores if matches(path, pattern) for code in codes)


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
    # Where a relative `file.py:attr`, `model.pt2` or package resolves from: the folder of the
    # configuration file that names the target (None: the current folder, as on the command line).
    root: str | None = None


# -- `[tool.nanlint]`: reading and validating a configuration file ---------------------


class ConfigError(Exception):
    """A configuration problem, naming the file and the key; the CLI exits 2."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        super().__init__(f"{path}: `{key}`: {problem}")
        self.path = str(path)
        self.key = key


@dataclass(frozen=True)
class ProjectConfig:
    """What a configuration file says: settings and trace targets (none without a file)."""

    path: Path | None = None
    settings: Settings = field(default_factory=Settings)
    traces: tuple[TraceTarget, ...] = ()


def find_config(start: Path) -> Path | None:
    """The nearest `pyproject.toml` with a `[tool.nanlint]` table, from `start` upwards."""
    folder = start.absolute()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _has_nanlint_table(pyproject):
            return pyproject
    return None


def _has_nanlint_table(pyproject: Path) -> bool:
    try:
        data = pyproject.read_bytes()
    except OSError:
        return False
    # Bytes, not text: a table in a file that is not UTF-8 is reported, not ignored.
    if b"[tool.nanlint" not in data:
        return False
    tool = _read_toml(pyproject).get("tool", {})
    return isinstance(tool, dict) and "nanlint" in tool


def load_config(path: Path) -> ProjectConfig:
    """Read `[tool.nanlint]` of a pyproject.toml, or the top level of any other TOML file."""
    document = _read_toml(path)
    if path.name == "pyproject.toml" or "tool" in document:
        tool = document.get("tool", {})
        table = tool.get("nanlint") if isinstance(tool, dict) else None
        if table is None:
            raise ConfigError(path, "tool.nanlint", "this file has no [tool.nanlint] table")
    else:
        table = document
    if not isinstance(table, dict):
        raise ConfigError(path, "tool.nanlint", f"expected a table, got {table!r}")
    return _parse_table(table, path)


def config_for(start: Path, explicit: Path | None = None) -> ProjectConfig:
    """The configuration that applies to a run: `--config FILE`, else the nearest one."""
    path = explicit or find_config(start)
    return load_config(path) if path is not None else ProjectConfig()


def _read_toml(path: Path) -> dict[str, Any]:
    from nanlint.catalog import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(path, "<file>", f"cannot read it ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(path, "<file>", f"not valid TOML ({error})") from None


def _parse_table(table: dict[str, Any], path: Path) -> ProjectConfig:
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(path, unknown[0], f"unknown key; the keys are {', '.join(sorted(_KEYS))}")
    fields: dict[str, Any] = {}
    traces: tuple[TraceTarget, ...] = ()
    for key, value in table.items():
        if key == "trace":
            traces = _traces(value, path)
        else:
            fields[_KEYS[key]] = _PARSERS[key](value, _Where(path, key))
    return ProjectConfig(path, Settings(**fields), traces)


@dataclass(frozen=True)
class _Where:
    """The file and key a value came from, to name them in errors."""

    path: Path
    key: str

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.path, self.key, problem)

    def __truediv__(self, part: object) -> _Where:
        return _Where(self.path, f"{self.key}.{part}")


def _strings(value: Any, where: _Where) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(f"expected a list of strings, got {value!r}")
    return tuple(value)


def unknown_code(codes: tuple[str, ...]) -> str | None:
    """The first of `codes` that is neither a rule code nor a prefix of one, with the reason."""
    from nanlint.catalog import load_catalog

    known = load_catalog()
    for code in codes:
        if not any(existing.startswith(code) for existing in known):
            return f"{code!r} is neither a rule code nor a prefix of one (see `nanlint rules`)"
    return None


def _codes(value: Any, where: _Where) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in _strings(value, where))
    problem = unknown_code(codes)
    if problem:
        raise where.error(problem)
    return codes


def _per_file_ignores(value: Any, where: _Where) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from nanlint.pathglob import anchor

    if not isinstance(value, dict):
        raise where.error("expected a table of path pattern = [codes]")
    return tuple((anchor(pattern, where.path.parent), _codes(codes, where / pattern)) for pattern, codes in value.items())


def _patterns(value: Any, where: _Where) -> tuple[str, ...]:
    from nanlint.pathglob import anchor

    return tuple(anchor(pattern, where.path.parent) for pattern in _strings(value, where))


def _choice(choices: tuple[str, ...]) -> Any:
    def parse(value: Any, where: _Where) -> str:
        if value not in choices:
            raise where.error(f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return parse


def _bool(value: Any, where: _Where) -> bool:
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any, where: _Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise where.error(f"expected a positive integer, got {value!r}")
    return value


def _positive_float(value: Any, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise where.error(f"expected a positive number, got {value!r}")
    return float(value)


def _rule_options(value: Any, where: _Where) -> dict[str, dict[str, Any]]:
    from nanlint.catalog import load_catalog

    if not isinstance(value, dict):
        raise where.error("expected tables such as [tool.nanlint.options.NAN401]")
    catalog = load_catalog()
    options: dict[str, dict[str, Any]] = {}
    for code, table in value.items():
        meta = catalog.get(code)
        if meta is None:
            raise (where / code).error("no such rule (see `nanlint rules`)")
        if not isinstance(table, dict):
            raise (where / code).error("expected a table of option = value")
        options[code] = {name: _rule_option(meta.options, name, option, where / code / name) for name, option in table.items()}
    return options


def _rule_option(declared: Any, name: str, value: Any, where: _Where) -> Any:
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise where.error(f"unknown option; this rule's options are: {known}")
    default = declared[name]
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(default):
        raise where.error(f"expected a {type(default).__name__} like the default {default!r}, got {value!r}")
    return value


def _traces(value: Any, path: Path) -> tuple[TraceTarget, ...]:
    if not isinstance(value, list):
        raise ConfigError(path, "trace", "expected [[tool.nanlint.trace]] tables or a list of MODULE:ATTR strings")
    return tuple(_trace(item, _Where(path, f"trace[{index}]")) for index, item in enumerate(value))


def _trace(item: Any, where: _Where) -> TraceTarget:
    if isinstance(item, str):
        item = {"target": item}
    if not isinstance(item, dict):
        raise where.error(f"expected a table with `target`, got {item!r}")
    unknown = sorted(set(item) - {"target", "input-shapes", "input-ranges", "checkpoint"})
    if unknown:
        raise (where / unknown[0]).error("unknown key; a trace has target, input-shapes, input-ranges, checkpoint")
    target = item.get("target")
    if not isinstance(target, str) or ":" not in target:
        raise (where / "target").error(f"expected 'package.module:attr', got {target!r}")
    shapes = item.get("input-shapes")
    ranges = item.get("input-ranges")
    checkpoint = item.get("checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise (where / "checkpoint").error(f"expected a path, got {checkpoint!r}")
    return TraceTarget(
        target,
        _shapes(shapes, where / "input-shapes") if shapes is not None else None,
        _ranges(ranges, where / "input-ranges") if ranges is not None else None,
        str(where.path.parent / checkpoint) if checkpoint is not None else None,
        str(where.path.parent),
    )


def _shapes(value: Any, where: _Where) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, list) and s for s in value):
        raise where.error(f"expected one shape per input, e.g. [[4, 8]], got {value!r}")
    return tuple(tuple(_positive_int(size, where) for size in shape) for shape in value)


def _ranges(value: Any, where: _Where) -> tuple[tuple[float, float], ...]:
    def bound(number: Any) -> float:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise where.error(f"expected numbers, got {number!r}")
        return float(number)

    if not isinstance(value, list) or not value:
        raise where.error(f"expected one [low, high] per input, e.g. [[-1.0, 1.0]], got {value!r}")
    ranges = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise where.error(f"expected [low, high], got {pair!r}")
        low, high = bound(pair[0]), bound(pair[1])
        if low > high:
            raise where.error(f"the low end is above the high end in {pair!r}")
        ranges.append((low, high))
    return tuple(ranges)


# TOML key -> Settings field, and how its value is read.
_KEYS = {
    "select": "select",
    "ignore": "ignore",
    "extend-select": "extend_select",
    "per-file-ignores": "per_file_ignores",
    "exclude": "exclude",
    "extend-exclude": "extend_exclude",
    "respect-gitignore": "respect_gitignore",
    "precision": "precision",
    "min-batch-size": "min_batch_size",
    "min-eps": "min_eps",
    "options": "rule_options",
    "trace": "traces",
}
_PARSERS = {
    "select": _codes,
    "ignore": _codes,
    "extend-select": _codes,
    "per-file-ignores": _per_file_ignores,
    "exclude": _patterns,
    "extend-exclude": _patterns,
    "respect-gitignore": _bool,
    "precision": _choice(PRECISIONS),
    "min-batch-size": _positive_int,
    "min-eps": _positive_float,
    "options": _rule_options,
}
