"""The libcst floor: read and parse every .py file under a folder, nothing else.

Usage: python bench/parse_floor.py FOLDER --jobs N

It schedules the files exactly as nanlint does (nanlint.runner.parallel_map: largest
first, this process and N - 1 forked workers, libcst imported before the fork), so
`nanlint / parse-floor` with the same N measures what nanlint adds to the parse, not a
difference in scheduling.
"""
from __future__ import annotations

import argparse
import os


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


def _import_libcst() -> None:
    import libcst  # noqa: F401


def main() -> None:
    from nanlint.runner import default_jobs, parallel_map

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    files = sorted(_files(args.folder), key=os.path.getsize, reverse=True)
    sizes = [os.path.getsize(path) for path in files]
    parsed = sum(parallel_map(_parse, files, args.jobs, sizes, _import_libcst))
    print(f"parsed {parsed} of {len(files)} files")


if __name__ == "__main__":
    main()
