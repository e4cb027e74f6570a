"""Decoded-chunk cache for the flat ragged arrays of a store.

The whole array gets a virtual buffer (`np.empty`: pages are only committed when
written), chunks are decoded into it on first use, in coalesced runs, and stay.
Kernels then read the buffer directly with the stored offsets: no per-batch copy.
"""

from __future__ import annotations

import threading

import numpy as np


class LazyFlatArray:
    """A 1-D zarr array read chunk by chunk into one resident numpy buffer."""

    def __init__(self, array) -> None:
        self._array = array
        self.size = int(array.shape[0])
        self.chunk = int(array.chunks[0]) if self.size else 1
        self.buffer = np.empty(self.size, array.dtype)
        self._loaded = np.zeros(-(-self.size // self.chunk), bool)
        self._complete = self.size == 0
        self._lock = threading.Lock()

    def ensure(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Make rows [starts, ends) resident; return the buffer."""
        if self._complete:
            return self.buffer
        starts = np.asarray(starts).ravel()
        ends = np.asarray(ends).ravel()
        nonempty = ends > starts
        if not nonempty.any():
            return self.buffer
        first = starts[nonempty] // self.chunk
        last = (ends[nonempty] - 1) // self.chunk
        span = last - first
        if span.max() == 0:
            needed = np.unique(first)
        else:
            needed = np.unique(np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last, strict=True)]))
        missing = needed[~self._loaded[needed]]
        if missing.size:
            with self._lock:
                self._load(missing[~self._loaded[missing]])
        return self.buffer

    def load_all(self) -> np.ndarray:
        """Decode every chunk (one read)."""
        if not self._complete:
            with self._lock:
                self._load(np.flatnonzero(~self._loaded))
        return self.buffer

    def _load(self, chunks: np.ndarray) -> None:
        if chunks.size == 0:
            return
        breaks = np.flatnonzero(np.diff(chunks) != 1) + 1
        for run in np.split(chunks, breaks):
            lo = int(run[0]) * self.chunk
            hi = min(int(run[-1] + 1) * self.chunk, self.size)
            self.buffer[lo:hi] = self._array[lo:hi]
            self._loaded[run] = True
        self._complete = bool(self._loaded.all())


class LazyGridArray:
    """A (region, sample, ...) zarr array decoded chunk by chunk into one resident buffer.

    Opening a dataset no longer reads every offset (regions × samples × …, hundreds of MB for
    large stores): a batch decodes only the chunks its (region, sample) pairs fall in.
    """

    def __init__(self, array) -> None:
        self._array = array
        self.shape = tuple(int(n) for n in array.shape)
        self.chunks = tuple(int(c) for c in array.chunks[:2])
        self.buffer = np.empty(self.shape, array.dtype)
        grid = tuple(-(-n // c) if n else 0 for n, c in zip(self.shape[:2], self.chunks, strict=True))
        self._loaded = np.zeros(grid, bool)
        self._complete = self._loaded.size == 0
        self._lock = threading.Lock()

    def take(self, regions: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """buffer[regions, samples], decoding the chunks they need first (a copy)."""
        if not self._complete:
            cr = regions // self.chunks[0]
            cs = samples // self.chunks[1]
            if not self._loaded[cr, cs].all():
                with self._lock:
                    pairs = np.unique(np.stack([cr, cs], axis=1), axis=0)
                    for i, j in pairs:
                        if not self._loaded[i, j]:
                            self._load(int(i), int(j))
                    self._complete = bool(self._loaded.all())
        return self.buffer[regions, samples]

    def load_all(self) -> np.ndarray:
        """Decode everything (one read)."""
        if not self._complete:
            with self._lock:
                self.buffer[...] = self._array[...]
                self._loaded[...] = True
                self._complete = True
        return self.buffer

    def _load(self, i: int, j: int) -> None:
        r0, s0 = i * self.chunks[0], j * self.chunks[1]
        sl = (slice(r0, min(r0 + self.chunks[0], self.shape[0])), slice(s0, min(s0 + self.chunks[1], self.shape[1])))
        self.buffer[sl] = self._array[sl]
        self._loaded[i, j] = True
