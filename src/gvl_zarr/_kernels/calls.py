"""Sparse ALT calls per (region, sample, ploid) from dense allele codes (write time)."""

from __future__ import annotations

import threading

import numba
import numpy as np

from ._jit import kernel

_PARALLEL = threading.Lock()
"""One launch of the `parallel=True` kernels at a time per process: numba's workqueue layer
(the one available here) aborts the process ("Terminating: Nested parallel kernel launch
detected") when two threads launch at once, which two partitions of a write on a threaded
dask worker (`processes=False`, or `threads_per_worker > 1`) did. Each launch already uses
every core."""


@kernel(parallel=True)
def count_calls(genotypes, alt_map, record_lo, record_hi, counts):
    """counts[r, s, p] = number of ALT calls among records [record_lo[r], record_hi[r])."""
    n_regions = record_lo.shape[0]
    n_samples = genotypes.shape[1]
    ploidy = genotypes.shape[2]
    for r in numba.prange(n_regions):
        for s in range(n_samples):
            for p in range(ploidy):
                n = 0
                for i in range(record_lo[r], record_hi[r]):
                    a = genotypes[i, s, p]
                    if a > 0 and alt_map[i, a] >= 0:
                        n += 1
                counts[r, s, p] = n


@kernel(parallel=True)
def fill_calls(genotypes, alt_map, record_lo, record_hi, offsets, variant_index):
    """Write the variant row of each ALT call at offsets[r, s, p, 0] onwards."""
    n_regions = record_lo.shape[0]
    n_samples = genotypes.shape[1]
    ploidy = genotypes.shape[2]
    for r in numba.prange(n_regions):
        for s in range(n_samples):
            for p in range(ploidy):
                k = offsets[r, s, p, 0]
                for i in range(record_lo[r], record_hi[r]):
                    a = genotypes[i, s, p]
                    if a > 0:
                        v = alt_map[i, a]
                        if v >= 0:
                            variant_index[k] = v
                            k += 1


@kernel(parallel=True)
def fill_call_values(genotypes, alt_map, record_lo, record_hi, offsets, values, out):
    """out[k] = values[i, s, a - 1] of each ALT call, in `fill_calls`' order (offsets local
    to `out`): a per-call FORMAT field parallel to the variant index."""
    n_regions = record_lo.shape[0]
    n_samples = genotypes.shape[1]
    ploidy = genotypes.shape[2]
    for r in numba.prange(n_regions):
        for s in range(n_samples):
            for p in range(ploidy):
                k = offsets[r, s, p, 0]
                for i in range(record_lo[r], record_hi[r]):
                    a = genotypes[i, s, p]
                    if a > 0 and alt_map[i, a] >= 0:
                        out[k] = values[i, s, a - 1]
                        k += 1


def sparse_calls(
    genotypes: np.ndarray, alt_map: np.ndarray, record_lo: np.ndarray, record_hi: np.ndarray, base: int
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (region, sample, ploid, 2) from `base`, variant_index) for a block of regions."""
    n_regions = record_lo.shape[0]
    n_samples, ploidy = genotypes.shape[1], genotypes.shape[2]
    counts = np.zeros((n_regions, n_samples, ploidy), np.int64)
    if n_regions and genotypes.shape[0]:
        with _PARALLEL:
            count_calls(genotypes, alt_map, record_lo, record_hi, counts)
    ends = np.cumsum(counts.ravel()).reshape(counts.shape)
    offsets = np.empty((n_regions, n_samples, ploidy, 2), np.int64)
    offsets[..., 1] = ends
    offsets[..., 0] = ends - counts
    total = int(ends.ravel()[-1]) if ends.size else 0
    variant_index = np.empty(total, np.int32)
    if total:
        with _PARALLEL:
            fill_calls(genotypes, alt_map, record_lo, record_hi, offsets, variant_index)
    offsets += base
    return offsets, variant_index
