"""Fetch what the next batches need in the background, while the current ones are read.

On a remote store a batch otherwise waits for several dependent round trips: genotype
offsets → calls → variant rows → ALT bytes, and track offsets → intervals. The DataLoader's
sampler knows the epoch's order, so `to_dataloader` hands each batch its place in it
(`sampler.NumberedBatch`) and the dataset asks its `Prefetcher` for what comes next
(`InstanceBatchSampler.upcoming`: the next window of blocks for shuffle="chunks", this
worker's next batches otherwise). One thread per process and store loads those instances'
chunks into the chunk cache (`warm`), in a few concurrent waves: offsets grids, the
variant table and reference windows; then every calls and track-interval chunk their rows
span; then variant rows and ALT bytes when the variant table is not resident. Adjacent
chunks of a shard are fetched as one request (`_chunks.coalesce`).

Memory: a task may take at most `limit` bytes of the LRU (`Dataset.prefetch`: its
capacity over the number of tasks submitted, at least 2); a task needing more is split in
halves, and what still does not fit is left to the batches. The cache makes room before a fetch and counts it in
flight (`ChunkCache.claim`), so held plus in-flight chunks never pass the budget. `task_bytes`
(the largest task loaded) lets `Dataset.prefetch` list no more tasks than the budget holds.

Lifetime: the thread holds the store data only weakly; it ends when the dataset is
garbage collected, closed (`close`) or the interpreter exits. A forked DataLoader worker
starts its own thread on its first request (the parent's does not exist in the child).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _shutdown
from ._chunks import FlatArray, GridArray, prefetch_chunks, range_index
from ._reference import StoreReference

if TYPE_CHECKING:
    from ._query import StoreData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Needs:
    """Which parts of the store the dataset's settings read."""

    genotypes: bool
    reference: bool
    tracks: tuple[str, ...]


@dataclass
class Task:
    key: Any
    regions: np.ndarray  # store rows
    samples: np.ndarray  # store columns
    needs: Needs
    limit: int
    number: int = -1  # order of fetching, set when it starts


class Prefetcher:
    """A background thread loading queued `Task`s into one store's chunk cache.

    `submit` replaces what is queued with the tasks given that were not started yet: tasks
    for batches already read are dropped. `loaded`, `skipped` and `failed` count tasks."""

    def __init__(self, data: StoreData) -> None:
        self._data = weakref.ref(data)
        self._pid = -1
        self._finalizer = weakref.finalize(data, self.close, join=False)
        self.loaded = self.skipped = self.failed = 0
        self.task_bytes = 0
        """LRU bytes the largest task loaded so far needed (0: none yet): `Dataset.prefetch`
        lists no more tasks than the budget holds at this size."""

    def _start(self) -> None:
        """Fresh state and thread in this process (a forked child inherits no thread, and
        possibly a condition held by the parent's)."""
        self._cond = threading.Condition()
        self._queue: deque[Task] = deque()
        self._seen: dict[Any, int] = {}  # key -> task number (-1 until started)
        self._count = 0
        self._stop = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="gvl_zarr-prefetch")
        self._pid = os.getpid()
        _shutdown.start(self._thread)

    def submit(self, tasks: list[Task]) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._cond:
            if self._stop:
                return
            started = [self._seen[t.key] for t in tasks if self._seen.get(t.key, -1) >= 0]
            self._queue = deque(t for t in tasks if self._seen.get(t.key, -1) < 0)
            for t in self._queue:
                self._seen[t.key] = -1
            while len(self._seen) > 4096:  # keys of long-finished tasks
                del self._seen[next(iter(self._seen))]
            self._cond.notify()
        # chunks of tasks no longer ahead that were never read may be evicted first
        data = self._data()
        if data is not None:
            data.cache.stale_before(min(started, default=self._count))

    def idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or being fetched; whether it got there in time."""
        if self._pid != os.getpid():
            return True
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, join: bool = True) -> None:
        """Stop the thread (after the task in progress)."""
        if self._pid != os.getpid():
            return
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify_all()
        if join and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._queue or self._stop or _shutdown.stopping.is_set(), timeout=0.5)
                if self._stop or _shutdown.stopping.is_set():
                    return
                if not self._queue:
                    continue
                task = self._queue.popleft()
                task.number = self._seen[task.key] = self._count
                self._count += 1
                self._busy = True
            data = self._data()
            if data is None:
                return
            try:
                if warm_split(data, task, self):
                    self.loaded += 1
                else:
                    self.skipped += 1
            except Exception as exc:  # the batch that needs the chunk raises, naming it
                self.failed += 1
                log.debug("prefetch of %s failed: %s", task.key, exc, exc_info=True)
            del data


def warm_split(data: StoreData, task: Task, prefetcher: Prefetcher | None = None) -> bool:
    """`warm` the task's instances, halving them while they need more than its limit; False
    when some were left out (the batches fetch those themselves)."""
    pieces = [(task.regions, task.samples)]
    budget = task.limit
    for _ in range(64):  # each try costs a pass over the offsets: give up on a task this big
        if not pieces:
            if prefetcher is not None and budget < task.limit:
                prefetcher.task_bytes = max(prefetcher.task_bytes, task.limit - budget)
            return True
        regions, samples = pieces.pop(0)
        used = warm(data, regions, samples, task.needs, budget, task.number)
        if used is not None:
            budget -= used
        elif len(regions) > 1 and budget >= task.limit // 4:
            half = len(regions) // 2
            pieces[:0] = [(regions[:half], samples[:half]), (regions[half:], samples[half:])]
        else:
            return False  # the rest does not fit: its batches fetch it themselves
    return not pieces


def _grid(arr: GridArray, regions: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Inner-grid coords of the chunks holding (regions[i], samples[i])."""
    codes = np.unique((regions // arr.inner[0]) * (1 << 32) + samples // arr.inner[1])
    coords = np.zeros((len(codes), len(arr.shape)), np.int64)
    coords[:, 0], coords[:, 1] = codes >> 32, codes & ((1 << 32) - 1)
    return coords


def _rows(arr: FlatArray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return arr.plan(np.asarray(lo, np.int64).ravel(), np.asarray(hi, np.int64).ravel())[0][:, None]


def _every(arr: FlatArray) -> np.ndarray:
    return np.arange(-(-arr.shape[0] // arr.inner[0]), dtype=np.int64)[:, None]


def warm(
    data: StoreData, regions: np.ndarray, samples: np.ndarray, needs: Needs, limit: int, task: int = 0
) -> int | None:
    """Load what reading these (region, sample) store instances needs into the cache; the
    LRU bytes fetched, or None (nothing more fetched) once a wave would take over `limit`."""
    used = 0

    def wave(items: list[tuple[Any, np.ndarray]]) -> bool:
        nonlocal used
        fetched, nbytes = prefetch_chunks(items, limit - used, task)
        used += nbytes if fetched else 0
        return fetched

    tracks = [data.tracks[name] for name in needs.tracks]
    first: list[tuple[Any, np.ndarray]] = []
    if needs.genotypes and data.has_genotypes:
        first.append((data.call_offsets, _grid(data.call_offsets, regions, samples)))
        if data.v_pos.resident:
            first += [(a, _every(a)) for a in (data.v_pos, data.v_ref_len, data.alt_offsets, data.alt)]
    for tr in tracks:
        first.append((tr.offsets, _grid(tr.offsets, regions, np.zeros_like(samples) if tr.annotation else samples)))
    if needs.reference and isinstance(data.ref, StoreReference):
        unique = np.unique(regions)
        first.append(
            (data.ref.sequence, _rows(data.ref.sequence, data.ref_offsets[unique], data.ref_offsets[unique + 1]))
        )
    if not wave(first):
        return None

    second: list[tuple[Any, np.ndarray]] = []
    if needs.genotypes and data.has_genotypes:
        bounds = data.call_offsets.take(regions, samples)
        lo, hi = bounds[..., 0].ravel(), bounds[..., 1].ravel()
        second.append((data.calls, _rows(data.calls, lo, hi)))
    for tr in tracks:
        if tr.intervals.mapped is not None:
            continue
        offs = tr.offsets.take(regions, np.zeros_like(samples) if tr.annotation else samples)
        ids = _rows(tr.intervals.arrays[0], offs[:, 0], offs[:, 1])
        second += [(a, ids) for a in tr.intervals.arrays]
    if not wave(second):
        return None

    if needs.genotypes and data.has_genotypes and not data.v_pos.resident:
        calls, new_lo = data.calls.ranges(lo, hi)
        rows = np.unique(calls[range_index(new_lo, hi - lo)]).astype(np.int64)
        if rows.size:
            ends = np.stack([rows, rows + 1]).ravel()
            third = [
                (data.v_pos, np.unique(rows // data.v_pos.inner[0])[:, None]),
                (data.v_ref_len, np.unique(rows // data.v_ref_len.inner[0])[:, None]),
                (data.alt_offsets, np.unique(ends // data.alt_offsets.inner[0])[:, None]),
            ]
            if not wave(third):
                return None
            alt_bounds = data.alt_offsets.take(np.stack([rows, rows + 1]))
            if not wave([(data.alt, _rows(data.alt, alt_bounds[0], alt_bounds[1]))]):
                return None
    return used
