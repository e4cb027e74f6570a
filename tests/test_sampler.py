"""Batch samplers: one epoch exactly, seeded orders, chunk-aware blocks, and 2 ranks on gloo."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import gvl_zarr as gvl
from conftest import FASTA
from gvl_zarr.sampler import (
    MAX_TRACK_BLOCK,
    MIN_TRACK_BLOCK,
    TRACK_BLOCK_BYTES,
    InstanceBatchSampler,
    default_block,
)
from gvl_zarr.schema import GRID_INNER


def _epoch(sampler: InstanceBatchSampler) -> np.ndarray:
    return np.concatenate(list(sampler))


@pytest.mark.parametrize("shuffle", [False, "random", "chunks"])
@pytest.mark.parametrize("batch_size", [1, 7, 32])
def test_one_epoch_exactly(ds: gvl.Dataset, shuffle, batch_size: int) -> None:
    sub = ds.subset_to(regions=[3, 1, 20, 7, 9, 27, 12, 15, 11], samples=[5, 0, 2, 3])
    sampler = InstanceBatchSampler(sub, batch_size, shuffle=shuffle, seed=1, block=(2, 2), window=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == -(-len(sub) // batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(len(sub)))


def test_orders_differ_by_seed_and_epoch_and_repeat(ds: gvl.Dataset) -> None:
    for shuffle in ("random", "chunks"):
        a = InstanceBatchSampler(ds, 16, shuffle=shuffle, seed=1, block=(2, 2), window=2)
        e0, e1 = _epoch(a), _epoch(a)  # each iteration advances the epoch
        assert not np.array_equal(e0, e1)
        a.set_epoch(0)
        np.testing.assert_array_equal(_epoch(a), e0)  # a pure function of (seed, epoch)
        b = InstanceBatchSampler(ds, 16, shuffle=shuffle, seed=2, block=(2, 2), window=2)
        assert not np.array_equal(_epoch(b), e0)


def test_chunk_shuffle_keeps_windows_of_blocks_together(ds: gvl.Dataset) -> None:
    """Every run of window × block instances comes from at most `window` blocks."""
    block, window = (4, 2), 3
    sampler = InstanceBatchSampler(ds, 8, shuffle="chunks", seed=3, block=block, window=window)
    order = sampler.order(0)
    r, s = order // ds.n_samples, order % ds.n_samples
    ids = (r // block[0]) * 100 + s // block[1]
    per_block = block[0] * block[1]
    pos = 0
    while pos < len(order):
        blocks = list(dict.fromkeys(ids[pos:].tolist()))[:window]
        n = sum(int((ids == b).sum()) for b in blocks)
        assert set(ids[pos : pos + n].tolist()) == set(blocks)
        assert n <= window * per_block
        pos += n
    # and the order within the epoch is not simply block-major
    assert not np.array_equal(order, np.sort(order))


def test_default_block_follows_the_store_layout(ds: gvl.Dataset) -> None:
    """Reading tracks, a block is a run of regions of one sample (its interval rows lie back
    to back); without tracks, one genotype offsets chunk (8 regions x 32 samples). Each window
    pools exactly its `window` blocks of that shape (the other shape's blocks would not)."""
    assert ds.settings.return_tracks and ds.n_regions > GRID_INNER[0] and ds.n_samples > 2
    window = 2
    for probe, block in ((ds, default_block(ds, window)), (ds.with_settings(return_tracks=False), GRID_INNER)):
        order = _epoch(InstanceBatchSampler(probe, 8, shuffle="chunks", seed=4, window=window))
        r, s = np.divmod(order, ds.n_samples)
        ids = (r // block[0]) * 10_000 + s // block[1]
        pos = 0
        while pos < len(ids):
            blocks = list(dict.fromkeys(ids[pos:].tolist()))[:window]
            n = sum(int((ids == b).sum()) for b in blocks)
            assert set(ids[pos : pos + n].tolist()) == set(blocks)
            pos += n


def test_track_block_follows_interval_density_and_budget(tiles_dataset: Path) -> None:
    """A track block holds about TRACK_BLOCK_BYTES of each interval array (a power of two of
    instances in [MIN_TRACK_BLOCK, MAX_TRACK_BLOCK]), fewer when a window would take over a
    quarter of the cache's LRU: regions of one sample, or all regions of consecutive samples
    when the store has fewer regions (their intervals follow one another). The sampler uses it."""
    big = gvl.Dataset.open(tiles_dataset, cache_bytes="1GiB")
    data = big._data
    n_regions = len(data.r_start)
    per = sum(
        4 * t.intervals.arrays[0].shape[0] / (n_regions * (1 if t.annotation else len(data.samples)))
        for t in (data.tracks[n] for n in big.settings.return_tracks)
    )
    size = min(MAX_TRACK_BLOCK, 1 << (int(TRACK_BLOCK_BYTES / per).bit_length() - 1))
    assert size > n_regions  # 28 tiles, sparse tracks: whole-region blocks of several samples
    assert default_block(big) == (n_regions, size // n_regions)
    window = 16
    for fits, want in ((300, (n_regions, 256 // n_regions)), (MIN_TRACK_BLOCK // 2, (MIN_TRACK_BLOCK, 1))):
        # an LRU a quarter of which holds a window of `fits`-instance blocks
        lru = int(4 * window * 3 * per * fits)
        probe = gvl.Dataset.open(tiles_dataset, cache_bytes=lru)
        probe = gvl.Dataset.open(tiles_dataset, cache_bytes=lru + probe._data.cache.reserved)
        assert default_block(probe, window) == want
    sampler = InstanceBatchSampler(big, 8, shuffle="chunks", window=4)
    assert sampler._sample_block.max() == (len(data.samples) - 1) // default_block(big, 4)[1]


def test_dataloader_shuffle_chunks(ds: gvl.Dataset) -> None:
    probe = ds.with_settings(return_indices=True, return_tracks=False)
    loader = probe.to_dataloader(batch_size=32, shuffle="chunks", seed=5)
    seen = [batch[1].numpy() for batch in loader]
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(len(ds)))
    with pytest.raises(gvl.SettingsError, match="shuffle must be"):
        ds.to_dataloader(batch_size=4, shuffle="blocks")
    with pytest.raises(gvl.SettingsError, match="init_process_group"):
        ds.to_dataloader(batch_size=4, distributed=True)


def test_ranks_split_one_epoch_without_overlap(ds: gvl.Dataset) -> None:
    for drop_last in (False, True):
        samplers = [
            InstanceBatchSampler(ds, 10, shuffle="chunks", drop_last=drop_last, rank=r, world_size=3) for r in range(3)
        ]
        parts = [_epoch(s) for s in samplers]
        union = np.concatenate(parts)
        assert len(np.unique(union)) == len(union)  # no overlap
        if drop_last:
            assert len({len(s) for s in samplers}) == 1  # every rank runs the same number of steps
        else:
            np.testing.assert_array_equal(np.sort(union), np.arange(len(ds)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, store: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        ds = gvl.Dataset.open(store, reference=FASTA, jitter=0, return_indices=True, return_tracks=False)
        loader = ds.to_dataloader(batch_size=8, shuffle="chunks", distributed=True, seed=11)
        epochs = []
        for epoch in range(2):
            loader.sampler.set_epoch(epoch)
            mine = np.concatenate([batch[1].numpy() for batch in loader])
            gathered: list = [None] * world
            dist.all_gather_object(gathered, mine.tolist())
            epochs.append(gathered)
        if rank == 0:
            torch.save(epochs, out)
    finally:
        dist.destroy_process_group()


def test_distributed_two_ranks_gloo(tiles_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "seen.pt"
    mp.spawn(_rank_main, args=(2, _free_port(), str(tiles_dataset), str(out)), nprocs=2, join=True)
    epochs = torch.load(out)
    n = len(gvl.Dataset.open(tiles_dataset, reference=FASTA))
    orders = []
    for ranks in epochs:
        a, b = (np.array(x) for x in ranks)
        assert not set(a.tolist()) & set(b.tolist())  # ranks never overlap
        np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), np.arange(n))  # one epoch exactly
        orders.append(np.concatenate([a, b]))
    assert not np.array_equal(orders[0], orders[1])  # reshuffled by set_epoch
