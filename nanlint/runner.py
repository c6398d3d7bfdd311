"""Many files through the per-file unit of work: the cache first, then parallel workers.

A run first reads and hashes every file and takes what the cache has; only then, if
something is left, is the analyzer (and libcst) imported, so a run where nothing
changed stays light. The files left are checked largest first, by this process and
`jobs - 1` forked workers taking the next file from a shared counter: the largest file
starts first and the small ones fill in behind it, and the parent is a worker too, so
`--jobs 2` is two processes, not two plus an idle one. A worker that dies leaves its
files to the parent, which checks them itself: a crash costs time, never a finding.
"""
from __future__ import annotations

import gc
import os
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

if TYPE_CHECKING:
    from nanlint.cache import Cache
    from nanlint.config import Settings
    from nanlint.findings import Finding

T = TypeVar("T")
R = TypeVar("R")

# Below this much source per process, starting one more (a fork, results sent back)
# costs about what it saves: 50 kB is about 0.1 s of parsing on one core.
_MIN_BYTES_PER_PROCESS = 50_000


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_files(files: Sequence[Path], settings: Settings, jobs: int = 1, cache: Cache | None = None) -> list[Finding]:
    """The findings of every file (`api.check_file` each), cached ones first, in file order."""
    results: list[list[Finding] | None] = [None] * len(files)
    sizes: dict[int, int] = {}
    if cache is not None:
        cache.mark_used()
    for index, path in enumerate(files):
        if cache is None:
            sizes[index] = _size(path)
            continue
        data = _read(path)
        sizes[index] = len(data) if data is not None else 0
        if data is not None:
            results[index] = cache.load(cache.key(path, data))
    pending = sorted((i for i, found in enumerate(results) if found is None), key=sizes.__getitem__, reverse=True)
    work = partial(_check_one, settings=settings, cache=cache)
    checked = parallel_map(work, [files[i] for i in pending], jobs, [sizes[i] for i in pending], _load_analyzer)
    for index, findings in zip(pending, checked):
        results[index] = findings
    return [finding for findings in results if findings is not None for finding in findings]


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # check_file reports it (NAN001)


def _read(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None  # check_file reports it (NAN001)


def _check_one(path: Path, settings: Settings, cache: Cache | None) -> list[Finding]:
    from nanlint.api import check_file

    # Read again here, and key the entry on these bytes: a file edited since the lookup
    # is stored under its new content, never the old one.
    data = _read(path)
    if data is None:
        return check_file(path, settings)
    findings = check_file(path, settings, data)
    if cache is not None:
        cache.store(cache.key(path, data), findings)
    return findings


def _load_analyzer() -> None:
    """Import the analyzer and read the catalog once, before forking, for every worker."""
    from nanlint.catalog import load_catalog
    from nanlint.source import checks, engine  # noqa: F401

    load_catalog()


def parallel_map(
    work: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    sizes: Sequence[int] | None = None,
    prepare: Callable[[], None] | None = None,
) -> list[R]:
    """`[work(item) for item in items]` over up to `jobs` processes, this one included.

    Items are taken in order, so give the largest first. `sizes` (bytes of source per
    item) decides how many processes are worth starting; `prepare` runs once before
    the workers start (imports they then share).
    """
    processes = _processes(jobs, len(items), sizes)
    if processes <= 1:
        return [work(item) for item in items]
    import multiprocessing  # here: a run with one process never pays for its import

    if prepare is not None:
        prepare()
    # Objects alive now are never collected in a worker: freezing them keeps the
    # collector from writing to (and so copying) the pages the workers share.
    gc.freeze()
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    counter = context.Value("l", 0)
    workers = []
    for _ in range(processes - 1):
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(work, items, counter, writer), daemon=True)
        process.start()
        writer.close()
        workers.append((process, reader))
    done: dict[int, R] = {}
    _take(work, items, counter, done)
    for process, reader in workers:
        try:
            done.update(reader.recv())
        except (EOFError, OSError):
            pass  # the worker died: its files are checked below
        reader.close()
        process.join()
    gc.unfreeze()
    return [done[index] if index in done else work(items[index]) for index in range(len(items))]


def _processes(jobs: int, count: int, sizes: Sequence[int] | None) -> int:
    worth = max(1, sum(sizes) // _MIN_BYTES_PER_PROCESS) if sizes is not None else count
    return max(1, min(jobs, count, worth))


def _take(work: Callable[[T], R], items: Sequence[T], counter: Any, done: dict[int, R]) -> None:
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value = index + 1
        if index >= len(items):
            return
        done[index] = work(items[index])


def _worker(work: Callable[[T], R], items: Sequence[T], counter: Any, writer: Any) -> None:
    done: dict[int, R] = {}
    try:
        _take(work, items, counter, done)
    except Exception:  # noqa: BLE001 - the parent redoes the file and raises it there, as a serial run would
        pass
    writer.send(done)
    writer.close()
