"""Batch samplers over a Dataset's raveled (region, sample) instances: sequential, random or
chunk-aware shuffles, optionally sharded across distributed ranks.

Chunk-aware shuffling follows mosaicml/streaming's block shuffles: reading instances in a
uniformly random order touches a different stored chunk for almost every instance, which on a
remote store is one request each. Instead instances are grouped into *blocks* that share their
chunks (`block` regions × samples of the store); the blocks are drawn in a random order and
every `window` consecutive blocks are pooled and shuffled together. A batch then needs the
chunks of at most `window` blocks, which stay in the chunk cache while the window is read.

The default block follows the store's layout (docs/format.md). Track intervals, most of a
track-reading instance's bytes, lie one sample (file) after another, each sample's regions
back to back: a block of regions of one sample is one byte range per array, and so is every
region of consecutive samples. A block holds as many instances as make ~`TRACK_BLOCK_BYTES`
of each interval array (from the store's mean intervals per instance), at most
`MAX_TRACK_BLOCK`, and no more than let a window take a quarter of the chunk cache's LRU (at
least `MIN_TRACK_BLOCK`): regions of one sample, or all regions of several samples in a
store with fewer regions than that. Without tracks, a block is one chunk of
the genotype offsets, `schema.GRID_INNER` (8 regions × 32 samples), whose calls lie region
by region. Measured with benchmarks/remote.py on 1,000 regions × 256 samples (16 kb, tracks,
20 ms a request): 8 × 32 blocks fetched 420 kB of intervals per instance (32 samples' rows
1 MB apart, merged into whole ranges) at 388 instances/s; blocks of 256 regions × 1 sample
fetched 6.7 kB at 4.8k.

Randomness: the order of an epoch is a pure function of (seed, epoch), drawn with
`numpy.random.default_rng([seed, epoch])`, the same on every rank and in every process.
Each `__iter__` uses the current epoch and then advances it by one, so successive epochs
differ without calling `set_epoch`; `set_epoch(e)` (as with torch's DistributedSampler)
pins the next epoch to `e`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from . import schema
from .errors import SettingsError

if TYPE_CHECKING:
    from .dataset import Dataset

Shuffle = Literal["random", "chunks"] | bool | None

TRACK_BLOCK = (256, 1)
"""Default block (regions, samples) of a track-reading dataset without store arrays to size
it from (see `default_block`)."""

TRACK_BLOCK_BYTES = 1 << 20
"""Bytes of each interval array a default track block aims at: one range request each. A
request costs a round trip and the server's per-request work whatever its size (S3's own
guidance is ranges of several MB). On benchmarks/remote.py (1,000 regions × 256 samples,
~250 intervals an instance, obstore, 1 GiB cache) blocks of 256, 512 and 1,024 regions (0.3,
0.6 and 1.2 MB a range) read 53%, 61% and 64% of local throughput: the batches waited for
the next window 48, 9 and 0 times over 2,000 batches."""

MAX_TRACK_BLOCK = 4096
"""Most instances in a default track block (sparse tracks)."""

MIN_TRACK_BLOCK = 16
"""Fewest instances in a default track block. A window must leave the LRU room for the next
one being fetched: on benchmarks/remote.py with a 64 MiB budget (38 MB of LRU), windows of
16 blocks × 256 regions (17 MB) evicted each other's chunks and the batches fetched 2.2×
the bytes again, at 2,424 instances/s."""


def default_block(dataset: Dataset, window: int = 16) -> tuple[int, int]:
    """A run of regions of one sample, or all regions of consecutive samples, when `dataset`
    reads tracks (sized as the module docstring says), else one genotype offsets chunk."""
    settings = getattr(dataset, "settings", None)
    names = getattr(settings, "return_tracks", None)
    if not names:
        return schema.GRID_INNER
    data = getattr(dataset, "_data", None)
    if data is None:
        return TRACK_BLOCK
    per_instance = 0.0  # interval bytes of one array (4-byte items) per instance, all tracks
    n_regions = len(data.r_start)
    for name in names:
        track = data.tracks[name]
        columns = 1 if track.annotation else len(data.samples)
        per_instance += 4 * track.intervals.arrays[0].shape[0] / max(1, n_regions * columns)
    size = TRACK_BLOCK_BYTES / max(per_instance, 1.0)  # instances
    # a window (`window` blocks, three interval arrays) within a quarter of the LRU
    size = min(size, data.cache.capacity / 4 / (window * 3 * max(per_instance, 1.0)))
    size = 1 << max(0, int(size).bit_length() - 1)  # a power of two, rounding down
    size = int(min(max(size, MIN_TRACK_BLOCK), MAX_TRACK_BLOCK))
    if size <= n_regions:
        return (size, 1)
    # every region of consecutive samples: their intervals follow one another too
    return (n_regions, max(1, size // n_regions))


def _groups(block_of: np.ndarray) -> list[np.ndarray]:
    """Positions of each block id 0..k-1 in `block_of`, in ascending order."""
    order = np.argsort(block_of, kind="stable")
    bounds = np.searchsorted(block_of[order], np.arange(int(block_of.max()) + 2 if block_of.size else 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


class NumberedBatch(NamedTuple):
    """A batch with its place in the epoch, so the dataset can fetch what comes next
    (`InstanceBatchSampler(numbered=True)`; `TorchDataset` unwraps it)."""

    epoch: int
    number: int
    indices: np.ndarray


class InstanceBatchSampler:
    """Yields batches (int64 arrays of raveled dataset indices) covering one epoch.

    Args:
        dataset: the Dataset (its regions and samples, possibly a subset) to sample.
        batch_size: instances per batch.
        shuffle: False/None (dataset order), True or "random" (uniform permutation), or
            "chunks" (chunk-aware block shuffle, see the module docstring).
        seed: seed of every epoch's order.
        block: (regions, samples) of the store per block, for shuffle="chunks"; default
            `default_block(dataset, window)`.
        window: blocks pooled and shuffled together, for shuffle="chunks".
        drop_last: drop the last incomplete batch; when distributed, also drop the batches
            that would give ranks unequal counts (every rank then runs the same number of steps).
        rank, world_size: shard batches across ranks: rank r takes batches r, r + world_size,
            … of the epoch's order, so ranks never overlap and together see one epoch
            (without drop_last, ranks may differ by one batch). Default: one process.
        numbered: yield `NumberedBatch`es (epoch, number, indices) instead of bare index
            arrays; `to_dataloader` uses them to fetch ahead (`upcoming`).
    """

    yields_batches = True

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: Shuffle = False,
        seed: int = 0,
        block: tuple[int, int] | None = None,
        window: int = 16,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        numbered: bool = False,
    ) -> None:
        if shuffle is True:
            shuffle = "random"
        if block is None:
            block = default_block(dataset, window)
        if shuffle not in (False, None, "random", "chunks"):
            raise SettingsError(f"shuffle must be False, True, 'random' or 'chunks', got {shuffle!r}.")
        if batch_size < 1 or window < 1 or min(block) < 1:
            raise SettingsError(f"batch_size, window and block must be positive, got {batch_size}, {window}, {block}.")
        if not 0 <= rank < world_size:
            raise SettingsError(f"rank must be in [0, world_size={world_size}), got {rank}.")
        self.shuffle = shuffle or None
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.window = int(window)
        self.drop_last = drop_last
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        self.numbered = numbered
        self._memo: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}  # this epoch's and the next
        self._n = len(dataset)
        shape = tuple(getattr(dataset, "shape", (self._n,)))
        n_regions, self._n_samples = (shape[0], shape[1]) if len(shape) == 2 else (self._n, 1)
        # block of every instance: store region // block[0], store sample // block[1]; a
        # dataset without a store grid (RefDataset, spliced transcripts) blocks its own indices
        regions = getattr(dataset, "_regions", None)
        samples = getattr(dataset, "_samples", None)
        rb = np.asarray(np.arange(n_regions) if regions is None else regions, np.int64) // block[0]
        sb = np.asarray(np.arange(self._n_samples) if samples is None else samples, np.int64) // block[1]
        _, self._region_block = np.unique(rb, return_inverse=True)
        _, self._sample_block = np.unique(sb, return_inverse=True)

    def set_epoch(self, epoch: int) -> None:
        """Use `epoch`'s order on the next iteration."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """Every instance index once, in `epoch`'s order (identical on every rank)."""
        return self._order(epoch)[0]

    def _order(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(`epoch`'s order, first position of each window in it for shuffle="chunks", with
        the order's length appended); the two latest epochs drawn are kept."""
        got = self._memo.get(epoch)
        if got is None:
            got = self._memo[epoch] = self._draw(epoch)
            while len(self._memo) > 2:  # the two latest drawn: an epoch's and the next one's
                del self._memo[next(iter(self._memo))]
        return got

    def _draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self.shuffle is None:
            return np.arange(self._n, dtype=np.int64), None
        rng = np.random.default_rng([self.seed, epoch])
        if self.shuffle == "random":
            return rng.permutation(self._n).astype(np.int64), None
        # a block is the product of the dataset's regions in one region block and samples in
        # one sample block; no per-instance block array is built
        regions = _groups(self._region_block)
        samples = _groups(self._sample_block)
        drawn = rng.permutation(len(regions) * len(samples))
        out = np.empty(self._n, np.int64)
        starts = []
        pos = 0
        for w in range(0, len(drawn), self.window):
            starts.append(pos)
            members = np.concatenate(
                [
                    (regions[b // len(samples)][:, None] * self._n_samples + samples[b % len(samples)][None, :]).ravel()
                    for b in drawn[w : w + self.window]
                ]
            )
            out[pos : pos + len(members)] = rng.permutation(members)
            pos += len(members)
        return out, np.array([*starts, pos], np.int64)

    def upcoming(self, epoch: int, number: int, stride: int = 1, ahead: int = 1) -> list[tuple[tuple, np.ndarray]]:
        """What to fetch ahead once this rank's batch `number` of `epoch` is being read:
        (key, dataset indices) pairs, soonest first, keys unique. Near the end of an epoch
        the list goes on into the next epoch's order (`epoch + 1`, the one the next pass
        reads unless `set_epoch` pins another), so its first batches do not wait.

        shuffle="chunks": the window of blocks holding the batch and the `ahead` windows
        after it, whole (a window's batches all draw on its blocks' chunks). Otherwise the
        batch and the next `ahead` batches this process reads: every `stride`-th, as
        DataLoader workers take batches in turn. What is being read is listed too, so that
        its chunks count as still needed."""
        order, starts = self._order(epoch)
        if starts is not None:
            pos = (self.rank + number * self.world_size) * self.batch_size
            first = max(int(np.searchsorted(starts, pos, side="right")) - 1, 0)
            n_windows = len(starts) - 1
            last = first + ahead
            out = [
                (("window", epoch, j), order[starts[j] : starts[j + 1]]) for j in range(first, min(last + 1, n_windows))
            ]
            if last >= n_windows:  # near the end: the next epoch's first windows
                following, bounds = self._order(epoch + 1)
                out += [
                    (("window", epoch + 1, j), following[bounds[j] : bounds[j + 1]])
                    for j in range(min(last - n_windows + 1, n_windows))
                ]
            return out
        out = []
        n, this = len(self), number % stride  # this worker takes batches this, this + stride, …
        left = len(range(number, n, stride))  # its batches from `number` to the epoch's end
        for i in range(ahead + 1):
            # past the end: this worker's first batches of the next epoch
            e, k = (epoch, number + i * stride) if i < left else (epoch + 1, this + (i - left) * stride)
            if k >= n:
                break
            g = self.rank + k * self.world_size
            rows = self._order(e)[0]
            out.append((("batch", e, k), rows[g * self.batch_size : (g + 1) * self.batch_size]))
        return out

    def _batches(self, epoch: int) -> list[np.ndarray]:
        order = self.order(epoch)
        n_full = len(order) // self.batch_size
        n = n_full if self.drop_last else -(-len(order) // self.batch_size)
        if self.drop_last and self.world_size > 1:
            n -= n % self.world_size
        batches = [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(n)]
        return batches[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[np.ndarray] | Iterator[NumberedBatch]:
        epoch = self.epoch
        self.epoch += 1
        if not self.numbered:
            yield from self._batches(epoch)
            return
        for k, batch in enumerate(self._batches(epoch)):
            yield NumberedBatch(epoch, k, batch)

    def __len__(self) -> int:
        n = self._n // self.batch_size if self.drop_last else -(-self._n // self.batch_size)
        if self.drop_last and self.world_size > 1:
            n -= n % self.world_size
        return len(range(self.rank, n, self.world_size))
