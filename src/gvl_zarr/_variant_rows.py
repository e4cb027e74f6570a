"""Variant rows of consecutive region groups without storing a shared record twice.

Groups of regions are read one query each (`write._write_genotypes`); neighbouring groups'
queries overlap, so a record near their boundary comes back in both. `RowMap` gives each
record one set of variant rows for the whole store: a record the previous query returned
keeps that query's rows. The stored variant table is then the same however the regions
are grouped (tested: a write split into small groups by `max_mem` equals the default).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from .readers.base import VariantBlock


class RowMap:
    """Global variant rows for the blocks of one contig after another."""

    def __init__(self) -> None:
        self.n_variants = 0
        self._contig: Hashable | None = None
        self._query_end = 0
        self._prev: dict[tuple, np.ndarray] = {}  # record key -> its global alt map row

    def add(self, contig: Hashable, query_end: int, block: VariantBlock) -> tuple[np.ndarray, np.ndarray]:
        """(global alt map of every record, local variant rows to store, in order) of `block`."""
        if contig != self._contig:
            self._contig, self._prev = contig, {}
        amap = block.record_alt_map
        out = np.full(amap.shape, -1, np.int64)
        keep: list[int] = []
        seen: dict[tuple, int] = {}
        current: dict[tuple, np.ndarray] = {}
        for i in range(len(block.record_pos)):
            key = self._key(block, i, seen)
            old = self._prev.get(key) if block.record_pos[i] < self._query_end else None
            if old is not None:
                out[i, : old.shape[0]] = old[: amap.shape[1]]
            else:
                rows = amap[i][amap[i] >= 0]
                out[i, amap[i] >= 0] = self.n_variants + np.arange(rows.size)
                self.n_variants += rows.size
                keep.extend(rows.tolist())
            current[key] = out[i]
        self._prev, self._query_end = current, query_end
        return out, np.asarray(keep, np.int64)

    @staticmethod
    def _key(block: VariantBlock, i: int, seen: dict[tuple, int]) -> tuple:
        """(pos, variant alleles, occurrence) of record i: identical records stay distinct."""
        amap = block.record_alt_map[i]
        alleles = tuple((int(k), block.ref[r], block.alt[r]) for k, r in enumerate(amap) if r >= 0)
        base = (int(block.record_pos[i]), int(block.record_ref_len[i]), alleles)
        n = seen.get(base, 0)
        seen[base] = n + 1
        return (*base, n)
