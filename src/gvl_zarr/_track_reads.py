"""Reading a track's BigWigs for a write: query plan, worker processes, bounded results.

The rows a track stores do not depend on how its regions are grouped into queries (each
region's rows are cut out of a query by position), so grouping and task sizes are free
choices made for speed and memory; rows are always produced in file order, then region
order (`write._write_track`).

Decisions, measured on the kit's 2,504 distinct ATAC-shaped BigWigs (~9,300 intervals
over 550 kb each, 2-core machine):

- pyBigWig holds the GIL in `intervals` (its module imports no PyEval_SaveThread), and
  pybigtools' `records` yields a Python tuple per interval too (0.91× pyBigWig's time,
  `benchmarks/bigwig_readers.py`), so threads cannot overlap queries: files are read in
  forked worker processes.
- A query costs ~0.1 ms plus ~0.23 µs per interval returned (28 × 1 kb queries 3.1 ms
  against one 450 kb query 1.6 ms for 12× the intervals), so regions whose spans lie
  closer than `GAP_QUERY_COST_INTERVALS` / density are read by one query.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._chunks import range_index
from ._contigs import require_contig
from ._regions import group_spans
from .readers.bigwig import bw_chroms, open_fast, query

BYTES_PER_QUERIED_ROW = 160
"""Transient bytes per interval a query returns: pyBigWig's Python tuple of three numbers
(~120 B) plus arrays (the numpy decoder needs ~100 B: block, decoded and clipped arrays)."""

DENSITY_HEADROOM = 8
"""Memory is sized for files up to this many times denser (intervals per base) than the
densest of the `DENSITY_PROBES` files sampled, and never for more than one per base."""

DENSITY_PROBES = 8

MIN_ROWS_PER_BP = 1 / 64
"""Rows per base assumed at least (sampled regions may hold no intervals at all)."""

BYTES_PER_ROW = 3 * 20
"""Bytes per stored interval (start, end, value: 20 B) held in flight: in the worker,
pickled, and unpickled in the writer."""

GAP_QUERY_COST_INTERVALS = 400
"""One query costs about as much as converting this many intervals (0.1 ms / 0.23 µs)."""

MAX_WORKERS = 8

Item = tuple[str, str, np.ndarray, np.ndarray]
"""(BigWig path, BED contig, region lo, region hi) of one query."""

Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(starts, ends, values, rows per region) of one query, regions in query order."""


@dataclass(frozen=True)
class Plan:
    """How a track's files are read: queries (region groups) and tasks of (file, query) pairs."""

    groups: list[np.ndarray]
    tasks: list[list[tuple[int, int]]]
    workers: int


def plan(
    paths: Sequence[str],
    contigs: Sequence[str],
    contig_idx: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    budget: int,
) -> Plan:
    """Group regions into queries and (file, query) pairs into tasks within `budget` bytes."""
    workers = _workers(len(paths))
    in_flight = 2 * workers  # running tasks + finished ones waiting to be written
    density = _density(paths, contigs, contig_idx, lo, hi) if len(lo) else 1.0
    # rows per queried base, sized from the densest sampled file with headroom for denser ones
    rows_per_bp = min(1.0, max(DENSITY_HEADROOM * density, MIN_ROWS_PER_BP))
    max_width = max(int(budget // (2 * in_flight * BYTES_PER_QUERIED_ROW * rows_per_bp)), 1)
    task_width = max(int(budget // (2 * in_flight * BYTES_PER_ROW * rows_per_bp)), 1)
    max_gap = min(int(GAP_QUERY_COST_INTERVALS / max(density, 1e-6)), max_width)
    groups = group_spans(contig_idx, lo, hi, max_width=max_width, max_gap=max_gap)
    widths = [int(hi[g].max() - lo[g].min()) for g in groups]
    tasks: list[list[tuple[int, int]]] = [[]]
    used = 0
    for f in range(len(paths)):
        for q, width in enumerate(widths):
            if tasks[-1] and used + width > task_width:
                tasks.append([])
                used = 0
            tasks[-1].append((f, q))
            used += width
    return Plan(groups, [t for t in tasks if t], workers)


def _workers(n_files: int) -> int:
    if not sys.platform.startswith("linux") or n_files < 32:
        return 1  # fork is Linux-only here; a few files are faster read in-process
    if multiprocessing.current_process().daemon:
        return 1  # a dask worker process (daemonic) may not start children
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def _density(paths: Sequence[str], contigs: Sequence[str], contig_idx, lo, hi) -> float:
    """Intervals per base over the first region of up to `DENSITY_PROBES` files spread over `paths`."""
    best = 0.0
    for k in sorted({int(i) for i in np.linspace(0, len(paths) - 1, min(DENSITY_PROBES, len(paths)))}):
        bw = open_fast(paths[k])
        try:
            contig = require_contig(contigs[int(contig_idx[0])], bw_chroms(bw), file=paths[k], what="BED")
            starts = query(bw, contig, int(lo[0]), int(hi[0]))[0]
        finally:
            bw.close()
        best = max(best, len(starts) / max(int(hi[0] - lo[0]), 1))
    return best


def read_items(items: list[Item]) -> list[Rows]:
    """Rows of each query: its intervals cut per region and clipped to it (run in workers)."""
    out: list[Rows] = []
    handles: dict[str, object] = {}
    names: dict[tuple[str, str], str] = {}
    try:
        for path, contig, r_lo, r_hi in items:
            bw = handles.get(path)
            if bw is None:
                for old in handles.values():
                    old.close()
                handles = {path: (bw := open_fast(path))}
            key = (path, contig)
            if key not in names:
                names[key] = require_contig(contig, bw_chroms(bw), file=path, what="BED")
            s, e, v = query(bw, names[key], int(r_lo.min()), int(r_hi.max()))
            # intervals are sorted and disjoint: region i holds rows [i0, i1)
            i0 = np.searchsorted(e, r_lo, side="right")
            counts = np.maximum(np.searchsorted(s, r_hi, side="left") - i0, 0)
            at = range_index(i0, counts)
            out.append(
                (
                    np.maximum(s[at], np.repeat(r_lo, counts)),
                    np.minimum(e[at], np.repeat(r_hi, counts)),
                    v[at],
                    counts,
                )
            )
    finally:
        for bw in handles.values():
            bw.close()
    return out


def run(
    the_plan: Plan, paths: Sequence[str], contigs: Sequence[str], contig_idx, lo, hi
) -> Iterator[tuple[int, int, Rows]]:
    """(file, query, rows) for every pair, in task order; at most 2 × workers tasks in flight."""

    def items(task: list[tuple[int, int]]) -> list[Item]:
        out = []
        for f, q in task:
            g = the_plan.groups[q]
            out.append((paths[f], contigs[int(contig_idx[g[0]])], lo[g], hi[g]))
        return out

    if the_plan.workers <= 1 or len(the_plan.tasks) <= 1:
        for task in the_plan.tasks:
            yield from ((f, q, rows) for (f, q), rows in zip(task, read_items(items(task)), strict=True))
        return
    pool = ProcessPoolExecutor(the_plan.workers, mp_context=multiprocessing.get_context("fork"))
    pending: list[tuple[list[tuple[int, int]], Future]] = []
    try:
        for task in the_plan.tasks:
            pending.append((task, _submit(pool, items(task))))
            if len(pending) >= 2 * the_plan.workers:
                done, fut = pending.pop(0)
                yield from ((f, q, rows) for (f, q), rows in zip(done, fut.result(), strict=True))
        for done, fut in pending:
            yield from ((f, q, rows) for (f, q), rows in zip(done, fut.result(), strict=True))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, items: list[Item]) -> Future:
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock the child; the
        # children only run pyBigWig and numpy (`read_items`), which take no lock the
        # writer's threads (zarr's event loop) could hold.
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        return pool.submit(read_items, items)
