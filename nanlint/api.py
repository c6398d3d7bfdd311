"""The one place the analyzers are wired: discover -> static -> graph -> merge.

Nothing here imports torch: the graph analyzer is imported only when a trace target
is given, so `import nanlint` and a static run stay torch-free. The static analyzer
(and libcst) is imported when a file is first analysed, so a run answered from the
cache never loads it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from nanlint.catalog import load_catalog
from nanlint.config import Settings, TraceTarget
from nanlint.discover import DEFAULT_EXCLUDES, Discovery, Excludes, discover
from nanlint.findings import Analyzer, Evidence, Finding
from nanlint.merge import merge
from nanlint.reading import Unreadable, decode_source, read_source
from nanlint.report import RunSummary
from nanlint.suppressions import suppress_file, suppress_mapped

if TYPE_CHECKING:
    from nanlint.cache import Cache
    from nanlint.notebook import Notebook


def check_source(source: str, path: str = "<stdin>", settings: Settings | None = None) -> list[Finding]:
    """Static findings for one file's text, merged, suppressions applied, sorted."""
    from nanlint.source.engine import analyze_source, internal_error

    settings = settings or Settings()
    try:
        findings = merge(analyze_source(source, path, settings))
    except Exception as exc:  # a bug of ours or libcst's: NAN004 for this file, the run goes on
        findings = [internal_error(path, "static-analyzer", exc)]
    return suppress_file(findings, source, path, settings)


def unreadable_finding(path: str, problem: Unreadable) -> Finding:
    meta = load_catalog()["NAN001"]
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(reason=problem.reason),
        path=path,
        line=problem.line,
        column=problem.column,
        end_line=problem.line,
        end_column=problem.column + 1,
        evidence=(Evidence(Analyzer.STATIC, problem.reason),),
    )


def check_file(path: Path, settings: Settings, data: bytes | None = None) -> list[Finding]:
    """Every finding of one file, suppressions applied: the unit of work of a run.

    `data` is the file's content when the caller has read it already (the cache keys
    its entry on those bytes).
    """
    if path.suffix == ".ipynb":
        from nanlint.notebook import decode_notebook, read_notebook

        notebook = read_notebook(path) if data is None else decode_notebook(data)
        return _notebook_findings(notebook, str(path), settings)
    text = read_source(path) if data is None else decode_source(data)
    if isinstance(text, Unreadable):
        found = [unreadable_finding(str(path), text)] if settings.enabled("NAN001") else []
        return suppress_file(found, None, str(path), settings)
    return check_source(text, str(path), settings)


def _notebook_findings(notebook: Notebook | Unreadable, path: str, settings: Settings) -> list[Finding]:
    from nanlint.notebook import to_cells

    if isinstance(notebook, Unreadable):
        found = [unreadable_finding(path, notebook)] if settings.enabled("NAN001") else []
        return suppress_file(found, None, path, settings)
    return [to_cells(notebook, f) for f in check_source(notebook.text, path, settings)]


def check_text(text: str, path: str, settings: Settings | None = None) -> list[Finding]:
    """Findings for text that is not on disk (stdin, an editor buffer) shown as `path`."""
    settings = settings or Settings()
    if path.endswith(".ipynb"):
        from nanlint.notebook import parse_notebook

        return _notebook_findings(parse_notebook(text), path, settings)
    return check_source(text, path, settings)


def check_paths(
    paths: Sequence[str],
    settings: Settings | None = None,
    traces: Sequence[TraceTarget] = (),
    jobs: int = 1,
    cache: Cache | None = None,
) -> RunSummary:
    """Check files, folders and globs; trace the given targets; one merged report.

    `jobs` processes check the files (see runner.py); with a `cache`, unchanged files
    are answered from it. Traced graphs are never cached: they depend on the model's code
    and weights, not on one file.
    """
    from nanlint.runner import check_files

    settings = settings or Settings()
    found = discover_files(paths, settings)
    findings = check_files(found.files, settings, jobs, cache)
    if traces:
        from nanlint.graph import analyze_target

        shown = {path.resolve(): str(path) for path in found.files}
        for target in traces:
            findings.extend(_as_shown(f, shown) for f in analyze_target(target, settings))
        findings = suppress_mapped(merge(findings), settings, _text_of)
    return RunSummary(files=len(found.files), findings=merge(findings), errors=found.errors, targets=len(traces))


def probe_targets(
    targets: Sequence[TraceTarget],
    settings: Settings | None = None,
    confirm: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run each target in train and eval mode (runtime findings); with `confirm`, also its
    range analysis, each graph finding searched for a witness input. One merged report."""
    from nanlint.runtime import probe_target

    settings = settings or Settings()
    findings = [_as_shown(f, {}) for target in targets for f in probe_target(target, settings, confirm, progress)]
    findings = suppress_mapped(merge(findings), settings, _text_of)
    return RunSummary(files=0, findings=merge(findings), targets=len(targets))


def _text_of(path: str) -> str | None:
    text = read_source(Path(path))
    return None if isinstance(text, Unreadable) else text


def discover_files(paths: Sequence[str], settings: Settings) -> Discovery:
    """The files a run checks, with the configured excludes and .gitignore."""
    return discover(list(paths), excludes=excludes(settings))


def excludes(settings: Settings) -> Excludes:
    patterns = settings.exclude if settings.exclude is not None else tuple(sorted(DEFAULT_EXCLUDES))
    return Excludes(patterns + settings.extend_exclude, settings.respect_gitignore)


def _as_shown(finding: Finding, shown: dict[Path, str]) -> Finding:
    """Graph findings name files by absolute path; show them as the static run does."""
    if not finding.path or finding.path.startswith("<"):
        return finding
    resolved = Path(finding.path).resolve()
    if resolved in shown:
        return replace(finding, path=shown[resolved])
    try:
        return replace(finding, path=str(resolved.relative_to(Path.cwd())))
    except ValueError:
        return finding
