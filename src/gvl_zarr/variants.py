"""`RaggedVariants`: the ALT alleles each haplotype carries in its window.

GenVarLoader's "variants" output kind. Vectorised over the batch's calls (no per-instance
Python): calls are gathered as the haplotype read gathers them, kept where the variant
overlaps [window start, + region_length), and wrapped as `Ragged` rows per haplotype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._chunks import range_index
from ._rows import reverse_rows
from .ragged import Ragged

if TYPE_CHECKING:
    from ._query import StoreData


@dataclass(frozen=True)
class RaggedVariants:
    """Variants of each haplotype, rows of shape (batch, ploidy) in position order.

    start: int32 0-based POS; ilen: int32 len(ALT) - len(REF); var_idxs: int32 rows of the
    store's variant table; alt: `Ragged` of `S1` with one row per variant, in the order of
    start.data (all haplotypes back to back).
    """

    start: Ragged
    ilen: Ragged
    var_idxs: Ragged
    alt: Ragged

    @property
    def shape(self) -> tuple[int, ...]:
        return self.start.shape


def read_variants(
    data: StoreData,
    regions: np.ndarray,
    samples: np.ndarray,
    win_starts: np.ndarray,
    shape: tuple[int, ...],
    rc_neg: bool,
) -> RaggedVariants:
    """Variants of the batch's haplotypes overlapping each window (GenVarLoader 0.43.1's
    rule: POS < window end and POS + len(REF) > window start). With rc_neg, ALT alleles of
    '-' strand regions are reverse-complemented (their order and starts are kept), as
    GenVarLoader does."""
    from ._query import _variant_batch

    v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets, v_ids = _variant_batch(data, regions, samples)
    n, ploidy = call_offsets.shape[:2]
    lo = call_offsets[..., 0].ravel()
    lengths = call_offsets[..., 1].ravel() - lo
    rows = calls[range_index(lo, lengths)].astype(np.int64)
    hap = np.repeat(np.arange(n * ploidy), lengths)
    ws = np.repeat(win_starts, ploidy)[hap]
    pos = v_pos[rows].astype(np.int64)
    keep = (pos < ws + data.length) & (pos + v_ref_len[rows] > ws)
    rows, hap = rows[keep], hap[keep]
    counts = np.bincount(hap, minlength=n * ploidy)
    offsets = np.zeros(n * ploidy + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    a_lo, a_len = alt_offsets[rows], alt_offsets[rows + 1] - alt_offsets[rows]
    alt_bytes = alt[range_index(a_lo, a_len)].view("S1")
    a_off = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(a_len, out=a_off[1:])
    if rc_neg:
        neg_hap = np.repeat(data.r_strand[regions] == -1, ploidy)[hap]
        if neg_hap.any():
            reverse_rows(alt_bytes.view(np.uint8), a_off[:-1][neg_hap], a_len[neg_hap], complement=True)
    ids = v_ids[rows] if len(v_ids) else rows
    lead = (*shape, ploidy)
    return RaggedVariants(
        start=Ragged.from_offsets(v_pos[rows].astype(np.int32), lead, offsets),
        ilen=Ragged.from_offsets((a_len - v_ref_len[rows]).astype(np.int32), lead, offsets),
        var_idxs=Ragged.from_offsets(ids.astype(np.int32), lead, offsets),
        alt=Ragged.from_offsets(alt_bytes, len(rows), a_off),
    )
