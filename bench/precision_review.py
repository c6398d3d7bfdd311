"""Run the static catalog over real code and print what a precision review needs.

    python bench/precision_review.py                      # torch and transformers/models
    python bench/precision_review.py PATH... --sample 40  # other trees
    python bench/precision_review.py --codes NAN2,NAN5 --sample 60 --seed 1 --show-all

Prints, per corpus, the number of files, the seconds taken and the findings by code,
then a reproducible random sample of findings (path:line, code, the source line and
the static evidence) to be judged by hand: a real hazard, clearly intended unguarded
code, or a false positive. The corpora are only read, never imported or run.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nanlint.api import check_file
from nanlint.config import Settings
from nanlint.discover import discover
from nanlint.findings import Finding


def _package_dir(name: str, sub: str = "") -> Path | None:
    """Where a package is installed, found without importing it (torch is slow to import)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / sub


def _check(path: str) -> list[Finding]:
    return check_file(Path(path), Settings())


def _run(root: Path, jobs: int) -> tuple[int, float, list[Finding]]:
    files = [str(p) for p in discover([str(root)]).files]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        findings = [f for result in pool.map(_check, files, chunksize=8) for f in result]
    return len(files), time.perf_counter() - start, findings


def _source_line(finding: Finding) -> str:
    try:
        lines = Path(finding.path).read_text(encoding="utf-8", errors="replace").splitlines()
        return lines[finding.line - 1].strip()
    except (OSError, IndexError):
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="trees to check (default: torch, transformers/models)")
    parser.add_argument("--codes", default="", help="comma-separated code prefixes to count and sample (default: all)")
    parser.add_argument("--sample", type=int, default=40, help="findings to print for the hand review")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--show-all", action="store_true", help="print every finding, not a sample")
    args = parser.parse_args()

    roots = [Path(p) for p in args.paths] or [
        p for p in (_package_dir("torch"), _package_dir("transformers", "models")) if p is not None and p.is_dir()
    ]
    prefixes = tuple(c.strip() for c in args.codes.split(",") if c.strip())
    everything: list[Finding] = []
    for root in roots:
        files, seconds, findings = _run(root, args.jobs)
        findings = [f for f in findings if not prefixes or f.code.startswith(prefixes)]
        by_code = Counter(f.code for f in findings)
        print(f"{root}: {files} files in {seconds:.1f} s, {len(findings)} findings")
        for code, count in sorted(by_code.items()):
            print(f"  {code}  {count}")
        everything.extend(findings)

    chosen = sorted(everything, key=Finding.sort_key)
    if not args.show_all:
        random.Random(args.seed).shuffle(chosen)
        chosen = sorted(chosen[: args.sample], key=Finding.sort_key)
    print(f"\n{'all' if args.show_all else 'sample of'} {len(chosen)} findings (seed {args.seed}):")
    for number, finding in enumerate(chosen, start=1):
        print(f"\n[{number}] {finding.path}:{finding.line}  {finding.code}")
        print(f"    {_source_line(finding)}")
        print(f"    static: {finding.evidence[0].detail if finding.evidence else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
