"""Paged arrays (`_paged.py`): chunks read in place from a buffer of all rows, counted and
evicted by the one cache, their pages handed back once no batch reads them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cyvcf2
import fsspec
import numpy as np
import polars as pl
import pyBigWig
import pytest

import gvl_zarr as gvl
from conftest import COVERAGE, FASTA, TILES, VCF

BUDGET = "128KiB"  # below one batch's chunks: chunks are evicted while a batch reads them


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 28 kit tiles (16 kb) × 64 samples, one BigWig per sample (the kit's 500 bp
    coverage track with per-sample noise): ~60k intervals, 29 chunks per interval array."""
    folder = tmp_path_factory.mktemp("paged")
    samples = cyvcf2.VCF(VCF).samples[:64]
    src = pyBigWig.open(COVERAGE)
    ivs = np.array(src.intervals("22", 16_000_000, 16_550_000))
    src.close()
    paths = []
    for k, sample in enumerate(samples):
        values = ivs[:, 2] * np.random.default_rng([7, k]).lognormal(0, 0.3, len(ivs))
        path = folder / f"{sample}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([("22", 22_000_000)])
        bw.addEntries(["22"] * len(ivs), ivs[:, 0].astype(int).tolist(), ends=ivs[:, 1].astype(int).tolist(),
                      values=values.astype(np.float32).tolist())  # fmt: skip
        bw.close()
        paths.append(str(path))
    table = folder / "bigwigs.csv"
    pl.DataFrame({"sample": samples, "path": paths}).write_csv(table)
    out = folder / "paged.gvl"
    gvl.write(out, TILES, variants=VCF, bigwigs=gvl.BigWigs.from_table("bigwig", table), length=16_384,
              samples=samples, progress=False)  # fmt: skip
    return out


def _open_mapper(store: Path, **settings) -> gvl.Dataset:
    """The store through an fsspec file:// mapper: the path a remote store takes."""
    return gvl.Dataset.open(
        fsspec.get_mapper(f"file://{store}"), reference=FASTA, cache_bytes=BUDGET, preload=False, jitter=0, **settings
    )


def _paged(ds: gvl.Dataset) -> list:
    d = ds._data
    arrays = [d.calls, *(a for t in d.tracks.values() for a in t.intervals.arrays)]
    return [a for a in arrays if a.pages is not None]


def _resident_bytes(buffer: np.ndarray) -> int:
    """Bytes of `buffer` in memory now: pages marked present in /proc/self/pagemap (one
    8-byte entry per page, bit 63 = present)."""
    page = os.sysconf("SC_PAGE_SIZE")
    first, n = buffer.ctypes.data // page, -(-buffer.nbytes // page)
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(first * 8)
        entries = np.frombuffer(f.read(n * 8), np.uint64)
    return int(((entries >> np.uint64(63)) & np.uint64(1)).sum()) * page


def test_paged_reads_equal_local_and_stay_in_budget(store: Path) -> None:
    local = gvl.Dataset.open(store, reference=FASTA, jitter=0)
    paged = _open_mapper(store)
    arrays = _paged(paged)
    assert len(arrays) == 4, "calls and the track's starts, ends and values are paged"
    rng = np.random.default_rng(1)
    for mode in ("haplotypes", "reference"):
        a = local.with_settings(return_sequences=mode, return_tracks="bigwig")
        b = paged.with_settings(return_sequences=mode, return_tracks="bigwig")
        for _ in range(25):
            idx = rng.integers(0, len(a), 16)
            for x, y in zip(a[idx], b[idx], strict=True):
                np.testing.assert_array_equal(x, y)
    cache = paged._data.cache
    info = paged.cache_info()
    assert info["misses"] > len(arrays) * (cache.budget // arrays[0].chunk_nbytes), "the data exceeds the budget"
    held = sum(int(a.pages.loaded.sum()) * a.chunk_nbytes for a in arrays)
    assert 0 < held <= info["nbytes"] <= cache.budget
    for a in arrays:  # evicted chunks' pages were handed back: only loaded chunks are resident
        assert _resident_bytes(a.pages.buffer) <= int(a.pages.loaded.sum()) * a.chunk_nbytes


def test_chunks_evicted_while_read_keep_their_rows_until_the_read_ends(store: Path) -> None:
    ds = _open_mapper(store)
    calls = ds._data.calls
    cache = ds._data.cache
    rows = min(calls.shape[0], 4 * calls.inner[0])
    lo, hi = np.array([0]), np.array([rows])
    want = calls.ranges(lo, hi)[0].copy()  # outside reading(): a copy
    with cache.reading():
        buf, new_lo = calls.ranges(lo, hi)
        assert buf is calls.pages.buffer and new_lo[0] == 0  # in place, rows numbered as stored
        cache.drop(calls._id)  # every chunk evicted now, while it is being read
        assert not calls.pages.loaded.any()
        np.testing.assert_array_equal(buf[:rows], want)
    assert _resident_bytes(calls.pages.buffer) == 0  # released once no one reads


def test_ranges_outside_reading_are_copies(store: Path) -> None:
    ds = _open_mapper(store)
    calls = ds._data.calls
    out, new_lo = calls.ranges(np.array([5]), np.array([50]))
    assert not np.shares_memory(out, calls.pages.buffer)
    with ds._data.cache.reading():
        inside, lo = calls.ranges(np.array([5]), np.array([50]))
    assert lo[0] == 5
    np.testing.assert_array_equal(out[new_lo[0] : new_lo[0] + 45], inside[5:50])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_with_no_pages_and_reads_the_same(store: Path) -> None:
    ds = _open_mapper(store, return_tracks="bigwig")
    batch = np.arange(0, len(ds), 5)
    want = ds[batch]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            before = [int(a.pages.loaded.sum()) for a in _paged(ds)]
            os.write(write, pickle.dumps((before, ds[batch])))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        before, got = pickle.loads(f.read())
    os.waitpid(pid, 0)
    assert before == [0, 0, 0, 0]
    for x, y in zip(got, want, strict=True):
        np.testing.assert_array_equal(x, y)
