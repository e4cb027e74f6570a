"""Per-haplotype variant counts and lengths from the stored calls, without building sequences."""

from __future__ import annotations

from ._jit import kernel
from .haplotypes import _hap_length


@kernel
def haplotype_summaries(
    v_pos, v_ref_len, alt_offsets, variant_index, call_offsets, win_starts, length, n_variants, lengths, b_lo, b_hi
):
    """n_variants[b, p] and lengths[b, p] of the window [win_starts[b], win_starts[b] + length).

    One walk of the calls by `haplotypes._hap_length`, which follows the rules of
    `haplotypes._walk` (first wins among overlapping calls, except an indel anchored on
    the previous call's last base, applied without that anchor), so the lengths are the
    ones the haplotype kernel produces:

    - n_variants counts the applied calls whose REF span [pos, pos + len(REF)) overlaps the
      window (an insertion anchored on the base before the window does not);
    - lengths is the number of personal bases aligned to a reference base inside the
      window: `length` minus the REF bases the applied calls replace inside it plus the
      ALT bases aligned (by `_ref_index`, as the walk aligns them) inside it. This is the
      length `bcftools consensus` gives the window (its chain maps the window's start and
      end to personal coordinates h0, h1; lengths = h1 - h0).
    """
    for b in range(b_lo, b_hi):
        for p in range(call_offsets.shape[1]):
            lengths[b, p], n_variants[b, p] = _hap_length(
                v_pos,
                v_ref_len,
                alt_offsets,
                variant_index,
                call_offsets[b, p, 0],
                call_offsets[b, p, 1],
                win_starts[b],
                win_starts[b] + length,
            )
