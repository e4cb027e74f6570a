"""One normaliser for every index form → (region indices, sample indices, batch shape).

Indexing follows NumPy on a virtual (n_regions, n_samples) array: a single key indexes
the raveled, region-major instances; two keys index regions and samples, where ints
drop an axis, slices are orthogonal and two arrays broadcast pointwise. The batch
shape is the shape NumPy would give; `()` means a single instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DatasetIndexError


def _component(key: Any, n: int, axis: str) -> tuple[np.ndarray, bool]:
    """Indices for one axis and whether it is a slice (orthogonal)."""
    if isinstance(key, np.ndarray) and key.dtype == np.int64 and key.size:
        # the DataLoader's form: one reduction, no copies (negatives wrap past n as uint64)
        if int(key.view(np.uint64).max()) < n:
            return key, False
    elif isinstance(key, np.ndarray) and key.dtype.kind in "iu" and key.size:
        lo, hi = int(key.min()), int(key.max())
        if lo >= 0 and hi < n:
            return key.astype(np.int64, copy=False), False
    if isinstance(key, slice):
        return np.arange(n, dtype=np.int64)[key], True
    if key is None or key is Ellipsis:
        return np.arange(n, dtype=np.int64), True
    arr = np.asarray(key)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise DatasetIndexError(f"boolean mask over {axis} must have length {n}, got shape {arr.shape}.")
        return np.flatnonzero(arr).astype(np.int64), False
    if not np.issubdtype(arr.dtype, np.integer):
        raise DatasetIndexError(
            f"{axis} index must be int, slice, int array or boolean mask, got {arr.dtype} ({key!r:.60})."
        )
    arr = arr.astype(np.int64)
    if arr.size and (arr.max() >= n or arr.min() < -n):
        bad = int(arr.max() if arr.max() >= n else arr.min())
        raise DatasetIndexError(f"{axis} index {bad} is out of range for {n} {axis}.")
    return np.where(arr < 0, arr + n, arr), False


def normalize(key: Any, n_regions: int, n_samples: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Return flat region and sample indices (same length) and the batch shape."""
    if isinstance(key, tuple) and len(key) == 1:
        key = key[0]
    if not isinstance(key, tuple):
        flat, _ = _component(key, n_regions * n_samples, "instances")
        return flat.ravel() // n_samples, flat.ravel() % n_samples, flat.shape
    if len(key) != 2:
        raise DatasetIndexError(f"index with at most 2 keys (regions, samples), got {len(key)}.")
    r, r_slice = _component(key[0], n_regions, "regions")
    s, s_slice = _component(key[1], n_samples, "samples")
    if r_slice and s_slice:
        shape = (len(r), len(s))
        rr, ss = np.meshgrid(r, s, indexing="ij")
    elif r_slice:
        shape = (len(r), *s.shape)
        rr = np.broadcast_to(r.reshape(-1, *([1] * s.ndim)), shape)
        ss = np.broadcast_to(s, shape)
    elif s_slice:
        shape = (*r.shape, len(s))
        rr = np.broadcast_to(r.reshape(*r.shape, 1), shape)
        ss = np.broadcast_to(s, shape)
    elif r.shape == s.shape:
        rr, ss, shape = r, s, r.shape
    else:
        try:
            rr, ss = np.broadcast_arrays(r, s)
        except ValueError:
            raise DatasetIndexError(
                f"region and sample index arrays must broadcast, got shapes {r.shape} and {s.shape}."
            ) from None
        shape = rr.shape
    if rr.ndim == 1 and rr.flags.c_contiguous and ss.flags.c_contiguous:
        return rr, ss, shape
    return np.ascontiguousarray(rr).ravel(), np.ascontiguousarray(ss).ravel(), shape
