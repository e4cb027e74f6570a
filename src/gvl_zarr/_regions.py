"""Resizing BED regions to fixed-length windows and grouping them for reading."""

from __future__ import annotations

import numpy as np
import polars as pl

STRAND_CODES = {"+": 1, "-": -1, ".": 0}


def resize(bed: pl.DataFrame, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of `length` centred on each region's midpoint: start = mid - length // 2,
    with mid = (chromStart + chromEnd) // 2."""
    mid = (bed["chromStart"].to_numpy() + bed["chromEnd"].to_numpy()) // 2
    start = mid - length // 2
    return start.astype(np.int64), (start + length).astype(np.int64)


def group_spans(
    contigs: np.ndarray, lo: np.ndarray, hi: np.ndarray, max_width: int = 2_000_000, max_gap: int = 0
) -> list[np.ndarray]:
    """Group region indices into runs on one contig whose [lo, hi) spans touch, overlap or lie
    at most `max_gap` apart, each run at most `max_width` wide (a wider region is a run of
    its own), so each run can be read in one query."""
    order = np.lexsort((lo, contigs))
    groups: list[list[int]] = []
    cur_contig, cur_lo, cur_hi = None, 0, 0
    for i in order:
        c, a, b = contigs[i], lo[i], hi[i]
        if groups and c == cur_contig and a <= cur_hi + max_gap and max(b, cur_hi) - cur_lo <= max_width:
            groups[-1].append(int(i))
            cur_hi = max(cur_hi, b)
        else:
            groups.append([int(i)])
            cur_contig, cur_lo, cur_hi = c, a, b
    return [np.asarray(g, np.int64) for g in groups]
