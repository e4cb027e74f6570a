"""`AnnotatedHaps`: haplotypes with the variant and reference coordinate of every base."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ragged import Ragged


@dataclass(frozen=True)
class AnnotatedHaps:
    """Haplotypes (`S1`) and, with the same shape (or the same offsets when ragged):

    var_idxs: int32 row of the store's variant table the base comes from, -1 for a
        reference base (the store's numbering, not the VCF's record number);
    ref_coords: int32 0-based reference coordinate the base aligns to (inserted bases carry
        their anchor's position), -1 for padding and positions before the contig start.
    """

    haps: np.ndarray | Ragged
    var_idxs: np.ndarray | Ragged
    ref_coords: np.ndarray | Ragged

    @property
    def shape(self) -> tuple[int, ...]:
        return self.haps.shape
