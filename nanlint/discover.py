"""Which files a run checks: files, folders (recursively) and glob patterns."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_SUFFIXES = (".py", ".pyi")

# Folders no one wants linted: tool caches, virtual environments, build output.
DEFAULT_EXCLUDES = frozenset(
    {
        ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", "__pycache__", "__pypackages__", "build", "dist", "node_modules",
        ".ipynb_checkpoints", ".eggs",
    }
)


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    # One line each: a path that does not exist, a folder that cannot be listed.
    errors: list[str] = field(default_factory=list)


def discover(paths: list[str], suffixes: tuple[str, ...] = SOURCE_SUFFIXES) -> Discovery:
    found = Discovery()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve() if path.is_symlink() else path.absolute()
        if key not in seen:
            seen.add(key)
            found.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in _walk(path, suffixes, found.errors):
                add(file)
        elif path.exists() or path.is_symlink():
            add(path)  # named explicitly: checked whatever its suffix
        elif glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                found.errors.append(f"{raw}: no file matches this pattern")
            for match in matches:
                if Path(match).is_file() and match.endswith(suffixes):
                    add(Path(match))
        else:
            found.errors.append(f"{raw}: no such file or directory")
    return found


def _walk(root: Path, suffixes: tuple[str, ...], errors: list[str]) -> list[Path]:
    files: list[Path] = []
    visited: set[tuple[int, int]] = set()

    def on_error(error: OSError) -> None:
        errors.append(f"{error.filename}: cannot list this folder ({error.strerror})")

    for folder, dirs, names in os.walk(root, onerror=on_error, followlinks=True):
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in visited:  # a symlink loop: seen this folder already
            dirs[:] = []
            continue
        visited.add((stat.st_dev, stat.st_ino))
        dirs[:] = sorted(d for d in dirs if d not in DEFAULT_EXCLUDES and not d.endswith(".egg-info"))
        files.extend(Path(folder, name) for name in sorted(names) if name.endswith(suffixes))
    return files
