"""Raw (uncompressed) arrays of a local store, read in place from their memory-mapped shard.

Track intervals are stored raw in one shard per array (docs/format.md). Locally the shard
file is memory-mapped: a batch copies its rows straight out of the page cache with one
kernel call, with no decoding and no private memory beyond the batch (the mapped pages are
file-backed and reclaimable, like any file cache). Each inner chunk's crc32c is checked the
first time a batch touches it in a process.

Why: with a cache smaller than the decoded intervals, reading them chunk by chunk through the
LRU cost ~25 µs of Python per chunk; shuffled 32 × 16 kb track batches on the kit ran at
21k instances/s against GenVarLoader's 73k (its memory-mapped arrays need no decoding).
"""

from __future__ import annotations

import mmap
import os
import threading

import numpy as np

from . import _shutdown
from ._chunks import _EMPTY, FlatArray
from ._kernels.crc32c import TABLES, first_bad_chunk
from ._kernels.gather import gather_chunked_many, plan_ranges


class MappedArray:
    """One raw single-shard FlatArray of a local store, mapped on first use."""

    def __init__(self, arr: FlatArray, background: bool = True) -> None:
        self.arr = arr
        self.background = background
        self._bg_pid = -1
        self.n_chunks = -(-arr.shape[0] // arr.inner[0])
        self._buf: np.ndarray | None = None
        self._chunk_off: np.ndarray | None = None
        self._verified = np.zeros(self.n_chunks, bool)
        self._all_verified = False
        self.typed: np.ndarray | None = None
        """The mapped shard as elements of the array's dtype, where its chunks start on
        element boundaries (raw chunks of 4-byte elements, as written); row r of chunk c is
        typed[row_off[c] + r]."""
        self.row_off = np.zeros(0, np.int64)
        self._lock = threading.Lock()

    @staticmethod
    def usable(arr: FlatArray) -> bool:
        """Raw, local, non-empty and in one shard."""
        return arr.raw and arr._local is not None and arr.shape[0] > 0 and arr.shard[0] >= arr.shape[0]

    def _map(self) -> None:
        arr = self.arr
        (index,) = arr._load_indexes([(arr._id, "index", (0,))])
        path = os.path.join(arr._local, arr._key((0,)))
        with open(path, "rb") as f:
            mem = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        entries = index[: self.n_chunks]
        size = arr._inner_size * arr.dtype.itemsize + 4
        if (
            (entries[:, 0] == _EMPTY).any()
            or (entries[:, 1] != size).any()
            or int(entries[:, 0].max()) + size > len(mem)
        ):
            raise arr._damaged((0,), "has a shard index that does not match its raw chunks", shard=True)
        self._chunk_off = entries[:, 0].astype(np.int64)
        self._buf = np.frombuffer(mem, np.uint8)
        size = arr.dtype.itemsize
        if not (self._chunk_off % size).any():  # chunks on element boundaries: a typed view too
            self.typed = np.frombuffer(mem, arr.dtype, count=len(mem) // size)
            self.row_off = self._chunk_off // size

    @property
    def all_verified(self) -> bool:
        """Mapped, and every chunk's checksum checked in this process's lifetime."""
        return self._all_verified and self._buf is not None

    def ensure_mapped(self) -> None:
        """Map the shard and read its index, once (threads wait for the first)."""
        if self._buf is None:
            with self._lock:
                if self._buf is None:
                    self._map()

    def verify(self, chunks: np.ndarray) -> None:
        """Check the crc32c of chunks `chunks` (sorted ids), each once per process."""
        self.ensure_mapped()
        if self._all_verified:
            return
        if self.background and self._bg_pid != os.getpid():
            self._bg_pid = os.getpid()  # one verifier per process: forked workers start theirs
            _shutdown.start(threading.Thread(target=self._verify_all, daemon=True, name="gvl_zarr-verify"))
        todo = chunks[~self._verified[chunks]]
        if todo.size:
            bad = self._check(todo)
            if bad >= 0:
                raise self.arr._damaged((bad,), "fails its crc32c checksum")
            self._all_verified = bool(self._verified.all())

    def _check(self, ids: np.ndarray) -> int:
        """Verify chunks `ids` and mark them; the first bad one, or -1 (none marked then)."""
        body = self.arr._inner_size * self.arr.dtype.itemsize
        bad = int(first_bad_chunk(self._buf, self._chunk_off, body, ids, TABLES))
        if bad < 0:
            self._verified[ids] = True
        return bad

    def _verify_all(self, step: int = 4096) -> None:
        """Verify every chunk in the background, 32 MiB at a time (the kernel releases the
        GIL), so batches stop paying first-touch checks after one pass over the store instead
        of one pass over its instances. A bad chunk is left for the batch that reads it."""
        for a in range(0, self.n_chunks, step):
            if _shutdown.stopping.is_set():
                return
            ids = np.arange(a, min(a + step, self.n_chunks), dtype=np.int64)
            ids = ids[~self._verified[ids]]
            if ids.size and self._check(ids) >= 0:
                return
        self._all_verified = bool(self._verified.all())


def _checked(arrays: list[MappedArray], lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, int]:
    """(where each range [lo[i], hi[i]) starts once gathered back to back, their rows) after
    checking the ranges lie in the arrays and the chunks they touch pass their checksums.
    The arrays share rows and chunking (`Table`): one plan for all of them."""
    shape0 = arrays[0].arr.shape[0]
    dst_lo = np.empty(len(lo), np.int64)
    total = int(plan_ranges(lo, hi, shape0, dst_lo))
    if total < 0:
        raise arrays[0].arr._damaged((int(hi.max()),), f"is referenced past the array's {shape0} rows")
    if not all(m.all_verified for m in arrays):
        chunks, _ = arrays[0].arr.plan(lo, hi)
        for m in arrays:
            m.verify(chunks)
    return dst_lo, total


def mapped_rows(arrays: list[MappedArray], lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray] | None:
    """The arrays' typed shard views, to read rows [lo[i], hi[i]) in place
    (`_kernels.tracks._expand_rows`, with `row_offsets`) with no gather; None where a shard
    has no typed view. Ranges and checksums are checked as for `mapped_ranges`."""
    _checked(arrays, lo, hi)
    if any(m.typed is None for m in arrays):
        return None
    return [m.typed for m in arrays]


def row_offsets(arrays: list[MappedArray]) -> np.ndarray:
    """(n_arrays, n_chunks) element offsets of the mapped arrays' chunks in their typed views."""
    return np.stack([m.row_off for m in arrays])


def mapped_ranges(arrays: list[MappedArray], lo: np.ndarray, hi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows [lo[i], hi[i]) of each mapped array, back to back in new arrays, and where each
    range starts in them: one gather call for all of them (per-call numpy work was ~40% of a
    128 × 1 kb tracks batch)."""
    dst_lo, total = _checked(arrays, lo, hi)
    outs = [np.empty(total, m.arr.dtype) for m in arrays]
    gather_chunked_many(
        tuple(m._buf for m in arrays),
        tuple(m._chunk_off for m in arrays),
        np.array([m.arr.dtype.itemsize for m in arrays], np.int64),
        arrays[0].arr.inner[0],
        lo,
        hi,
        tuple(o.view(np.uint8) for o in outs),
        dst_lo,
    )
    return outs, dst_lo
