"""Paged arrays: flat arrays too big to hold whole, whose cached chunks sit in place.

A paged array reserves address space for all of its rows (a private anonymous mapping:
nothing is committed until written) and decodes each chunk it reads into the chunk's own
rows. Kernels then read a batch's rows straight from that buffer with the rows' own
numbers, as they read a resident array: no per-batch gathering. The chunks still belong to
the dataset's one `ChunkCache`, which counts and evicts them with every other chunk; an
evicted chunk's pages are handed back to the kernel (`madvise(MADV_DONTNEED)`), so private
memory stays within the budget.

Why: read chunk by chunk through the LRU, a remote store's batch copied its ~34 chunks of
each interval array out of the cache into one staging array, and looked each up twice:
~30% of the main thread's time in a chunk-aware epoch over an fsspec mapper
(benchmarks/remote.py --mapper, py-spy), where the local store's mapped shards need none.

Handing pages back zeroes them, so it waits until no batch is reading (`ChunkCache.reading`):
a chunk evicted while a batch reads it is only *retired* (marked not loaded: a later batch
fetches it again) and its pages are released once the last reader has left. A read outside
`reading()` gets a copy made inside one.

Requires chunks of whole pages (8 KiB chunks of the interval, calls and reference arrays
are); other arrays are read through the LRU as before.
"""

from __future__ import annotations

import mmap
import sys

import numpy as np

PAGE = mmap.PAGESIZE
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000 if sys.platform.startswith("linux") else 0)


def lazy_map(nbytes: int) -> mmap.mmap:
    """`nbytes` (> 0) of private anonymous memory, committed page by page as written (see
    `_chunks._lazy_buffer`)."""
    mem = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        mem.madvise(mmap.MADV_NOHUGEPAGE)
    return mem


class Pages:
    """The buffer of one paged flat array and the state of its chunks."""

    def __init__(self, n_chunks: int, chunk_rows: int, dtype: np.dtype) -> None:
        self.chunk_rows = chunk_rows
        self.chunk_nbytes = chunk_rows * dtype.itemsize
        self._mem = lazy_map(n_chunks * self.chunk_nbytes)
        self.buffer = np.frombuffer(self._mem, dtype)
        self.loaded = np.zeros(n_chunks, bool)
        """Chunks whose rows are in the buffer and counted in the cache."""
        self.read_tick = np.zeros(n_chunks, np.int64)
        """The cache's tick when each chunk was last read (`ChunkCache.next_tick`)."""
        self.placed_tick = np.zeros(n_chunks, np.int64)
        """The tick when each chunk took its place in the cache's LRU order: a chunk read
        since is moved to the most recent end instead of being evicted (`ChunkCache._evict`),
        so reading in place needs no per-chunk LRU update."""

    @staticmethod
    def usable(chunk_nbytes: int) -> bool:
        return chunk_nbytes > 0 and chunk_nbytes % PAGE == 0

    def view(self, chunk: int) -> np.ndarray:
        """The rows of chunk `chunk` in the buffer."""
        r = self.chunk_rows
        return self.buffer[chunk * r : (chunk + 1) * r]

    def copy(self, needed: np.ndarray) -> np.ndarray:
        """Chunks `needed` (sorted ids) back to back in a new array."""
        if needed.size == 0:
            return np.zeros(0, self.buffer.dtype)
        blocks = self.buffer.reshape(-1, self.chunk_rows)
        return blocks[needed].reshape(-1)

    def release(self, chunks: np.ndarray) -> None:
        """Hand the pages of chunks `chunks` (sorted unique ids, none loaded) back to the
        kernel: one call per run of adjacent chunks."""
        if chunks.size == 0:
            return
        n = self.chunk_nbytes
        breaks = np.flatnonzero(np.diff(chunks) != 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [len(chunks)]])
        for a, b in zip(chunks[starts].tolist(), chunks[ends - 1].tolist(), strict=True):
            self._mem.madvise(mmap.MADV_DONTNEED, a * n, (b - a + 1) * n)

    def forget(self) -> None:
        """In a forked child: nothing is counted in its (fresh) cache, so nothing is loaded;
        the parent's pages are dropped from the child's view."""
        self.loaded[:] = False
        self._mem.madvise(mmap.MADV_DONTNEED, 0, len(self._mem))
