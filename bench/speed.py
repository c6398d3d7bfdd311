"""nanlint's speed next to the tools a user would otherwise run, on the same real files.

Usage: python bench/speed.py [--runs 3] [--folders nn,optim,...] [--torchfix PATH] [--ruff PATH]

The corpus is a copy of the installed torch package's sources (the folders below), so
every tool sees the same files and no configuration file. nanlint runs from a snapshot
of this checkout taken at the start (others may edit the tree meanwhile, and an edit
would rightly invalidate the warm cache). Each measurement is one whole
process (interpreter start, imports, discovery, output), run `--runs` times with the
tools alternating so that a change in the machine's load hits them all alike; the
table shows medians. Peak RSS is the largest sum, sampled every 20 ms, of the resident
memory of the process and all its workers. CPU is user + system time of the process and
its workers: on a busy machine it moves less than the wall time.

TorchFix pins its own libcst: install it in a venv of its own (`python -m venv
/tmp/torchfix-venv && /tmp/torchfix-venv/bin/pip install torchfix`) and pass its
`torchfix` with `--torchfix`; ruff likewise with `--ruff`. A tool that is not found is
left out of the table (and said so), never guessed.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

HERE = Path(__file__).resolve().parent
TORCH_FOLDERS = ("nn", "optim", "distributions", "ao", "fx", "utils", "distributed")
ONE_FILE = ("nn", "modules", "batchnorm.py")
TORCHFIX_DEFAULT = "/tmp/torchfix-venv/bin/torchfix"


# ------------------------------------------------------------------ measuring one process


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int


def _tree(pid: int) -> list[int]:
    """The process and its descendants, from /proc (Linux)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _PeakMemory(threading.Thread):
    """Samples the summed RSS of a process tree until told to stop."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _tree(self.pid)))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


# Every command runs in this folder: `python -m` puts the working folder first on sys.path,
# and a checkout there would shadow the snapshot.
NEUTRAL = Path(tempfile.gettempdir())


def measure(argv: Sequence[str], env: dict[str, str] | None, expect_success: bool = False) -> Sample:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=NEUTRAL)
    sampler = _PeakMemory(process.pid)
    sampler.start()
    # wait4 gives the rusage of the process and of the workers it waited for.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    sampler.stop()
    assert process.stderr is not None
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if "Traceback" in stderr or (expect_success and process.returncode != 0):
        raise SystemExit(f"{' '.join(argv)} failed (exit {process.returncode}):\n{stderr[-2000:]}")
    # ru_maxrss is the largest single process; the sampled sum covers the whole tree.
    peak_mb = max(sampler.peak_kb, usage.ru_maxrss) / 1024
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak_mb, process.returncode)


# ------------------------------------------------------------------ the corpus


def torch_root() -> Path:
    """The installed torch package's folder, found without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch is not installed in this interpreter (pip install torch==2.13.0)")
    return Path(list(spec.submodule_search_locations)[0])


def build_corpus(root: Path, folders: Sequence[str], destination: Path) -> tuple[int, int]:
    """Copy the .py files of `folders` under `destination/torch`; (files, lines)."""
    files = lines = 0
    for folder in folders:
        for source in sorted((root / folder).rglob("*.py")):
            target = destination / "torch" / source.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            files += 1
            lines += source.read_bytes().count(b"\n")
    return files, lines


# ------------------------------------------------------------------ the contestants


def snapshot(destination: Path) -> dict[str, str]:
    """Copy nanlint and its rule documents, compiled as pip installs them; the environment that runs the copy."""
    import compileall

    repository = HERE.parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(repository / "nanlint", destination / "nanlint", ignore=ignore)
    shutil.copytree(repository / "rules", destination / "rules", ignore=ignore)
    compileall.compile_dir(destination / "nanlint", quiet=1)
    path = os.pathsep.join(p for p in (str(destination), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path)


@dataclass
class Contestant:
    name: str
    argv: list[str]
    env: dict[str, str] | None
    # Run before each measurement (emptying a cache folder), untimed.
    prepare: Callable[[], None] = lambda: None
    # nanlint runs with --exit-zero: anything but 0 is a failed run, not a measurement.
    expect_success: bool = False
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)


def _emptied(folder: Path) -> Callable[[], None]:
    def prepare() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    return prepare


def _find_tool(given: str | None, name: str, default: str | None = None) -> str | None:
    for candidate in (given, shutil.which(name), default):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def contestants(
    corpus: Path, work: Path, env: dict[str, str], jobs: int, torchfix: str | None, ruff: str | None
) -> list[Contestant]:
    nanlint = [sys.executable, "-m", "nanlint", "check", str(corpus), "--exit-zero", "--statistics"]
    floor = [sys.executable, str(HERE / "parse_floor.py"), str(corpus)]
    cold_1, cold_n, warm = work / "cache-cold-1", work / "cache-cold-n", work / "cache-warm"
    found = [
        Contestant("nanlint cold, 1 job", nanlint + ["--jobs", "1", "--cache-dir", str(cold_1)], env, _emptied(cold_1), True),
        Contestant("parse floor, 1 job", floor + ["--jobs", "1"], env, expect_success=True),
        Contestant(f"nanlint cold, {jobs} jobs", nanlint + ["--jobs", str(jobs), "--cache-dir", str(cold_n)], env,
                   _emptied(cold_n), True),
        Contestant(f"parse floor, {jobs} jobs", floor + ["--jobs", str(jobs)], env, expect_success=True),
        Contestant("nanlint warm cache", nanlint + ["--cache-dir", str(warm)], env, expect_success=True),
    ]
    if torchfix:
        found.append(Contestant(f"TorchFix {jobs} jobs", [torchfix, "--jobs", str(jobs), str(corpus)], None))
    if ruff:
        found.append(Contestant("ruff --select ALL", [ruff, "check", "--isolated", "--select", "ALL", "--no-cache",
                                                      "--exit-zero", "--quiet", str(corpus)], None))
    return found


# ------------------------------------------------------------------ the one-file path


def one_file_latency(path: Path, runs: int, work: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    """Median wall time of the pre-commit path on one file, next to `import libcst`."""
    cache = work / "cache-one-file"
    nanlint = [*nanlint_command(), "check", str(path), "--exit-zero", "--cache-dir", str(cache)]
    rows = {
        "python -c 'import libcst'": ([sys.executable, "-c", "import libcst"], lambda: None),
        "nanlint check FILE (cold cache)": (nanlint, _emptied(cache)),
        "nanlint check FILE (warm cache)": (nanlint, lambda: None),
    }
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(runs):
        for name, (argv, prepare) in rows.items():
            prepare()
            times[name].append(measure(argv, env, expect_success=True).wall)
    return [(name, statistics.median(values)) for name, values in times.items()]


def nanlint_command() -> list[str]:
    """The `nanlint` console script beside this interpreter (what the pre-commit hook runs), else `-m`."""
    script = Path(sys.executable).with_name("nanlint")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nanlint"]


def imported_modules(argv: Sequence[str], env: dict[str, str]) -> set[str]:
    """The top-level packages a command imports (`python -X importtime`)."""
    result = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, env=env, cwd=NEUTRAL)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


# ------------------------------------------------------------------ the report


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="whole-process runs per tool (median; at least 3)")
    parser.add_argument("--folders", default=",".join(TORCH_FOLDERS), help="torch folders in the corpus")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers for the all-cores runs")
    parser.add_argument("--torchfix", help=f"the torchfix executable (default: on PATH or {TORCHFIX_DEFAULT})")
    parser.add_argument("--ruff", help="the ruff executable (default: on PATH)")
    parser.add_argument("--skip", default="", help="comma-separated contestants to leave out: torchfix,ruff")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs: the median needs at least 3 runs")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    torchfix = None if "torchfix" in skip else _find_tool(args.torchfix, "torchfix", TORCHFIX_DEFAULT)
    ruff = None if "ruff" in skip else _find_tool(args.ruff, "ruff")

    root = torch_root()
    folders = [f.strip() for f in args.folders.split(",") if f.strip()]
    work = Path(tempfile.mkdtemp(prefix="nanlint-bench-"))
    try:
        corpus = work / "corpus"
        files, lines = build_corpus(root, folders, corpus)
        print(f"corpus: {files} files, {lines} lines: torch/{{{','.join(folders)}}} of {root}")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
              f"{args.runs} runs each, alternating; medians")
        for name, path in (("TorchFix", torchfix), ("ruff", ruff)):
            if path is None:
                print(f"{name}: not found, left out (see --{name.lower()})")
        env = snapshot(work / "src")
        entrants = contestants(corpus, work, env, args.jobs, torchfix, ruff)
        by_name = {e.name: e for e in entrants}
        # Fill the warm cache once (untimed) with a run of the same settings.
        subprocess.run(by_name["nanlint warm cache"].argv, stdout=subprocess.DEVNULL, check=False, env=env, cwd=NEUTRAL)
        for _ in range(args.runs):
            for entrant in entrants:
                entrant.prepare()
                entrant.samples.append(measure(entrant.argv, entrant.env, entrant.expect_success))
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        print()
        rows = [["tool", "files/s", "wall s", "CPU s", "peak RSS MB"]]
        for entrant in entrants:
            wall = entrant.median("wall")
            rows.append([entrant.name, f"{files / wall:.1f}", f"{wall:.2f}", f"{entrant.median('cpu'):.2f}",
                         f"{max(s.peak_rss_mb for s in entrant.samples):.0f}"])
        print(_table(rows))
        print()
        n = args.jobs

        def ratio(top: str, bottom: str, attribute: str) -> float:
            return by_name[top].median(attribute) / by_name[bottom].median(attribute)

        # (label, numerator, denominator, target, met); the target is judged on wall time.
        wanted = []
        if torchfix:
            wanted.append((f"TorchFix / nanlint cold ({n} jobs)", f"TorchFix {n} jobs", f"nanlint cold, {n} jobs", ">= 8x",
                           lambda r: r >= 8))
        wanted += [
            ("nanlint cold / parse floor (1 job)", "nanlint cold, 1 job", "parse floor, 1 job", "<= 1.6x", lambda r: r <= 1.6),
            (f"nanlint cold / parse floor ({n} jobs)", f"nanlint cold, {n} jobs", f"parse floor, {n} jobs", "<= 1.6x",
             lambda r: r <= 1.6),
            (f"nanlint cold ({n} jobs) / warm cache", f"nanlint cold, {n} jobs", "nanlint warm cache", ">= 20x",
             lambda r: r >= 20),
        ]
        ratios = [["ratio", "wall", "CPU", "target", "met"]]
        for label, top, bottom, target, met in wanted:
            wall = ratio(top, bottom, "wall")
            ratios.append([label, f"{wall:.2f}x", f"{ratio(top, bottom, 'cpu'):.2f}x", target, _verdict(met(wall))])
        peak_n = max(s.peak_rss_mb for s in by_name[f"nanlint cold, {n} jobs"].samples)
        ratios.append([f"peak RSS, nanlint cold, {n} jobs", f"{peak_n:.0f} MB", "", "< 300 MB", _verdict(peak_n < 300)])
        print(_table(ratios))
        print()

        # The pre-commit case: one file, alone (copied: the corpus may not hold it).
        one_file = work / "one-file" / ONE_FILE[-1]
        one_file.parent.mkdir()
        shutil.copyfile(root / Path(*ONE_FILE), one_file)
        latency = one_file_latency(one_file, max(args.runs, 5), work, env)
        rows = [["one file: torch/" + "/".join(ONE_FILE), "wall s"]] + [[name, f"{t:.3f}"] for name, t in latency]
        print(_table(rows))
        base, cold = latency[0][1], latency[1][1]
        on_path = imported_modules([sys.executable, "-m", "nanlint", "check", str(one_file), "--exit-zero", "--no-cache"], env)
        warm_path = imported_modules([sys.executable, "-m", "nanlint", "check", str(one_file), "--exit-zero",
                                      "--cache-dir", str(work / "cache-one-file")], env)
        checks = [["one-file check", "value", "target", "met"],
                  ["cold cache, wall", f"{cold:.3f} s", "< 0.45 s", _verdict(cold < 0.45)],
                  ["cold cache / import libcst", f"{cold / base:.2f}x", "< 1.5x", _verdict(cold / base < 1.5)],
                  ["torch imported (cold)", "yes" if "torch" in on_path else "no", "no", _verdict("torch" not in on_path)],
                  ["libcst imported (warm)", "yes" if "libcst" in warm_path else "no", "no",
                   _verdict("libcst" not in warm_path)]]
        print()
        print(_table(checks))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
