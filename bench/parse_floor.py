"""The libcst floor: read and parse every .py file under a folder, nothing else.

Usage: python bench/parse_floor.py FOLDER --jobs N

It uses the same process-pool shape as nanlint's runner (libcst imported before the
workers fork, largest files first, one file per task), so `nanlint / parse-floor` with
the same N measures what nanlint adds to the parse, not a difference in scheduling.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys


def _files(root: str) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in sorted(names) if name.endswith(".py"))
    return found


def _parse(path: str) -> int:
    import libcst

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        libcst.parse_module(data.decode("utf-8"))
    except (libcst.ParserSyntaxError, UnicodeDecodeError):
        return 0
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    import libcst  # noqa: F401  (before the fork: workers start with it imported)

    files = sorted(_files(args.folder), key=os.path.getsize, reverse=True)
    if args.jobs <= 1:
        parsed = sum(_parse(path) for path in files)
    else:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
        with context.Pool(args.jobs) as pool:
            parsed = sum(pool.imap_unordered(_parse, files, chunksize=1))
    print(f"parsed {parsed} of {len(files)} files")


if __name__ == "__main__":
    main()
