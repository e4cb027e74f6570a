"""Per-haplotype variant counts and lengths of a Dataset's windows, from the stored calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _query
from ._kernels._threads import run_split
from ._kernels.summaries import haplotype_summaries
from .errors import SettingsError

if TYPE_CHECKING:
    from .dataset import Dataset

REGIONS_PER_BATCH = 256
"""Regions summarised per kernel call by `grid`: one shard row of the genotype offsets,
so the calls gathered at once stay bounded whatever the dataset size."""


def instances(ds: Dataset, r_local: np.ndarray, s_local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_variants, haplotype_length), each (B, ploidy), of instances (r_local[i], s_local[i])
    of `ds` (flat, equal lengths), over the same windows (jitter shifts) `ds` reads."""
    data = ds._data
    if not data.has_genotypes:
        raise SettingsError(f"{data.name} was written without variants: it has no per-haplotype summaries.")
    n = len(r_local)
    counts = np.zeros((n, data.ploidy), np.int32)
    lengths = np.zeros((n, data.ploidy), np.int64)
    if n == 0:
        return counts, lengths
    regions = ds._regions[r_local]
    samples = ds._samples[s_local]
    win = data.r_start[regions] + ds._shifts(r_local * ds.n_samples + s_local)
    v_pos, v_ref_len, alt_offsets, _, calls, call_offsets, _ = _query._variant_batch(data, regions, samples)
    run_split(
        haplotype_summaries,
        n,
        counts.nbytes + lengths.nbytes,
        v_pos,
        v_ref_len,
        alt_offsets,
        calls,
        call_offsets,
        win.astype(np.int64),
        data.length,
        counts,
        lengths,
    )
    return counts, lengths


def grid(ds: Dataset, which: int) -> np.ndarray:
    """Summary `which` (0: n_variants, 1: haplotype_length) of every (region, sample) of
    `ds`'s selection, (n_regions, n_samples, ploidy), computed REGIONS_PER_BATCH regions at a time."""
    out = np.empty((ds.n_regions, ds.n_samples, ds.ploidy), np.int32 if which == 0 else np.int64)
    samples = np.arange(ds.n_samples, dtype=np.int64)
    for lo in range(0, ds.n_regions, REGIONS_PER_BATCH):
        r = np.arange(lo, min(lo + REGIONS_PER_BATCH, ds.n_regions), dtype=np.int64)
        rr, ss = np.repeat(r, len(samples)), np.tile(samples, len(r))
        out[r[0] : r[-1] + 1] = instances(ds, rr, ss)[which].reshape(len(r), len(samples), ds.ploidy)
    return out
