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
    """Read the task named on the command line, run its action and write the result."""
    task = json.loads(Path(sys.argv[1]).read_text())
    result = handlers[task["action"]](task)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(task["out"]).write_text(json.dumps(result))


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def load_batches(path: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Region indices and sample indices, each ``(n_batches, batch_size)``, and the sample
    names that the sample indices refer to (VCF order)."""
    with np.load(path) as npz:
        return npz["regions"], npz["samples"], [str(s) for s in npz["sample_names"]]


def remap_samples(samples: np.ndarray, vcf_names: list[str], own_names: list[str]) -> np.ndarray:
    """Translate sample indices in VCF order into a system's own sample order."""
    position = {name: i for i, name in enumerate(own_names)}
    lookup = np.array([position[name] for name in vcf_names], dtype=np.int64)
    return lookup[samples]


def time_call(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Call `fn` once and return its result and the elapsed seconds."""
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


class BatchTimer:
    """Runs whole batches of one configuration, cycling through the shared pool in order."""

    def __init__(self, fetch: Fetch, regions: np.ndarray, samples: np.ndarray) -> None:
        self.fetch, self.regions, self.samples = fetch, regions, samples
        self.cursor = 0
        self.stats: dict[str, list[float]] = {"instances_per_s": [], "mb_per_s": [], "batches": []}

    def run(self, budget_s: float) -> tuple[int, int, float]:
        """Run batches until `budget_s` has passed (at least one); return instances, output
        bytes and elapsed seconds."""
        instances = out_bytes = 0
        t0 = time.perf_counter()
        while True:
            i = self.cursor % len(self.regions)
            out_bytes += nbytes(self.fetch(self.regions[i], self.samples[i]))
            instances += len(self.regions[i])
            self.cursor += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= budget_s:
                return instances, out_bytes, elapsed

    def repeat(self, budget_s: float) -> None:
        """One timed repeat, appended to `stats` (instances/s, MB/s of output, batches)."""
        instances, out_bytes, elapsed = self.run(budget_s)
        self.stats["instances_per_s"].append(instances / elapsed)
        self.stats["mb_per_s"].append(out_bytes / elapsed / 1e6)
        self.stats["batches"].append(instances // len(self.regions[0]))


def measure_iterable(
    make_iter: Callable[[], Any], *, budget_s: float, repeats: int, warmup_batches: int
) -> dict[str, list[float]]:
    """Throughput of iterating a DataLoader: each repeat starts a fresh iterator and consumes
    batches until `budget_s` has passed (at least one batch after `warmup_batches`)."""
    ips, mbps, batches = [], [], []
    for _ in range(repeats):
        it = iter(make_iter())
        for _ in range(warmup_batches):
            next(it)
        instances = out_bytes = n = 0
        t0 = time.perf_counter()
        for batch in it:
            out_bytes += nbytes(batch)
            instances += len(batch[0] if isinstance(batch, (tuple, list)) else batch)
            n += 1
            if time.perf_counter() - t0 >= budget_s:
                break
        elapsed = time.perf_counter() - t0
        ips.append(instances / elapsed)
        mbps.append(out_bytes / elapsed / 1e6)
        batches.append(n)
    return {"instances_per_s": ips, "mb_per_s": mbps, "batches": batches}


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
    regions: np.ndarray,
    samples: np.ndarray,
    fetch_for: Callable[[str, int], Fetch],
) -> dict[str, Any]:
    """The shared body of a "read" action.

    For each (mode, jitter) it times the first batch, saves it at jitter 0 for the agreement
    check, and warms up for ``task["warmup_s"]``. Then ``task["repeats"]`` rounds each run one
    repeat of ``task["budget_s"]`` per configuration, interleaved so that a burst of other
    load on the machine spreads over all configurations instead of landing on one. A budget
    of 0 times exactly one batch per repeat.

    `fetch_for(mode, jitter)` returns a function of (region_idx, sample_idx) arrays, with
    sample indices already in the system's own order.
    """
    timers: dict[tuple[str, int], BatchTimer] = {}
    first_s: dict[tuple[str, int], float] = {}
    for mode in task["modes"]:
        for jitter in task["jitters"]:
            timer = BatchTimer(fetch_for(mode, jitter), regions, samples)
            first, first_s[mode, jitter] = time_call(lambda t=timer: t.fetch(regions[0], samples[0]))
            if jitter == 0:
                np.savez(Path(task["first_dir"]) / f"{mode}.npz", **canonical(mode, first))
            timer.cursor = 1
            if task["warmup_s"] > 0:
                timer.run(task["warmup_s"])
            timers[mode, jitter] = timer
    for _ in range(task["repeats"]):
        for timer in timers.values():
            timer.repeat(task["budget_s"])
    modes: dict[str, Any] = {mode: {} for mode in task["modes"]}
    for (mode, jitter), timer in timers.items():
        modes[mode][str(jitter)] = {"first_batch_s": first_s[mode, jitter], **timer.stats}
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

    def open_with_batches(task: dict[str, Any]) -> tuple[Any, np.ndarray, np.ndarray]:
        ds = system.open(task)
        regions, samples, names = load_batches(task["batches"])
        return ds, regions, remap_samples(samples, names, list(ds.samples))

    def fetcher(ds: Any, mode: str, jitter: int, seed: int) -> Fetch:
        configured = system.configure(ds, mode, jitter, seed)
        return lambda r, s: configured[r, s]

    def write(task: dict[str, Any]) -> dict[str, Any]:
        system.import_library()
        _, write_s = time_call(lambda: system.write(task))
        return {"write_s": write_s, "disk_bytes": dir_bytes(task["dataset"])}

    def start(task: dict[str, Any]) -> dict[str, Any]:
        _, import_s = time_call(system.import_library)
        (ds, regions, samples), open_s = time_call(lambda: open_with_batches(task))
        fetch = fetcher(ds, task["mode"], 0, task["seed"])
        _, first_s = time_call(lambda: fetch(regions[0], samples[0]))
        return {"import_s": import_s, "open_s": open_s, "first_batch_s": first_s}

    def read(task: dict[str, Any]) -> dict[str, Any]:
        ds, regions, samples = open_with_batches(task)
        return read_modes(task, regions, samples, lambda m, j: fetcher(ds, m, j, task["seed"]))

    def loader(task: dict[str, Any]) -> dict[str, Any]:
        import torch

        torch.manual_seed(task["seed"])
        ds = system.configure(system.open(task), task["mode"], task["jitter"], task["seed"])

        def make() -> Any:
            return ds.to_dataloader(batch_size=task["batch_size"], shuffle=True, num_workers=0)

        return measure_iterable(make, budget_s=task["budget_s"], repeats=task["repeats"], warmup_batches=1)

    return {"write": write, "start": start, "read": read, "loader": loader}
