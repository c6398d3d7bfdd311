"""The fast path (parallel workers, the result cache) gives exactly the serial findings.

The corpus is every input the rules are judged on: the bad and good examples of every
rule document, the variant fixtures, the bundled examples, the real-world cases, plus
a notebook, a file that does not parse, one that does not decode and suppression
comments (used and unused), so every kind of finding goes through the cache's
serialisation and the workers' pickling.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

from nanlint import runner
from nanlint.api import check_file, check_paths, discover_files
from nanlint.cache import Cache, build_fingerprint, finding_from_json, finding_to_json
from nanlint.catalog import load_catalog
from nanlint.config import Settings
from nanlint.findings import Finding
from nanlint.merge import merge
from tests.conftest import REPO

T = TypeVar("T")

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# notes\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["import torch\n", "%matplotlib inline\n", "x = torch.randn(4)\n", "y = x / x.norm()\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}
SUPPRESSED = (
    "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n"
    "    return a / d  # noqa: NAN101, NAN102\n\n\ndef g(a):\n    return a.log()  # nanlint: ignore[NAN201]\n"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for meta in load_catalog().values():
        for index, example in enumerate(meta.examples()):
            if example.kind in ("bad", "good"):
                (root / f"{meta.code.lower()}_{example.kind}_{index}.py").write_text(example.code)
    for folder in ("tests/fixtures", "examples", "tests/cases"):
        for path in sorted((REPO / folder).glob("*.py")):
            shutil.copyfile(path, root / f"{Path(folder).name}_{path.name}")
    (root / "notebook.ipynb").write_text(json.dumps(NOTEBOOK))
    (root / "syntax_error.py").write_text("def f(:\n    return 1\n")
    (root / "latin1.py").write_bytes(b"x = '\xe9'\n")
    (root / "suppressed.py").write_text(SUPPRESSED)
    return root


def serial(root: Path, settings: Settings) -> list[Finding]:
    """The reference: every file through `check_file`, in one process, nothing cached."""
    files = discover_files([str(root)], settings).files
    return merge(f for path in files for f in check_file(path, settings))


@pytest.fixture
def always_parallel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Workers even for small inputs; records how many processes each run used."""
    used: list[int] = []
    decide = runner._processes

    def processes(jobs: int, count: int, sizes: object) -> int:
        used.append(decide(jobs, count, None))
        return used[-1]

    monkeypatch.setattr(runner, "_processes", processes)
    return used


@pytest.mark.parametrize("settings", [Settings(), Settings(precision="fp16", select=("NAN",))], ids=["default", "fp16-all"])
def test_workers_and_cache_give_the_serial_findings_exactly(corpus, tmp_path, always_parallel, monkeypatch, settings):
    expected = serial(corpus, settings)
    assert {f.code for f in expected} >= {"NAN001", "NAN003", "NAN101", "NAN102", "NAN201", "NAN301", "NAN401"}
    assert any(f.cell is not None for f in expected) and any(f.fix is not None for f in expected)
    cache = Cache(tmp_path / "cache", settings)

    cold = check_paths([str(corpus)], settings, jobs=3, cache=cache)
    assert always_parallel == [3]
    assert cold.findings == expected

    # Warm: every file is answered from the cache, none is analysed again.
    def no_analysis(*args: object) -> None:
        raise AssertionError("a warm run analysed a file")

    monkeypatch.setattr("nanlint.api.check_file", no_analysis)
    # The same run key: other engineers' edits to nanlint meanwhile would change it.
    warm = check_paths([str(corpus)], settings, jobs=3, cache=Cache(tmp_path / "cache", settings, cache.run_key))
    assert warm.findings == expected
    assert warm.files == cold.files == len(discover_files([str(corpus)], settings).files)


def test_json_round_trip_is_exact(corpus):
    findings = serial(corpus, Settings(select=("NAN",)))
    assert [finding_from_json(json.loads(json.dumps(finding_to_json(f)))) for f in findings] == findings


def test_cache_key_follows_content_path_and_settings(corpus, tmp_path):
    path = corpus / "suppressed.py"
    data = path.read_bytes()
    cache = Cache(tmp_path, Settings())
    assert cache.key(path, data) != cache.key(path, data + b"\n")
    assert cache.key(path, data) != cache.key(corpus / "other.py", data)
    assert Cache(tmp_path, Settings()).run_key == cache.run_key
    assert Cache(tmp_path, Settings(precision="fp16")).run_key != cache.run_key
    assert Cache(tmp_path, Settings(ignore=("NAN101",))).run_key != cache.run_key


def test_an_edited_file_is_checked_again(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import torch\nx = torch.randn(3)\ny = x / x.sum()\n")
    cache = Cache(tmp_path / "cache", Settings())
    first = check_paths([str(source)], cache=cache).findings
    source.write_text("import torch\nx = torch.randn(3)\ny = x / (x.sum() + 1e-6)\n")
    assert [f.code for f in first] == ["NAN102"]
    assert check_paths([str(source)], cache=Cache(tmp_path / "cache", Settings())).findings == []


def test_a_broken_entry_is_a_miss_and_is_rewritten(corpus, tmp_path):
    cache = Cache(tmp_path / "cache", Settings())
    path = corpus / "suppressed.py"
    expected = check_paths([str(path)], cache=cache).findings
    entries = list(cache.folder.rglob("*.json"))
    assert len(entries) == 1
    entries[0].write_text('{"findings": [{"code": ')  # as if cut short
    assert check_paths([str(path)], cache=Cache(tmp_path / "cache", Settings())).findings == expected
    assert Cache(tmp_path / "cache", Settings()).load(entries[0].stem) == expected


def test_unwritable_cache_folder_is_reported_not_fatal(corpus, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = Cache(blocker / "cache", Settings())
    path = corpus / "suppressed.py"
    assert check_paths([str(path)], cache=cache).findings == check_file(path, Settings())
    assert cache.write_error is not None and str(blocker) in cache.write_error


@pytest.mark.skipif(sys.platform != "linux", reason="the test's work function is a closure: forked workers only")
def test_a_dead_worker_costs_time_not_findings(monkeypatch):
    """The item a worker took and never returned is done by the parent."""

    def work(item: int) -> int:
        if os.getpid() != parent:
            os._exit(1)  # the worker dies on the first item it takes
        time.sleep(0.01)  # the parent is slow enough for the worker to take one
        return item * item

    parent = os.getpid()
    monkeypatch.setattr(runner, "_processes", lambda jobs, count, sizes: 2)
    assert runner.parallel_map(work, list(range(40)), 2) == [i * i for i in range(40)]


def _cli(*args: str, env: dict[str, str] | None = None, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-m", "nanlint", "check", *args], capture_output=True, text=True,
                          env=env, cwd=REPO)


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")}


def _unchanged_build(run: Callable[[], T]) -> T:
    """`run()`, again if nanlint's own files changed meanwhile (a new build misses the cache)."""
    for _ in range(3):
        before = build_fingerprint()
        result = run()
        if build_fingerprint() == before:
            return result
    pytest.fail("nanlint's files kept changing during the test")


def test_command_line_cold_warm_and_no_cache_agree(corpus, tmp_path):
    reference = _cli(str(corpus), "--format", "json", "--no-cache", "--jobs", "1")
    # The process ends without interpreter teardown (cli._exit_now): the report is whole.
    assert reference.returncode == 1
    assert len(json.loads(reference.stdout)["findings"]) == len(serial(corpus, Settings()))

    def cold_then_warm() -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
        cache = str(tmp_path / "cache")
        shutil.rmtree(cache, ignore_errors=True)
        return (_cli(str(corpus), "--format", "json", "--jobs", "2", "--cache-dir", cache),
                _cli(str(corpus), "--format", "json", "--cache-dir", cache, importtime=True))

    cold, warm = _unchanged_build(cold_then_warm)
    assert cold.stdout == warm.stdout == reference.stdout
    assert cold.returncode == warm.returncode == 1
    # A run answered from the cache never loads the parser (nor torch).
    assert "libcst" not in _imported(warm.stderr) and "torch" not in _imported(warm.stderr)


def test_no_cache_writes_nothing_and_cache_dir_comes_from_the_environment(corpus, tmp_path):
    env = dict(os.environ, NANLINT_CACHE_DIR=str(tmp_path / "from-env"))
    _cli(str(corpus / "suppressed.py"), "--no-cache", env=env)
    assert not (tmp_path / "from-env").exists()
    _cli(str(corpus / "suppressed.py"), env=env)
    assert list((tmp_path / "from-env").rglob("*.json"))


def test_two_runs_sharing_a_cache_agree(corpus, tmp_path):
    argv = [sys.executable, "-m", "nanlint", "check", str(corpus), "--format", "json", "--jobs", "2",
            "--cache-dir", str(tmp_path / "shared")]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(3)]
    outputs = [run.communicate()[0] for run in runs]
    reference = _cli(str(corpus), "--format", "json", "--no-cache")
    assert outputs == [reference.stdout] * 3
    # Only whole entries: every one decodes, no temporary file is left behind.
    entries = list((tmp_path / "shared").rglob("*"))
    assert not [e for e in entries if e.name.endswith(".tmp")]
    written = [e for e in entries if e.suffix == ".json"]
    assert len(written) >= len(discover_files([str(corpus)], Settings()).files)
    for entry in written:
        [finding_from_json(item) for item in json.loads(entry.read_text())["findings"]]
