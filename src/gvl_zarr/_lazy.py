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
