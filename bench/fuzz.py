"""Fuzz nanlint with many generated inputs; print the count, the time and every crash.

    python bench/fuzz.py                 # 10,000 inputs (about 10 minutes on 2 cores)
    python bench/fuzz.py --count 200000 --save crashes/

The inputs and the invariant are the property tests' (tests/fuzzing.py): hypothesmith
programs (grammar and libcst nodes), deeply nested expressions, the repository's files
mutated, the same as raw bytes, and notebooks. A crash is an exception, a NAN004 finding (an internal error the
engine caught), a bad position or a report that does not render. Nothing is shrunk:
every crash is kept as found, saved with its traceback, and the run goes on.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import hypothesmith  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzzing import (  # noqa: E402
    check_bytes,
    check_notebook,
    check_python,
    deep_expressions,
    mutated_bytes,
    mutated_sources,
    notebooks,
)

# (name, share of the inputs, strategy, check)
KINDS: list[tuple[str, float, st.SearchStrategy[Any], Callable[[Any], None]]] = [
    ("programs from the grammar", 0.20, hypothesmith.from_grammar(), check_python),
    ("programs from libcst nodes", 0.10, hypothesmith.from_node(), check_python),
    ("expressions nested up to 1,500 deep", 0.05, deep_expressions(), check_python),
    ("mutated repository files (and --fix)", 0.35, mutated_sources(), lambda text: check_python(text, fix=True)),
    ("mutated files as bytes", 0.20, mutated_bytes(), check_bytes),
    ("notebooks", 0.10, notebooks(), check_notebook),
]


def fuzz(strategy: st.SearchStrategy[Any], check: Callable[[Any], None], count: int) -> dict[str, Any]:
    result: dict[str, Any] = {"inputs": 0, "crashes": [], "slowest": (0.0, None)}

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value: Any) -> None:
        result["inputs"] += 1
        started = time.perf_counter()
        try:
            check(value)
        except Exception:  # recorded, not raised: the run finds every crash, not the first
            result["crashes"].append((value, traceback.format_exc()))
        elapsed = time.perf_counter() - started
        if elapsed > result["slowest"][0]:
            result["slowest"] = (elapsed, value)

    run()
    return result


def save(folder: Path, name: str, index: int, value: Any, trace: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{name.split()[0]}-{name.split()[-1].strip('()')}-{index}"
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    (folder / f"{stem}.input").write_bytes(data)
    (folder / f"{stem}.traceback.txt").write_text(trace)
    return folder / f"{stem}.input"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs in all (default 10,000)")
    parser.add_argument("--save", type=Path, help="folder for crashing inputs (default: a new temporary folder)")
    options = parser.parse_args()
    # hypothesmith compiles what it generates; Python's SyntaxWarnings about it are noise here.
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    folder = options.save or Path(tempfile.mkdtemp(prefix="nanlint-fuzz-"))
    total_inputs = total_crashes = 0
    started = time.perf_counter()
    for name, share, strategy, check in KINDS:
        began = time.perf_counter()
        result = fuzz(strategy, check, max(1, round(options.count * share)))
        seconds = time.perf_counter() - began
        slowest, _ = result["slowest"]
        print(f"{name:40} {result['inputs']:>7,} inputs {seconds:8.1f} s  "
              f"slowest {slowest:5.2f} s  crashes {len(result['crashes'])}", flush=True)
        for index, (value, trace) in enumerate(result["crashes"]):
            path = save(folder, name, index, value, trace)
            print(f"    {trace.strip().splitlines()[-1]}  -> {path}")
        total_inputs += result["inputs"]
        total_crashes += len(result["crashes"])
    print(f"{'total':40} {total_inputs:>7,} inputs {time.perf_counter() - started:8.1f} s  crashes {total_crashes}")
    return 1 if total_crashes else 0


if __name__ == "__main__":
    sys.exit(main())
