"""Personal haplotypes: apply a haplotype's ALT calls to a reference window."""

from __future__ import annotations

import numba

from ._jit import kernel

N_BASE = 78  # ord("N")


@kernel(parallel=True)
def reconstruct_haplotypes(
    ref,
    ref_offsets,
    ref_starts,
    v_pos,
    v_ref_len,
    alt_offsets,
    alt,
    variant_index,
    call_offsets,
    regions,
    win_starts,
    out,
    coords,
    want_coords,
):
    """Fill out[b, p, :] with haplotype p of instance b and coords[b, p, :] with the index,
    into the region's reference buffer, of the reference base each output base aligns to.

    ref[ref_offsets[r]:ref_offsets[r + 1]] holds region r's reference from ref_starts[r];
    calls of (b, p) are variant_index[call_offsets[b, p, 0]:call_offsets[b, p, 1]] in
    position order. A call overlapping an earlier applied call is skipped (first wins),
    as in `bcftools consensus`, except an indel anchored on that call's last base.
    Output starts at reference position win_starts[b]; an ALT base aligns to REF base
    min(i, len(REF) - 1), so inserted bases copy their anchor's coordinate.
    """
    n_batch, ploidy, length = out.shape
    for job in numba.prange(n_batch * ploidy):
        b = job // ploidy
        p = job % ploidy
        r = regions[b]
        buf_lo = ref_offsets[r]
        buf_len = ref_offsets[r + 1] - buf_lo
        origin = ref_starts[r]
        ws = win_starts[b]
        o = 0
        ref_pos = ws
        last_end = -(1 << 62)
        for k in range(call_offsets[b, p, 0], call_offsets[b, p, 1]):
            v = variant_index[k]
            vpos = v_pos[v]
            rlen = v_ref_len[v]
            vend = vpos + rlen
            a0 = alt_offsets[v]
            alen = alt_offsets[v + 1] - a0
            first = 0
            if vpos < last_end:
                # bcftools consensus still applies an indel whose anchor is the last base
                # of the previous applied variant, minus that shared anchor base.
                if vpos == last_end - 1 and rlen != alen:
                    first = 1
                else:
                    continue
            last_end = vend
            if vend <= ws:
                continue
            while ref_pos < vpos and o < length:
                i = ref_pos - origin
                out[b, p, o] = ref[buf_lo + i] if 0 <= i < buf_len else N_BASE
                if want_coords:
                    coords[b, p, o] = i if 0 <= i < buf_len else -1
                o += 1
                ref_pos += 1
            if o >= length:
                break
            for j in range(first, alen):
                c = vpos + min(j, rlen - 1)
                if c < ws:
                    continue
                if o >= length:
                    break
                out[b, p, o] = alt[a0 + j]
                if want_coords:
                    i = c - origin
                    coords[b, p, o] = i if 0 <= i < buf_len else -1
                o += 1
            if vend > ref_pos:
                ref_pos = vend
            if o >= length:
                break
        while o < length:
            i = ref_pos - origin
            out[b, p, o] = ref[buf_lo + i] if 0 <= i < buf_len else N_BASE
            if want_coords:
                coords[b, p, o] = i if 0 <= i < buf_len else -1
            o += 1
            ref_pos += 1


@kernel(parallel=True)
def reference_windows(ref, ref_offsets, ref_starts, regions, win_starts, out):
    """out[b, :] = reference from win_starts[b] in region regions[b]'s buffer, N outside."""
    n_batch, length = out.shape
    for b in numba.prange(n_batch):
        r = regions[b]
        buf_lo = ref_offsets[r]
        buf_len = ref_offsets[r + 1] - buf_lo
        shift = win_starts[b] - ref_starts[r]
        for o in range(length):
            i = shift + o
            out[b, o] = ref[buf_lo + i] if 0 <= i < buf_len else N_BASE
