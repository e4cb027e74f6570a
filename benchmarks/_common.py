"""Helpers shared by the benchmark workers.

Only the standard library and numpy are used, so the module imports in every virtual
environment the harness runs (the project's own and GenVarLoader's). A worker is started as
``python benchmarks/<worker>.py TASK.json``; it reads the task, does one action and writes
its result as JSON to ``task["out"]``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

#: Output kinds measured for every system.
MODES = ("haps", "haps+tracks", "tracks", "ref")

#: Name of the single BigWig track in every dataset.
TRACK = "bigwig"

Fetch = Callable[[np.ndarray, np.ndarray], Any]
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def run_worker(handlers: Mapping[str, Handler]) -> None:
    """Read the task named on the command line, run its action and write the result, with
    the process's peak RSS and its private/file-backed memory (see `Memory`)."""
    task = json.loads(Path(sys.argv[1]).read_text())
    MEMORY.mark("start")
    result = handlers[task["action"]](task)
    MEMORY.mark("final")
    result["peak_rss_mb"] = peak_rss_mb()
    result["memory"] = MEMORY.report()
    Path(task["out"]).write_text(json.dumps(result))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Memory:
    """Samples ``RssAnon`` (private memory: heap, anonymous maps, numba/LLVM, caches) and
    ``RssFile`` (resident pages of mapped files: shared libraries, memory-mapped data) from
    ``/proc/self/status`` and keeps their maxima.

    ``ru_maxrss`` is the true peak of their sum (plus ``RssShmem``) but cannot tell a
    decoded-data cache from mapped libraries or page-cache-backed maps; these figures can,
    but only at the moments they are sampled (after each batch in the read and DataLoader
    loops, every 20 ms during a write), so a transient peak inside one call can be missed.
    Values are MiB; all zeros where ``/proc`` is missing.
    """

    FIELDS = (b"RssAnon:", b"RssFile:", b"RssShmem:")
    KEYS = ("anon", "file", "shmem")

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/self/status", os.O_RDONLY)
        except OSError:
            self._fd = None
        self.peak = dict.fromkeys(self.KEYS, 0.0)
        self.points: dict[str, dict[str, float]] = {}
        self.overhead_s = 0.0

    def sample(self) -> dict[str, float]:
        """Current values in MiB; updates the maxima."""
        t0 = time.perf_counter()
        now = dict.fromkeys(self.KEYS, 0.0)
        if self._fd is not None:
            text = os.pread(self._fd, 8192, 0)
            for key, field in zip(self.KEYS, self.FIELDS, strict=True):
                i = text.find(field)
                if i >= 0:
                    now[key] = int(text[i + len(field) : text.index(b"kB", i)]) / 1024
        for key, value in now.items():
            if value > self.peak[key]:
                self.peak[key] = value
        self.overhead_s += time.perf_counter() - t0
        return now

    def mark(self, name: str) -> None:
        """Sample now and keep the values under `name` (e.g. "after_open")."""
        self.points[name] = self.sample()

    def every(self, interval_s: float) -> threading.Event:
        """Sample in a background thread every `interval_s` until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                self.sample()

        threading.Thread(target=loop, daemon=True).start()
        return stop

    def report(self) -> dict[str, Any]:
        return {"peak": dict(self.peak), "points": self.points}


#: The one memory sampler of a worker process.
MEMORY = Memory()


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Total size in bytes of the regular files under `path`."""
    root = Path(path)
    if root.is_file():
        return root.stat().st_size
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def nbytes(out: Any) -> int:
    """Bytes held by a batch: an array, a tensor, or a tuple/list of them."""
    if isinstance(out, (tuple, list)):
        return sum(nbytes(o) for o in out)
    return int(out.nbytes)


class BatchStream:
    """An endless, deterministic stream of random (region, sample) batches.

    Every batch draws its region and sample indices independently and uniformly (with
    replacement) from all regions and samples, so reads are shuffled over the whole dataset
    as in a training epoch with ``shuffle=True``. Stream `k` of a shape is the same for every
    system: blocks of ``BLOCK`` batches are drawn from ``default_rng([seed, length, k,
    block])`` with sample indices in VCF order, then mapped to the system's own sample order
    by name (GenVarLoader sorts samples). Different configurations read different streams,
    and a stream never repeats itself, so a decoded-data cache only gets the hits that
    random access over the whole dataset would give it.
    """

    BLOCK = 256

    def __init__(self, spec_path: str, own_names: list[str] | None, stream: int) -> None:
        spec = json.loads(Path(spec_path).read_text())
        self.n_regions, self.batch_size = spec["n_regions"], spec["batch_size"]
        self.key = [spec["seed"], spec["length"], stream]
        names = spec["sample_names"]
        self.n_samples = len(names)
        if own_names is None:
            self.lookup = np.arange(len(names), dtype=np.int64)
        else:
            position = {name: i for i, name in enumerate(own_names)}
            self.lookup = np.array([position[name] for name in names], dtype=np.int64)
        self._block = -1
        self._regions = self._samples = np.empty((0, 0), dtype=np.int64)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Region and sample indices (the system's order) of batch `i`."""
        block, j = divmod(i, self.BLOCK)
        if block != self._block:
            rng = np.random.default_rng([*self.key, block])
            size = (self.BLOCK, self.batch_size)
            self._regions = rng.integers(0, self.n_regions, size)
            self._samples = self.lookup[rng.integers(0, self.n_samples, size)]
            self._block = block
        return self._regions[j], self._samples[j]


def time_call(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Call `fn` once and return its result and the elapsed seconds."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


class BatchTimer:
    """Runs whole batches of one configuration, in order from its `BatchStream`."""

    def __init__(self, fetch: Fetch, stream: BatchStream) -> None:
        self.fetch, self.stream = fetch, stream
        self.cursor = 0
        self.stats: dict[str, list[float]] = {"instances_per_s": [], "mb_per_s": [], "batches": []}

    def next(self) -> Any:
        """Fetch the next batch of the stream."""
        out = self.fetch(*self.stream[self.cursor])
        self.cursor += 1
        return out

    def run(self, budget_s: float) -> tuple[int, int, float]:
        """Run batches until `budget_s` has passed (at least one); return instances, output
        bytes and elapsed seconds. Memory is sampled after each batch; that time is not
        counted."""
        instances = out_bytes = 0
        overhead0 = MEMORY.overhead_s
        t0 = time.perf_counter()
        while True:
            out_bytes += nbytes(self.next())
            instances += self.stream.batch_size
            MEMORY.sample()
            elapsed = time.perf_counter() - t0 - (MEMORY.overhead_s - overhead0)
            if elapsed >= budget_s:
                return instances, out_bytes, elapsed

    def repeat(self, budget_s: float) -> None:
        """One timed repeat, appended to `stats` (instances/s, MB/s of output, batches)."""
        instances, out_bytes, elapsed = self.run(budget_s)
        self.stats["instances_per_s"].append(instances / elapsed)
        self.stats["mb_per_s"].append(out_bytes / elapsed / 1e6)
        self.stats["batches"].append(instances // self.stream.batch_size)


def measure_iterable(
    make_iter: Callable[[], Any], *, budget_s: float, repeats: int, warmup_batches: int
) -> dict[str, list[float]]:
    """Throughput of iterating a DataLoader: each repeat starts a fresh iterator and consumes
    batches until `budget_s` has passed (at least one batch after `warmup_batches`).
    ``first_batch_s`` is the time from making the first iterator to its first batch.
    Memory is sampled after each batch; that time is not counted."""
    ips, mbps, batches = [], [], []
    first_batch_s = None
    for _ in range(repeats):
        t_first = time.perf_counter()
        it = iter(make_iter())
        for _ in range(warmup_batches):
            next(it)
            if first_batch_s is None:
                first_batch_s = time.perf_counter() - t_first
            MEMORY.sample()
        instances = out_bytes = n = 0
        overhead0 = MEMORY.overhead_s
        t0 = time.perf_counter()
        for batch in it:
            if first_batch_s is None:
                first_batch_s = time.perf_counter() - t_first
            out_bytes += nbytes(batch)
            instances += len(batch[0] if isinstance(batch, (tuple, list)) else batch)
            n += 1
            MEMORY.sample()
            if time.perf_counter() - t0 - (MEMORY.overhead_s - overhead0) >= budget_s:
                break
        elapsed = time.perf_counter() - t0 - (MEMORY.overhead_s - overhead0)
        ips.append(instances / elapsed)
        mbps.append(out_bytes / elapsed / 1e6)
        batches.append(n)
    MEMORY.mark("after_loop")
    return {"instances_per_s": ips, "mb_per_s": mbps, "batches": batches, "first_batch_s": first_batch_s}


def canonical(mode: str, out: Any) -> dict[str, np.ndarray]:
    """A batch as plain numpy arrays with one layout for every system, for the agreement
    check: sequences as uint8 ``(B, 2, L)`` or ``(B, L)``, tracks as float32 with the
    track axis (of size 1) removed."""
    parts = out if isinstance(out, (tuple, list)) else (out,)
    arrays = [np.asarray(p) for p in parts]
    names = {"haps": ["seq"], "haps+tracks": ["seq", "track"], "tracks": ["track"], "ref": ["seq"]}
    result = {}
    for name, arr in zip(names[mode], arrays, strict=True):
        if name == "seq":
            result[name] = arr.view(np.uint8) if arr.dtype.kind == "S" else arr.astype(np.uint8)
        else:
            result[name] = arr.astype(np.float32).reshape(_drop_track_axis(arr.shape))
    return result


def _drop_track_axis(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Remove a size-1 track axis at position 1, as in GenVarLoader's ``(B, T, [2,] L)``."""
    if len(shape) >= 3 and shape[1] == 1:
        return (shape[0], *shape[2:])
    return shape


def read_modes(
    task: dict[str, Any],
    own_names: list[str] | None,
    fetch_for: Callable[[str, int], Fetch],
) -> dict[str, Any]:
    """The shared body of a "read" action.

    Configuration k (mode, jitter), in task order, reads `BatchStream` k. For each it times
    the first batch (the very first one after open is the first configuration's), saves it
    at jitter 0 for the agreement check, and warms up for ``task["warmup_s"]``. Then
    ``task["repeats"]`` rounds each run one repeat of ``task["budget_s"]`` per configuration,
    interleaved so that a burst of other load on the machine spreads over all configurations
    instead of landing on one. A budget of 0 times exactly one batch per repeat.

    `fetch_for(mode, jitter)` returns a function of (region_idx, sample_idx) arrays;
    `own_names` is the system's sample order (None: VCF order).
    """
    configs = [(mode, jitter) for mode in task["modes"] for jitter in task["jitters"]]
    timers: dict[tuple[str, int], BatchTimer] = {}
    first_s: dict[tuple[str, int], float] = {}
    for k, (mode, jitter) in enumerate(configs):
        timer = BatchTimer(fetch_for(mode, jitter), BatchStream(task["batches"], own_names, k))
        first, first_s[mode, jitter] = time_call(timer.next)
        MEMORY.mark(f"first_batch_{mode}_{jitter}")
        if jitter == 0:
            np.savez(Path(task["first_dir"]) / f"{mode}.npz", **canonical(mode, first))
        if task["warmup_s"] > 0:
            timer.run(task["warmup_s"])
        timers[mode, jitter] = timer
    for _ in range(task["repeats"]):
        for timer in timers.values():
            timer.repeat(task["budget_s"])
    MEMORY.mark("after_loop")
    modes: dict[str, Any] = {mode: {} for mode in task["modes"]}
    for (mode, jitter), timer in timers.items():
        modes[mode][str(jitter)] = {"first_batch_s": first_s[mode, jitter], **timer.stats, "batches_run": timer.cursor}
    return {"modes": modes}


class DatasetSystem(Protocol):
    """What a worker for a dataset-backed loader (gvl_zarr, GenVarLoader) provides."""

    def import_library(self) -> None:
        """Import the library (timed as part of the cold start)."""

    def write(self, task: dict[str, Any]) -> None:
        """Write the dataset described by `task` from the raw inputs."""

    def open(self, task: dict[str, Any]) -> Any:
        """Open the dataset; it has ``samples``, ``[regions, samples]`` and ``to_dataloader``."""

    def configure(self, ds: Any, mode: str, jitter: int, seed: int) -> Any:
        """The dataset set to return `mode` with `jitter`."""


def dataset_handlers(system: DatasetSystem) -> dict[str, Handler]:
    """The write/start/read/loader actions for a dataset-backed system."""

    def fetcher(ds: Any, mode: str, jitter: int, seed: int) -> Fetch:
        configured = system.configure(ds, mode, jitter, seed)
        return lambda r, s: configured[r, s]

    def write(task: dict[str, Any]) -> dict[str, Any]:
        system.import_library()
        MEMORY.mark("after_import")
        stop = MEMORY.every(0.02)
        _, write_s = time_call(lambda: system.write(task))
        stop.set()
        MEMORY.mark("after_write")
        return {"write_s": write_s, "disk_bytes": dir_bytes(task["dataset"])}

    def start(task: dict[str, Any]) -> dict[str, Any]:
        _, import_s = time_call(system.import_library)
        ds, open_s = time_call(lambda: system.open(task))
        MEMORY.mark("after_open")
        fetch = fetcher(ds, task["mode"], 0, task["seed"])
        batch = BatchStream(task["batches"], list(ds.samples), 0)[0]
        _, first_s = time_call(lambda: fetch(*batch))
        MEMORY.mark("after_first_batch")
        return {"import_s": import_s, "open_s": open_s, "first_batch_s": first_s}

    def read(task: dict[str, Any]) -> dict[str, Any]:
        system.import_library()
        ds, open_s = time_call(lambda: system.open(task))
        MEMORY.mark("after_open")
        result = read_modes(task, list(ds.samples), lambda m, j: fetcher(ds, m, j, task["seed"]))
        return {**result, "open_s": open_s}

    def loader(task: dict[str, Any]) -> dict[str, Any]:
        import torch

        system.import_library()
        torch.manual_seed(task["seed"])
        ds, open_s = time_call(lambda: system.open(task))
        MEMORY.mark("after_open")
        ds = system.configure(ds, task["mode"], task["jitter"], task["seed"])

        def make() -> Any:
            return ds.to_dataloader(batch_size=task["batch_size"], shuffle=True, num_workers=0)

        result = measure_iterable(make, budget_s=task["budget_s"], repeats=task["repeats"], warmup_batches=1)
        return {**result, "open_s": open_s}

    return {"write": write, "start": start, "read": read, "loader": loader}
