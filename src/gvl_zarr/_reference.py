"""Reference windows of a batch's regions: from the store, or from an external FASTA.

Both sources return, for the asked regions, an array holding their windows (each over
`[start - max_jitter, fetch_end)`) and where each starts in it; both decode through the
dataset's `ChunkCache`, so neither holds more than the budget.
"""

from __future__ import annotations

import os
from itertools import count

import numpy as np

from ._cache import ChunkCache
from ._chunks import FlatArray
from .readers.fasta import FastaReader

_ids = count()


class StoreReference:
    """`reference/sequence`, written by `write(..., reference=FASTA)`."""

    def __init__(self, sequence: FlatArray, ref_offsets: np.ndarray) -> None:
        self.sequence = sequence
        self._offsets = ref_offsets

    @property
    def resident(self) -> bool:
        return self.sequence.resident

    def windows(self, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(data, first row of each region's window in it), as `FlatArray.ranges`."""
        return self.sequence.ranges(self._offsets[regions], self._offsets[regions + 1])


class FastaReference:
    """Windows read from a FASTA on first use and kept in the cache, one entry per region.

    The FASTA is reopened in each process: pyfaidx's file handle is not safe to share with
    forked DataLoader workers.
    """

    def __init__(
        self, path: str, contig_names: list[str], r_contig: np.ndarray, starts: np.ndarray, ends: np.ndarray,
        cache: ChunkCache,
    ) -> None:  # fmt: skip
        self.path = path
        self._names = contig_names
        self._r_contig = r_contig
        self._starts = starts
        self._ends = ends
        self._cache = cache
        self._id = next(_ids)
        self._fasta: FastaReader | None = None
        self._pid = -1

    resident = False

    def windows(self, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(windows of `regions` back to back, first row of each)."""
        arrays = self._cache.get_many([(self._id, int(r)) for r in regions], self._load)
        offsets = np.zeros(len(arrays) + 1, np.int64)
        np.cumsum([len(a) for a in arrays], out=offsets[1:])
        return (np.concatenate(arrays) if len(arrays) != 1 else arrays[0]), offsets[:-1]

    def _load(self, keys: list) -> list[np.ndarray]:
        if self._fasta is None or self._pid != os.getpid():
            self._fasta = FastaReader(self.path)
            self._pid = os.getpid()
        out = []
        for _, r in keys:
            name = self._names[int(self._r_contig[r])]
            out.append(self._fasta.window(name, int(self._starts[r]), int(self._ends[r])))
        return out
