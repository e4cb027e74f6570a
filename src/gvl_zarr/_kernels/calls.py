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
def walk_calls(genotypes, alt_map, record_lo, record_hi, offsets, counts, variant_index, values, out):
    """One walk of the ALT calls of every (region r, sample s, ploid p): the records
    [record_lo[r], record_hi[r]) whose allele a = genotypes[i, s, p] > 0 has a stored row
    alt_map[i, a] >= 0, in record order. Writes each output given; a None one is pruned
    when numba compiles the call, so each use runs only its own stores:

    - counts[r, s, p]: the number of calls;
    - variant_index[k]: each call's row alt_map[i, a], from k = offsets[r, s, p, 0];
    - out[k] = values[i, s, a - 1]: a per-call FORMAT value, at the same k.

    Counting, the variant rows and each FORMAT field share this walk (and so its call
    order) rather than repeating it per output."""
    n_regions = record_lo.shape[0]
    n_samples = genotypes.shape[1]
    ploidy = genotypes.shape[2]
    for r in numba.prange(n_regions):
        for s in range(n_samples):
            for p in range(ploidy):
                k = 0
                if offsets is not None:
                    k = offsets[r, s, p, 0]
                k0 = k
                for i in range(record_lo[r], record_hi[r]):
                    a = genotypes[i, s, p]
                    if a > 0:
                        v = alt_map[i, a]
                        if v >= 0:
                            if variant_index is not None:
                                variant_index[k] = v
                            if out is not None:
                                out[k] = values[i, s, a - 1]
                            k += 1
                if counts is not None:
                    counts[r, s, p] = k - k0


def sparse_calls(
    genotypes: np.ndarray, alt_map: np.ndarray, record_lo: np.ndarray, record_hi: np.ndarray, base: int
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (region, sample, ploid, 2) from `base`, variant_index) for a block of regions."""
    n_regions = record_lo.shape[0]
    n_samples, ploidy = genotypes.shape[1], genotypes.shape[2]
    counts = np.zeros((n_regions, n_samples, ploidy), np.int64)
    if n_regions and genotypes.shape[0]:
        with _PARALLEL:
            walk_calls(genotypes, alt_map, record_lo, record_hi, None, counts, None, None, None)
    ends = np.cumsum(counts.ravel()).reshape(counts.shape)
    offsets = np.empty((n_regions, n_samples, ploidy, 2), np.int64)
    offsets[..., 1] = ends
    offsets[..., 0] = ends - counts
    total = int(ends.ravel()[-1]) if ends.size else 0
    variant_index = np.empty(total, np.int32)
    if total:
        with _PARALLEL:
            walk_calls(genotypes, alt_map, record_lo, record_hi, offsets, None, variant_index, None, None)
    offsets += base
    return offsets, variant_index


def fill_call_values(
    genotypes: np.ndarray,
    alt_map: np.ndarray,
    record_lo: np.ndarray,
    record_hi: np.ndarray,
    offsets: np.ndarray,
    values: np.ndarray,
    out: np.ndarray,
) -> None:
    """out[k] = values[i, s, a - 1] of each ALT call, in `sparse_calls`' order (offsets local
    to `out`): a per-call FORMAT field parallel to the variant index."""
    with _PARALLEL:  # a parallel launch, as sparse_calls'
        walk_calls(genotypes, alt_map, record_lo, record_hi, offsets, None, None, values, out)
