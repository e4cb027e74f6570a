"""Decoded-chunk caches return what zarr holds, loading only the chunks asked for."""

from __future__ import annotations

import numpy as np
import zarr

from gvl_zarr._lazy import LazyFlatArray, LazyGridArray


def test_grid_take_matches_zarr(tmp_path) -> None:
    data = np.arange(11 * 13 * 2, dtype=np.int64).reshape(11, 13, 2)
    arr = zarr.create_array(
        zarr.storage.LocalStore(tmp_path / "g.zarr"), shape=data.shape, chunks=(3, 4, 2), dtype=data.dtype
    )
    arr[...] = data
    lazy = LazyGridArray(arr)
    r, s = np.array([0, 10, 4]), np.array([12, 0, 5])
    np.testing.assert_array_equal(lazy.take(r, s), data[r, s])
    assert lazy._loaded.sum() == 3  # one chunk per pair, nothing else decoded
    rng = np.random.default_rng(0)
    for _ in range(20):
        r, s = rng.integers(0, 11, 7), rng.integers(0, 13, 7)
        np.testing.assert_array_equal(lazy.take(r, s), data[r, s])
    np.testing.assert_array_equal(lazy.load_all(), data)


def test_flat_ensure_matches_zarr(tmp_path) -> None:
    data = np.arange(1000, dtype=np.int32)
    arr = zarr.create_array(
        zarr.storage.LocalStore(tmp_path / "f.zarr"), shape=data.shape, chunks=(64,), dtype=data.dtype
    )
    arr[...] = data
    lazy = LazyFlatArray(arr)
    buf = lazy.ensure(np.array([10, 500]), np.array([20, 700]))
    np.testing.assert_array_equal(buf[10:20], data[10:20])
    np.testing.assert_array_equal(buf[500:700], data[500:700])
    assert lazy._loaded.sum() == 1 + 4  # chunk 0, and chunks 7-10 for rows 500-699
    np.testing.assert_array_equal(lazy.load_all(), data)
