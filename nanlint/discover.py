"""Which files a run checks: files, folders (recursively) and glob patterns."""
from __future__ import annotations

import glob
import os
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nanlint.pathglob import matches_any

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")

# Folders no one wants linted: tool caches, virtual environments, build output.
DEFAULT_EXCLUDES = frozenset(
    {
        ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", "__pycache__", "__pypackages__", "build", "dist", "node_modules",
        ".ipynb_checkpoints", ".eggs", "site-packages",
    }
)


@dataclass(frozen=True)
class Excludes:
    """What a folder walk skips: name or anchored patterns (see pathglob), and .gitignore."""

    patterns: tuple[str, ...] = tuple(sorted(DEFAULT_EXCLUDES))
    gitignore: bool = False

    def skips(self, path: Path | str) -> bool:
        return os.path.basename(path).endswith(".egg-info") or matches_any(path, self.patterns)


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    # One line each: a path that does not exist, a folder that cannot be listed.
    errors: list[str] = field(default_factory=list)


def discover(
    paths: list[str], suffixes: tuple[str, ...] = SOURCE_SUFFIXES, excludes: Excludes = Excludes()
) -> Discovery:
    found = Discovery()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        # realpath, not Path.resolve: it does not raise on a symlink loop (read reports it).
        # abspath folds `sub/../sub/a.py` into `sub/a.py`: one file, one report.
        key = Path(os.path.realpath(path)) if path.is_symlink() else Path(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in _walk(path, suffixes, found.errors, excludes):
                add(file)
        elif path.exists() and not path.is_file():
            found.errors.append(f"{raw}: not a regular file (a FIFO, socket or device)")
        elif path.exists() or path.is_symlink():
            add(path)  # named explicitly: checked whatever its suffix (a broken link: NAN001)
        elif glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                found.errors.append(f"{raw}: no file matches this pattern")
            for match in matches:
                if Path(match).is_file() and match.endswith(suffixes) and not excludes.skips(Path(match)):
                    add(Path(match))
        else:
            found.errors.append(f"{raw}: no such file or directory")
    return found


def _walk(root: Path, suffixes: tuple[str, ...], errors: list[str], excludes: Excludes) -> list[Path]:
    files: list[Path] = []
    visited: set[tuple[int, int]] = set()
    kept = _git_visible(root) if excludes.gitignore else None

    def on_error(error: OSError) -> None:
        errors.append(f"{error.filename}: cannot list this folder ({error.strerror})")

    for folder, dirs, names in os.walk(root, onerror=on_error, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError as error:  # removed or made unreadable since it was listed
            on_error(error)
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in visited:  # a symlink loop: seen this folder already
            dirs[:] = []
            continue
        visited.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(
            d for d in dirs if _wanted(os.path.join(folder, d), excludes, kept) and not _is_venv(os.path.join(folder, d))
        )
        # Strings until a file is kept: Path objects cost more than the checks (20,000 files).
        files.extend(
            Path(path)
            for path in (os.path.join(folder, name) for name in sorted(names) if name.endswith(suffixes))
            if _wanted(path, excludes, kept) and _not_special(path)
        )
    return files


def _wanted(path: str, excludes: Excludes, kept: set[str] | None) -> bool:
    return not excludes.skips(path) and (kept is None or _key(path) in kept)


def _is_venv(folder: str) -> bool:
    """A virtual environment whatever its name (`env/`, `myenv/`): it holds a pyvenv.cfg."""
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def _not_special(path: str) -> bool:
    """False for a FIFO, socket or device named `*.py`: reading a FIFO would block the run.
    A link that cannot be followed is kept: reading it reports why (NAN001)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def _key(path: Path | str) -> str:
    return os.path.abspath(path)


def _git_visible(root: Path) -> set[str] | None:
    """Files under `root` that git does not ignore, and their folders; None outside git.

    One `git ls-files` call for the whole walk: git prunes ignored folders itself, so a
    large ignored `data/` or `wandb/` folder is never listed.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, check=True, timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    base = os.path.abspath(root)
    kept: set[str] = set()
    for relative in listed.decode("utf-8", "surrogateescape").split("\0"):
        if not relative:
            continue
        path = os.path.join(base, relative)
        while path not in kept and path != base and path.startswith(base):
            kept.add(path)
            path = os.path.dirname(path)
    return kept
