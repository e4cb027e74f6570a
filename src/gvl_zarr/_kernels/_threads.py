"""Splitting a batch over threads for nogil kernels.

numba's own `parallel=True` cost 60–300 µs per call on this 2-core machine (workqueue
layer), more than a whole 32 × 16 kb haplotype batch now takes (~50 µs), so read kernels
are serial over a [lo, hi) slice of the batch and large batches are split over a small
persistent thread pool instead.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_MIN_BYTES_PER_THREAD = 1 << 22
"""Below ~4 MB of output per thread, one thread is faster than handing work over. Measured
on 2 cores: 128 × 16 kb haplotypes + tracks (20 MB) 96k → 138k instances/s on 2 threads;
128 × 16 kb haplotypes alone (4 MB) 338k → 288k; 32 × 16 kb reference (0.5 MB) 609k → 210k."""

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


_cpus: tuple[int, int] | None = None  # (pid, usable CPUs): sched_getaffinity costs ~1 µs a batch


def n_threads() -> int:
    """Threads used per read: $GVL_ZARR_THREADS, else the CPUs this process may use (≤ 8)."""
    global _cpus
    env = os.environ.get("GVL_ZARR_THREADS")
    if env:
        return max(1, int(env))
    if _cpus is None or _cpus[0] != os.getpid():
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        _cpus = (os.getpid(), max(1, min(8, n)))
    return _cpus[1]


def _get_pool(threads: int) -> ThreadPoolExecutor:
    """A pool per process: threads do not survive fork (DataLoader workers)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid() or _pool._max_workers < threads:
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gvl_zarr")
        _pool_pid = os.getpid()
    return _pool


def run_split(kernel: Callable[..., Any], n_items: int, out_bytes: int, *args: Any) -> None:
    """Call kernel(*args, lo, hi) over [0, n_items), in parallel slices when worthwhile."""
    threads = out_bytes // _MIN_BYTES_PER_THREAD  # ~2 µs a batch less than n_threads() first
    if threads > 1:
        threads = min(n_threads(), n_items, threads)
    if threads <= 1:
        kernel(*args, 0, n_items)
        return
    bounds = [n_items * i // threads for i in range(threads + 1)]
    pool = _get_pool(threads)
    futures = [pool.submit(kernel, *args, lo, hi) for lo, hi in itertools.pairwise(bounds[1:])]
    kernel(*args, bounds[0], bounds[1])
    for f in futures:
        f.result()
