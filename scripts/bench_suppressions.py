"""How much finding suppression comments costs next to parsing, on torch's own source.

    python scripts/bench_suppressions.py [FOLDER]

Prints the files, how many contain a marker (`noqa`, `nanlint:`), the total time of
`find_directives` over all of them, and the libcst parse time of the marked files.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import libcst as cst

from nanlint.suppressions import find_directives


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    else:
        import torch  # only to locate its source

        root = Path(torch.__file__).parent
    texts = []
    for path in sorted(root.rglob("*.py")):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    marked = [t for t in texts if "noqa" in t or "nanlint:" in t or "NOQA" in t]
    start = time.perf_counter()
    directives = sum(len(find_directives(text)) for text in texts)
    scan = time.perf_counter() - start
    start = time.perf_counter()
    for text in marked:
        try:
            cst.parse_module(text)
        except Exception:
            pass
    parse = time.perf_counter() - start
    print(f"{len(texts)} files, {len(marked)} with a marker, {directives} nanlint directives")
    print(f"find_directives: {scan:.2f} s for all files; libcst parse of the marked files: {parse:.1f} s "
          f"({100 * scan / parse:.1f}% of it)")


if __name__ == "__main__":
    main()
