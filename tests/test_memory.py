"""Bounded memory: random reads of a store ≥ 10× the cache budget keep private memory bounded."""

from __future__ import annotations

from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pytest
import zarr

import gvl_zarr as gvl
from _slow_reference import apply_calls, bigwig_values, fasta_window, haplotype_calls
from conftest import COVERAGE, FASTA, STAT1, TILES, VCF_NORM

LENGTH = 16_384
N_REGIONS = 1_200
BUDGET = 16 << 20


def _rss_anon() -> int:
    """Private (anonymous) resident memory of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def _decoded_bytes(store: Path) -> int:
    total = 0
    stack = [zarr.open_group(store, mode="r")]
    while stack:
        g = stack.pop()
        total += sum(a.nbytes for _, a in g.arrays())
        stack += [sg for _, sg in g.groups()]
    return total


def _track_path(i: int) -> str:
    return STAT1 if i % 2 else COVERAGE


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 overlapping 16 kb windows over the kit's VCF span × all 2,504 samples, with the
    reference and one track stored: ~280 MB decoded, 17× the 16 MiB budget."""
    tiles = pl.read_csv(TILES, separator="\t", has_header=False)
    lo, hi = int(tiles[0, 1]), int(tiles[-1, 2])
    starts = np.linspace(lo, hi - LENGTH, N_REGIONS).round().astype(np.int64)
    bed = pl.DataFrame({"chrom": ["22"] * N_REGIONS, "chromStart": starts, "chromEnd": starts + LENGTH})
    samples = cyvcf2.VCF(VCF_NORM).samples
    path = tmp_path_factory.mktemp("big") / "big.gvl"
    gvl.write(
        path,
        bed,
        variants=VCF_NORM,
        bigwigs=gvl.BigWigs("bw", {s: _track_path(i) for i, s in enumerate(samples)}),
        length=LENGTH,
        reference=FASTA,
        progress=False,
    )
    return path


@pytest.mark.slow
def test_random_reads_keep_private_memory_within_the_budget(big_store: Path) -> None:
    decoded = _decoded_bytes(big_store)
    assert decoded >= 10 * BUDGET, f"store decodes to {decoded / 2**20:.0f} MiB, not 10× the budget"
    ds = gvl.Dataset.open(big_store, cache_bytes=BUDGET, jitter=0)
    rng = np.random.default_rng(7)
    shape = ds.shape

    def batch() -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, shape[0], 32), rng.integers(0, shape[1], 32)

    for _ in range(5):  # compile and warm up
        ds[batch()]
    before = _rss_anon()
    peak = before
    for _ in range(300):
        ds[batch()]
        peak = max(peak, _rss_anon())
        assert ds.cache_info()["nbytes"] <= BUDGET
    info = ds.cache_info()
    assert info["bytes_decoded"] >= 10 * BUDGET, info  # the reads went well past the budget
    # budget + one batch (32 × 2 × 16 kb haplotypes + float32 tracks: 5 MB) + allocator slack
    print(f"RssAnon growth {(peak - before) / 2**20:.1f} MiB, cache {info}")
    assert peak - before <= BUDGET + (32 << 20), f"RssAnon grew {(peak - before) / 2**20:.0f} MiB"


@pytest.mark.slow
def test_reads_under_a_small_budget_equal_unbounded_reads_and_the_slow_reference(big_store: Path) -> None:
    small = gvl.Dataset.open(big_store, cache_bytes=BUDGET, jitter=0)
    large = gvl.Dataset.open(big_store, cache_bytes=1 << 30, jitter=0)
    rng = np.random.default_rng(11)
    for _ in range(40):
        r, s = rng.integers(0, small.n_regions, 32), rng.integers(0, small.n_samples, 32)
        for a, b in zip(small[r, s], large[r, s], strict=True):
            np.testing.assert_array_equal(a, b)
    assert small.cache_info()["nbytes"] <= BUDGET
    bed = small.get_bed()
    for r, s in zip(rng.integers(0, small.n_regions, 3), rng.integers(0, small.n_samples, 3), strict=True):
        haps, tracks = small[int(r), int(s)]
        ws = int(bed["window_start"][int(r)])
        ref = fasta_window(FASTA, "22", ws - 5000, ws + LENGTH + 5000)
        for hap in range(2):
            calls = haplotype_calls(VCF_NORM, small.samples[int(s)], hap, "22", ws - 5000, ws + LENGTH + 5000)
            seq, coords = apply_calls(ref, ws - 5000, calls, ws, LENGTH)
            assert haps[hap].tobytes().decode() == seq, (r, s, hap)
            np.testing.assert_array_equal(tracks[hap], bigwig_values(_track_path(int(s)), "22", coords))


@pytest.mark.slow
def test_workers_forked_while_preloading_read_correctly(big_store: Path) -> None:
    """DataLoader workers forked while the parent's preload thread holds locks and is
    filling buffers neither hang nor read wrong data."""
    torch = pytest.importorskip("torch")
    ds = gvl.Dataset.open(big_store, jitter=0)  # default budget: everything resident
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, len(ds), 16) for _ in range(12)]
    expected = [ds[b] for b in batches[:1]]  # starts the preload thread in this process
    assert ds.cache_info()["reserved"] > 0
    sampler = torch.utils.data.BatchSampler([int(i) for b in batches for i in b], 16, drop_last=False)
    loader = ds.to_dataloader(sampler=sampler, num_workers=2, timeout=120)
    got = list(loader)
    reference = gvl.Dataset.open(big_store, jitter=0, cache_bytes=0)  # nothing resident
    for b, (haps, tracks) in zip(batches, got, strict=True):
        want_haps, want_tracks = reference[b]
        np.testing.assert_array_equal(haps.numpy(), want_haps.view(np.uint8))
        torch.testing.assert_close(tracks, torch.from_numpy(want_tracks))
    np.testing.assert_array_equal(got[0][0].numpy(), expected[0][0].view(np.uint8))


def _mapping_bytes(buf: np.ndarray, field: str) -> int:
    """`field` (kB in /proc/self/smaps) of the mapping holding `buf`'s first byte, in bytes."""
    addr, inside = buf.ctypes.data, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= addr < hi
        elif inside and head == f"{field}:":
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no mapping holds {addr:#x} in /proc/self/smaps")


def test_resident_buffers_are_private_memory() -> None:
    """Resident buffers are private anonymous memory (RssAnon, where the memory tests measure
    it), not shared memory (a shared anonymous map put them in RssShmem); and a forked worker
    that fills one writes only into its own copy."""
    import os

    from gvl_zarr._chunks import _lazy_buffer

    buf = _lazy_buffer((16 << 20,), np.dtype(np.int32))  # 64 MiB of address space
    buf[:] = 7
    # the mapping's own counts (the process's totals move with other tests' threads)
    assert _mapping_bytes(buf, "Anonymous") >= 64 << 20  # a shared map's pages: 0 here
    pid = os.fork()
    if pid == 0:
        buf[:] = 9
        os._exit(0)
    os.waitpid(pid, 0)
    assert (buf == 7).all()
