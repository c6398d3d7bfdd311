"""Time and memory of `nanlint check` on the large rows of the README's bad-input table.

    python bench/large_inputs.py

Builds, in a temporary folder: 5 MB of dense generated code (40,000 small functions),
a 5 MB protobuf-style `_pb2.py` (one serialized literal, then code), an 8.8 MB data
table, and a folder of 20,000 files; runs `nanlint check --no-cache` on each in its own
process (all cores), then the 20,000 files again from a warm cache, and prints the wall
time, the peak memory (the largest of the process and its workers), the exit code and
the report's last line.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HAZARD = "import torch\n\n\ndef f(x):\n    return x / x.sum()\n"


def dense_code(path: Path, size: int) -> None:
    block = (
        "\n\ndef layer_{i}(x, w):\n"
        '    """Generated layer {i}."""\n'
        "    y = x @ w + {i}\n"
        "    return y / (y.norm(dim=-1, keepdim=True) + 1e-6)\n"
    )
    parts, written, index = ["import torch\n"], 0, 0
    while written < size:
        parts.append(block.format(i=index))
        written += len(parts[-1])
        index += 1
    path.write_text("".join(parts))


def protobuf_style(path: Path, size: int) -> None:
    blob = "".join(f"\\x{b:02x}" for b in os.urandom(size // 4))
    path.write_text(f'DESCRIPTOR = b"{blob}"\n' + HAZARD)


def data_table(path: Path, rows: int) -> None:
    path.write_text("TABLE = [\n" + "".join(f"    {k * 0.5}, {-k}, 'name{k}',\n" for k in range(rows)) + "]\n")


def many_files(folder: Path, count: int) -> None:
    for index in range(count):
        sub = folder / f"pkg{index // 1000}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"m{index}.py").write_text(HAZARD if index % 1000 == 0 else f"X = {index}\n")


def measure(label: str, args: list[str], cwd: Path) -> None:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "nanlint", "check", *args], cwd=cwd, stdout=out, stderr=err)
        # wait4: this run's peak (the largest of the process and the workers it waited for).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        last = (out.read().strip().splitlines() or err.read().strip().splitlines() or [""])[-1]
    code = os.waitstatus_to_exitcode(status)
    print(f"{label:42} {seconds:7.1f} s  peak {usage.ru_maxrss / 1024:6.0f} MB  exit {code}  {last}", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nanlint-large-") as temp:
        root = Path(temp)
        protobuf_style(root / "descriptor_pb2.py", 5_000_000)
        data_table(root / "table.py", 250_000)
        dense_code(root / "dense.py", 5 * 1024 * 1024)
        many_files(root / "tree", 20_000)
        for name in ("descriptor_pb2.py", "table.py", "dense.py"):
            size = (root / name).stat().st_size / 1e6
            measure(f"{name} ({size:.1f} MB)", ["--no-cache", name], root)
        measure("tree/ (20,000 files), cold", ["--no-cache", "tree"], root)
        cache = ["--cache-dir", str(root / "cache")]
        measure("tree/ (20,000 files), filling the cache", [*cache, "tree"], root)
        measure("tree/ (20,000 files), warm cache", [*cache, "tree"], root)


if __name__ == "__main__":
    main()
