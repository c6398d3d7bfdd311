"""The command line: parse options, call the API, print. No analysis here."""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import click

from nanlint import __version__
from nanlint.config import PRECISIONS, ConfigError, ProjectConfig, Settings, TraceTarget, config_for, unknown_code
from nanlint.findings import Finding
from nanlint.reading import Unreadable, decode_source
from nanlint.report import FORMATS, STATISTICS_FORMATS, Formatter, RunSummary, formatter

if TYPE_CHECKING:
    from nanlint.cache import Cache

# Findings that mean the requested analysis did not fully run.
_INCOMPLETE = frozenset({"NAN002", "NAN004"})
# ctx.meta key (shared by a command's context and the group's): --debug was given.
_DEBUG = "nanlint.debug"


class _DefaultCheck(click.Group):
    """`nanlint src/` means `nanlint check src/`, as with ruff."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def main(self, args: Sequence[str] | None = None, *more: Any, **options: Any) -> Any:
        """Click's main; run as the program (arguments from sys.argv), it ends without teardown.

        Freeing every object at exit costs 30-45 ms once libcst is loaded, 15% of a
        one-file run, and more with torch (mypy ends the same way). By then the report
        is written, files are closed and workers joined; the streams are flushed here.
        """
        if args is not None:  # called with arguments (tests, other programs): return as usual
            return super().main(args, *more, **options)
        try:
            super().main(None, *more, **options)
            code: object = 0
        except SystemExit as exit:
            code = exit.code
        _exit_now(code)

    def invoke(self, ctx: click.Context) -> object:
        """A bug of ours ends in one line and exit 2, not a traceback (unless --debug)."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click reports these (a closed pipe: `nanlint src/ | head`) itself
        except Exception as error:
            if ctx.meta.get(_DEBUG):
                import traceback

                traceback.print_exc()
            else:
                click.echo(f"nanlint: internal error: {type(error).__name__}: {error} "
                           "(run with --debug for the traceback; please report it)", err=True)
            ctx.exit(2)


def _enable_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--debug: tracebacks of internal errors (NAN004 and crashes) on stderr."""
    if value:
        ctx.meta[_DEBUG] = True
        import logging  # here: a run without --debug does not pay for it

        log = logging.getLogger("nanlint")
        log.addHandler(logging.StreamHandler(sys.stderr))
        log.setLevel(logging.DEBUG)


_debug_option = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_enable_debug,
                             help="Show the traceback of internal errors (NAN004); results are not cached.")


def _exit_now(code: object) -> NoReturn:
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # `nanlint src/ | head`: the reader is gone
        pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


def _codes(value: str | None) -> tuple[str, ...]:
    codes = tuple(code.strip().upper() for code in (value or "").split(",") if code.strip())
    problem = unknown_code(codes)
    if problem:
        # A mistyped code would otherwise select nothing and pass every check silently.
        raise click.UsageError(problem)
    return codes


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a shape such as 4,8") from None
    if not shape or any(size <= 0 for size in shape):
        raise click.BadParameter(f"{text!r}: sizes must be positive integers")
    return shape


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a range such as -1,1") from None
    if not low <= high:
        raise click.BadParameter(f"{text!r}: the low end is above the high end")
    return low, high


def _targets(
    targets: Sequence[str], shapes: Sequence[str], ranges: Sequence[str], checkpoint: str | None
) -> list[TraceTarget]:
    try:
        input_shapes = tuple(_shape(s) for s in shapes) or None
        input_ranges = tuple(_range(r) for r in ranges) or None
    except click.BadParameter as error:
        raise click.UsageError(error.format_message()) from None
    return [TraceTarget(t, input_shapes, input_ranges, checkpoint) for t in targets]


def _exit_code(summary: RunSummary, exit_zero: bool) -> int:
    if summary.errors or any(f.code in _INCOMPLETE for f in summary.findings):
        return 2
    return 1 if summary.findings and not exit_zero else 0


def _render(
    output_format: str, output_file: str | None, statistics: bool = False, texts: dict[str, str] | None = None
) -> Formatter:
    """The formatter; the text one shows source and colours only on a terminal."""
    if statistics and output_format not in STATISTICS_FORMATS:
        raise click.UsageError(f"--statistics prints {' or '.join(STATISTICS_FORMATS)}, not {output_format}")
    render = formatter(output_format, statistics)
    if output_format != "text" or statistics:
        return render
    from nanlint.report import text
    from nanlint.report.source_lines import SourceLines

    terminal = output_file is None and sys.stdout.isatty()
    colour = terminal and not os.environ.get("NO_COLOR")
    return partial(text.render, show_source=terminal, colour=colour, lines=SourceLines(texts))


def _emit(summary: RunSummary, render: Formatter, output_file: str | None) -> None:
    for error in summary.errors:
        click.echo(f"nanlint: error: {error}", err=True)
    if summary.errors and not summary.files and not summary.findings and not output_file:
        return  # nothing was checked: the error lines say why, a "0 files" report would not
    text = render(summary)
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            click.echo(f"nanlint: error: cannot write the report to {output_file} ({error.strerror or error})", err=True)
            sys.exit(2)
    else:
        click.echo(text, nl=False)


def _fix_files(paths: Sequence[str], settings: Settings, unsafe: bool, write: bool) -> int:
    """Fix (or, without `write`, print the diff of) every file; the number of fixes."""
    from nanlint.api import discover_files
    from nanlint.fixes import fix_file, unified_diff, write_text

    total = refused = 0
    for path in discover_files(paths, settings).files:
        fixed = fix_file(path, settings, unsafe)
        if fixed is None:
            continue
        result = fixed.result
        total += len(result.applied)
        refused += len(result.refused)
        if result.changed and write:
            write_text(path, fixed.content)
        elif result.changed:
            click.echo(unified_diff(str(path), fixed.before, fixed.after), nl=False)
    verb = "Fixed" if write else "Would fix"
    note = f" ({refused} refused: they would create new findings)" if refused else ""
    click.echo(f"{verb} {total} finding{'s' if total != 1 else ''}{note}.", err=True)
    return total


def _settings(
    configured: Settings,
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    precision: str | None,
    min_batch_size: int | None,
) -> Settings:
    """The configuration's settings with the command line's on top.

    As in ruff, a `--select` starts the selection afresh: the configuration's select,
    extend-select and ignore no longer apply; `--ignore`/`--extend-select` add to them.
    """
    base = replace(configured, select=(), extend_select=(), ignore=()) if select else configured
    return _override(
        base,
        select=_codes(select),
        extend_select=base.extend_select + _codes(extend_select),
        ignore=base.ignore + _codes(ignore),
        precision=precision,
        min_batch_size=min_batch_size,
    )


def _check_text(text: str, path: str, settings: Settings) -> list[Finding]:
    from nanlint.api import check_text

    return check_text(text, path, settings)


def _fix_stdin(text: str, path: str, settings: Settings, unsafe: bool, as_diff: bool) -> int:
    """Print the fixed text (or its diff) to stdout, as editors expect; the exit code."""
    from nanlint.fixes import fix_text, unified_diff

    if path.endswith(".ipynb"):
        raise click.UsageError("--fix/--diff on a notebook read from stdin is not supported; pass its path")
    result = fix_text(text, lambda source: _check_text(source, path, settings), unsafe)
    if as_diff:
        click.echo(unified_diff(path, text, result.text), nl=False)
        return 1 if result.changed else 0
    click.echo(result.text, nl=False)
    return 1 if result.remaining else 0


def _project(paths: Sequence[str], config_file: Path | None) -> ProjectConfig:
    """The configuration of the run: `--config`, else the nearest to the first path."""
    start = Path(paths[0]) if paths and paths[0] != "-" else Path.cwd()
    try:
        return config_for(start, config_file)
    except ConfigError as error:
        click.echo(f"nanlint: error: {error}", err=True)
        sys.exit(2)


def _cache(cache_dir: Path | None, settings: Settings) -> Cache:
    from nanlint.cache import Cache, default_cache_dir

    return Cache(cache_dir or default_cache_dir(), settings)


def _override(settings: Settings, **flags: object) -> Settings:
    """CLI flags win over the configuration; an absent flag (None or empty) leaves it."""
    return replace(settings, **{name: value for name, value in flags.items() if value not in (None, ())})


@click.group(cls=_DefaultCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nanlint")
def main() -> None:
    """Find the code and model states that make PyTorch produce NaN or Inf."""


@main.command()
@click.argument("paths", nargs=-1, type=str)
@click.option("--select", help="Only these codes or prefixes, comma-separated (NAN1,NAN301).")
@click.option("--extend-select", help="Add these codes or prefixes to the selection.")
@click.option("--ignore", help="Skip these codes or prefixes, comma-separated.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output-file", "-o", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--precision", type=click.Choice(PRECISIONS),
              help="The precision the code runs in; auto (the default) infers it per file.")
@click.option("--min-batch-size", type=click.IntRange(min=1),
              help="NAN401: the smallest safe BatchNorm training batch (default 8).")
@click.option("--trace", "traces", multiple=True, metavar="MODULE:ATTR",
              help="Also trace this model and analyse its graph (runs its code).")
@click.option("--input-shape", "shapes", multiple=True, metavar="4,8", help="Input shape for --trace, one per input.")
@click.option("--input-range", "ranges", multiple=True, metavar="LOW,HIGH", help="Input value range for --trace.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read settings from this file instead of the nearest pyproject.toml.")
@click.option("--statistics", is_flag=True, help="Print the number of findings of each code instead.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes in place, then report what is left.")
@click.option("--diff", is_flag=True, help="Show the fixes as a diff; change nothing (exit 1 if any).")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix/--diff: also the fixes that change behaviour.")
@click.option("--stdin-filename", help="With PATH `-`: the file name the text read from stdin stands for.")
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Processes checking files (default: all cores; one for a handful of files).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), envvar="NANLINT_CACHE_DIR",
              show_envvar=True, help="Where results are cached (default: $XDG_CACHE_HOME/nanlint or ~/.cache/nanlint).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write cached results.")
@_debug_option
def check(
    paths: tuple[str, ...],
    select: str | None,
    extend_select: str | None,
    ignore: str | None,
    output_format: str,
    output_file: str | None,
    precision: str,
    min_batch_size: int,
    traces: tuple[str, ...],
    shapes: tuple[str, ...],
    ranges: tuple[str, ...],
    exit_zero: bool,
    config_file: Path | None,
    statistics: bool,
    fix: bool,
    diff: bool,
    unsafe_fixes: bool,
    stdin_filename: str | None,
    jobs: int | None,
    cache_dir: Path | None,
    no_cache: bool,
) -> None:
    """Check PATHS (files, folders, globs; `-` for stdin) for NaN/Inf hazards."""
    from nanlint.api import check_paths

    if not paths and not traces:
        raise click.UsageError("give at least one path to check (or --trace MODULE:ATTR)")
    if "-" in paths and (len(paths) > 1 or traces):
        raise click.UsageError("`-` (stdin) is checked on its own")
    if unsafe_fixes and not (fix or diff):
        raise click.UsageError("--unsafe-fixes goes with --fix or --diff")
    if (shapes or ranges) and not traces:
        raise click.UsageError("--input-shape and --input-range describe the inputs of a --trace target")
    if stdin_filename and paths != ("-",):
        raise click.UsageError("--stdin-filename names the text read from stdin: check `-`")
    project = _project([stdin_filename] if stdin_filename and paths == ("-",) else paths, config_file)
    settings = _settings(project.settings, select, extend_select, ignore, precision, min_batch_size)
    if paths == ("-",):
        path = stdin_filename or "<stdin>"
        text = decode_source(sys.stdin.buffer.read())  # as a file's: cookie, BOM, NUL
        if isinstance(text, Unreadable):
            from nanlint.api import unreadable_finding

            found = [unreadable_finding(path, text)] if settings.enabled("NAN001") else []
            summary = RunSummary(files=1, findings=found)
            _emit(summary, _render(output_format, output_file, statistics), output_file)
            sys.exit(_exit_code(summary, exit_zero))
        if fix or diff:
            sys.exit(_fix_stdin(text, path, settings, unsafe_fixes, as_diff=diff))
        summary = RunSummary(files=1, findings=_check_text(text, path, settings))
        _emit(summary, _render(output_format, output_file, statistics, texts={path: text}), output_file)
        sys.exit(_exit_code(summary, exit_zero))
    render = _render(output_format, output_file, statistics)
    if fix or diff:
        fixed = _fix_files(paths, settings, unsafe_fixes, write=not diff)
        if diff:
            sys.exit(1 if fixed else 0)
    from nanlint.runner import default_jobs

    # --debug: a cached NAN004 would come back without its traceback.
    cache = None if no_cache or click.get_current_context().meta.get(_DEBUG) else _cache(cache_dir, settings)
    summary = check_paths(paths, settings, _targets(traces, shapes, ranges, None), jobs or default_jobs(), cache)
    _emit(summary, render, output_file)
    if cache is not None and cache.write_error:
        click.echo(f"nanlint: warning: results not cached ({cache.write_error})", err=True)
    sys.exit(_exit_code(summary, exit_zero))


def _target_options(command: Callable[..., None]) -> Callable[..., None]:
    """The arguments `trace` and `probe` share: a TARGET (or the configured ones), its inputs, the report."""
    for option in reversed((
        click.argument("target", required=False),
        click.option("--input-shape", "shapes", multiple=True, metavar="4,8", help="Shape of each model input."),
        click.option("--input-range", "ranges", multiple=True, metavar="LOW,HIGH", help="Value range of each input."),
        click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False),
                     help="A state_dict to load (weights only)."),
        click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option("--output-file", "-o", type=click.Path(dir_okay=False), help="Write the report here."),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Read settings and trace targets from this file."),
        _debug_option,
    )):
        command = option(command)
    return command


def _chosen_targets(target: str | None, shapes: tuple[str, ...], ranges: tuple[str, ...],
                    checkpoint: str | None, config_file: Path | None) -> tuple[ProjectConfig, list[TraceTarget]]:
    """TARGET with its inputs, or else every configured `[[tool.nanlint.trace]]` target."""
    project = _project([], config_file)
    if target is not None:
        return project, _targets([target], shapes, ranges, checkpoint)
    if project.traces:
        return project, list(project.traces)
    raise click.UsageError("give a TARGET, or configure [[tool.nanlint.trace]] targets in pyproject.toml")


@main.command()
@_target_options
def trace(
    target: str | None,
    shapes: tuple[str, ...],
    ranges: tuple[str, ...],
    checkpoint: str | None,
    output_format: str,
    output_file: str | None,
    config_file: Path | None,
) -> None:
    """Trace TARGET (package.module:attr) and analyse its graph with its real weights.

    Without TARGET, trace every `[[tool.nanlint.trace]]` target of the configuration.
    """
    from nanlint.api import check_paths

    project, targets = _chosen_targets(target, shapes, ranges, checkpoint, config_file)
    summary = check_paths([], project.settings, targets)
    _emit(summary, _render(output_format, output_file), output_file)
    sys.exit(_exit_code(summary, exit_zero=False))


@main.command()
@_target_options
@click.option("--no-confirm", is_flag=True, help="Only run the model: no range analysis, no witness search.")
def probe(
    target: str | None,
    shapes: tuple[str, ...],
    ranges: tuple[str, ...],
    checkpoint: str | None,
    output_format: str,
    output_file: str | None,
    no_confirm: bool,
    config_file: Path | None,
) -> None:
    """Run TARGET forward and backward in train and in eval mode (runs its code).

    Reports the first op that goes NaN/Inf in each mode, non-finite weights and
    gradients, and the BatchNorms that make eval differ from train; then searches an
    input that confirms each finding of the range analysis. Without TARGET, probe every
    `[[tool.nanlint.trace]]` target of the configuration.
    """
    from nanlint.api import probe_targets

    project, targets = _chosen_targets(target, shapes, ranges, checkpoint, config_file)
    render = _render(output_format, output_file)
    summary = probe_targets(targets, project.settings, confirm=not no_confirm,
                            progress=lambda line: click.echo(f"nanlint probe: {line}", err=True))
    _emit(summary, render, output_file)
    sys.exit(_exit_code(summary, exit_zero=False))


@main.command()
def server() -> None:
    """Run the Language Server on stdio (needs the extra: pip install "nanlint[lsp]")."""
    try:
        from nanlint.lsp import serve
    except ImportError as error:
        click.echo(f"nanlint: error: the language server needs pygls ({error}): pip install \"nanlint[lsp]\"", err=True)
        sys.exit(2)
    serve()


@main.command(name="rules")
def list_rules() -> None:
    """List every rule: code, name, analyzers, fix, default."""
    from nanlint.catalog import load_catalog
    from nanlint.report.rule_docs import rules_table

    click.echo(rules_table(load_catalog().values()), nl=False)


@main.command(name="rule")
@click.argument("code")
def show_rule(code: str) -> None:
    """Print the document of rule CODE."""
    from nanlint.catalog import load_catalog
    from nanlint.report.rule_docs import render_rule

    meta = load_catalog().get(code.upper())
    if meta is None:
        raise click.UsageError(f"no rule {code!r}; `nanlint rules` lists them")
    terminal = sys.stdout.isatty()
    click.echo(render_rule(meta, terminal, colour=terminal and not os.environ.get("NO_COLOR")), nl=False)
