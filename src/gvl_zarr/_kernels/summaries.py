"""Per-haplotype variant counts and lengths from the stored calls, without building sequences."""

from __future__ import annotations

from ._jit import kernel
from .haplotypes import _ref_index


@kernel
def haplotype_summaries(
    v_pos, v_ref_len, alt_offsets, variant_index, call_offsets, win_starts, length, n_variants, lengths, b_lo, b_hi
):
    """n_variants[b, p] and lengths[b, p] of the window [win_starts[b], win_starts[b] + length).

    Calls are walked exactly as `haplotypes._walk` applies them (first wins among
    overlapping calls, except an indel anchored on the previous call's last base, applied
    without that anchor). Then:

    - n_variants counts the applied calls whose REF span [pos, pos + len(REF)) overlaps the
      window (an insertion anchored on the base before the window does not);
    - lengths is the number of personal bases aligned to a reference base inside the
      window: `length` minus the REF bases the applied calls replace inside it plus the
      ALT bases aligned (by `_ref_index`, as the walk aligns them) inside it. This is the
      length `bcftools consensus` gives the window (its chain maps the window's start and
      end to personal coordinates h0, h1; lengths = h1 - h0).
    """
    ploidy = call_offsets.shape[1]
    for b in range(b_lo, b_hi):
        ws = win_starts[b]
        we = ws + length
        for p in range(ploidy):
            n = 0
            h = length
            last_end = -(1 << 62)
            for k in range(call_offsets[b, p, 0], call_offsets[b, p, 1]):
                v = variant_index[k]
                vpos = v_pos[v]
                rlen = v_ref_len[v]
                vend = vpos + rlen
                alen = alt_offsets[v + 1] - alt_offsets[v]
                first = 0
                if vpos < last_end:
                    if vpos == last_end - 1 and rlen != alen:
                        first = 1
                    else:
                        continue
                last_end = vend
                if vend <= ws:
                    continue
                if vpos >= we:
                    break
                n += 1
                lo = max(vpos + first, ws)
                hi = min(vend, we)
                if hi > lo:
                    h -= hi - lo
                for j in range(first, alen):
                    c = vpos + _ref_index(j, rlen, alen)
                    if ws <= c < we:
                        h += 1
            n_variants[b, p] = n
            lengths[b, p] = h
