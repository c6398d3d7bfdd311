"""The result cache: one file's findings, keyed by what decides them.

An entry holds the findings of `api.check_file` (suppressions applied: the per-file
unit of work), so a run where nothing changed reads and hashes each file, loads its
entry and never imports libcst. The key covers everything the findings depend on:

- the file's bytes, its path as shown and its absolute path (findings name the path,
  per-file-ignores match the absolute one);
- nanlint: its version and a fingerprint of the code of the static path and the rule
  documents (size and mtime of each file), so an edited checkout or an upgrade never
  reads stale entries;
- libcst and Python (a new parser may parse differently);
- the effective settings (`repr` of the frozen `Settings`).

Entries live in `$XDG_CACHE_HOME/nanlint` (else `~/.cache/nanlint`) or `--cache-dir`,
in a folder per nanlint build and settings (`<run key>/`). They are written to a
temporary name and renamed into place, so two runs sharing the folder only ever see
whole entries; an entry that does not decode is a miss and is rewritten. Folders of
builds or settings unused for 30 days are removed when a new one is made.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanlint.config import Settings
from nanlint.findings import Analyzer, Evidence, Finding, Fix, Severity, Span

# Bumped when the entry format changes.
_FORMAT = "1"
_STALE_AFTER = 30 * 24 * 3600
_LAST_USED = "last-used"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/nanlint`, else `~/.cache/nanlint` (the XDG base directory rule)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "nanlint"


def _files_fingerprint(root: Path, suffix: str, digest: Any, recursive: bool = True) -> None:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__") if recursive else []
        for name in sorted(names):
            if name.endswith(suffix):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{os.path.relpath(os.path.join(folder, name), root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())


def build_fingerprint() -> str:
    """nanlint's version, static-path code and rule documents, libcst's install, Python's version.

    The graph and runtime analyzers are left out: a file's static findings never use them.
    """
    import importlib.util

    from nanlint import __version__
    from nanlint.catalog import rules_dir

    digest = hashlib.sha256(f"{_FORMAT}:{__version__}:{sys.version}".encode())
    package = Path(__file__).resolve().parent
    _files_fingerprint(package, ".py", digest, recursive=False)
    _files_fingerprint(package / "source", ".py", digest)
    _files_fingerprint(rules_dir(), ".md", digest)
    spec = importlib.util.find_spec("libcst")
    if spec is not None and spec.origin:
        # An upgrade rewrites the package's files; its __init__.py's mtime says so without importing it.
        stat = os.stat(spec.origin)
        digest.update(f"libcst:{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


@dataclass
class Cache:
    """Findings by file content, for one nanlint build and one set of settings."""

    root: Path
    settings: Settings
    run_key: str = ""
    # The first problem writing an entry (a read-only folder, a full disk); the run goes on.
    write_error: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.run_key:
            self.run_key = hashlib.sha256(f"{build_fingerprint()}:{self.settings!r}".encode()).hexdigest()[:32]

    @property
    def folder(self) -> Path:
        return self.root / self.run_key

    def key(self, path: Path, data: bytes) -> str:
        digest = hashlib.sha256(data)
        digest.update(f"\0{path}\0{os.path.abspath(path)}".encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def load(self, key: str) -> list[Finding] | None:
        """The cached findings, or None when there is no whole, readable entry."""
        try:
            with open(self._entry(key), "rb") as handle:
                return [finding_from_json(item) for item in json.loads(handle.read())["findings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, findings: list[Finding]) -> None:
        entry = self._entry(key)
        text = json.dumps({"findings": [finding_to_json(f) for f in findings]}, separators=(",", ":"))
        # A name no other process uses, then an atomic rename: readers see all or nothing.
        temporary = entry.with_name(f".{entry.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "x", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, entry)
        except OSError as error:
            self.write_error = self.write_error or f"{entry.parent}: {error.strerror or error}"
            try:
                os.unlink(temporary)
            except OSError:
                pass

    def mark_used(self) -> None:
        """Record that this run used its folder, and prune folders unused for 30 days."""
        marker = self.folder / _LAST_USED
        try:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
                self._prune()
            marker.touch()
        except OSError as error:
            self.write_error = self.write_error or f"{self.folder}: {error.strerror or error}"

    def _prune(self) -> None:
        import shutil

        now = time.time()
        for sibling in self.root.iterdir():
            if sibling.name == self.run_key or not sibling.is_dir():
                continue
            try:
                if now - (sibling / _LAST_USED).stat().st_mtime > _STALE_AFTER:
                    shutil.rmtree(sibling, ignore_errors=True)
            except OSError:
                continue  # no marker: not a folder of ours, leave it


# -- findings as JSON: exact round trip (tuples in `extra` come back as lists, as they
# -- are written: static evidence holds lists only)


def _span_to_json(span: Span | None) -> list[int] | None:
    return None if span is None else [span.line, span.column, span.end_line, span.end_column]


def _span_from_json(data: list[int] | None) -> Span | None:
    return None if data is None else Span(*data)


def finding_to_json(finding: Finding) -> dict[str, Any]:
    fix = finding.fix
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "path": finding.path,
        "span": [finding.line, finding.column, finding.end_line, finding.end_column],
        "evidence": [[e.analyzer.value, e.detail, e.node, e.module, dict(e.extra)] for e in finding.evidence],
        "fix": None if fix is None else [fix.description, fix.replacement, fix.safe, _span_to_json(fix.span)],
        "cell": finding.cell,
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    line, column, end_line, end_column = data["span"]
    fix = data["fix"]
    return Finding(
        code=data["code"],
        name=data["name"],
        severity=Severity(data["severity"]),
        message=data["message"],
        path=data["path"],
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        evidence=tuple(Evidence(Analyzer(a), detail, node, module, extra) for a, detail, node, module, extra in data["evidence"]),
        fix=None if fix is None else Fix(fix[0], fix[1], fix[2], _span_from_json(fix[3])),
        cell=data["cell"],
    )
