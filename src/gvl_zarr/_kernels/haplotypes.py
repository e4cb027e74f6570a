"""Personal haplotypes (and tracks realigned to them) from reference windows and ALT calls."""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from ._memcpy import copy_into
from .tracks import _expand

N_BASE = 78  # ord("N")


@kernel
def _emit_ref(ref, buf_lo, buf_len, i0, n, hap, o, tbuf, trk):
    """Copy buffer indices [i0, i0 + n) to hap[o:] (N outside the buffer) and the matching
    track values from tbuf[t] to trk[t, o:] (0 outside). Segment copies: no per-base branch."""
    lo = min(max(i0, 0), buf_len)
    hi = max(min(i0 + n, buf_len), lo)
    pre = min(lo - i0, n) if lo > i0 else 0
    mid = hi - lo if i0 + n > lo else 0
    mid = min(mid, n - pre)
    post = n - pre - mid
    if pre > 0:
        hap[o : o + pre] = N_BASE
    if mid > 0:
        copy_into(hap, o + pre, ref, buf_lo + lo, mid)
    if post > 0:
        hap[o + pre + mid : o + n] = N_BASE
    for t in range(trk.shape[0]):
        row = trk[t]
        if pre > 0:
            row[o : o + pre] = 0
        if mid > 0:
            copy_into(row, o + pre, tbuf[t], lo, mid)
        if post > 0:
            row[o + pre + mid : o + n] = 0


@kernel
def _ref_index(j, rlen, alen):
    """REF base (index from POS) that ALT base j aligns to. As in bcftools' chain files,
    the length difference sits right after the first (anchor) base: inserted bases align
    to the anchor, deleted bases are REF[1 : 1 + d], the rest align one to one."""
    if j == 0 or alen == rlen:
        return j
    if alen > rlen:
        return max(j - (alen - rlen), 0)
    return j + (rlen - alen)


@kernel
def _walk(
    ref, buf_lo, buf_len, origin, v_pos, v_ref_len, alt_offsets, alt, variant_index, c_lo, c_hi, ws, hap, tbuf, trk
):
    """Write one haplotype from reference position ws into hap (and tracks into trk).

    A call overlapping an earlier applied call is skipped (first wins), as in
    `bcftools consensus`, except an indel anchored on that call's last base, which is
    applied without the shared anchor. ALT bases align to REF bases by `_ref_index`, so
    inserted bases take their anchor's track value.
    """
    length = hap.shape[0]
    o = 0
    ref_pos = ws
    last_end = -(1 << 62)
    for k in range(c_lo, c_hi):
        v = variant_index[k]
        vpos = v_pos[v]
        rlen = v_ref_len[v]
        vend = vpos + rlen
        a0 = alt_offsets[v]
        alen = alt_offsets[v + 1] - a0
        first = 0
        if vpos < last_end:
            if vpos == last_end - 1 and rlen != alen:
                first = 1
            else:
                continue
        last_end = vend
        if vend <= ws:
            continue
        if vpos > ref_pos:
            n = min(vpos - ref_pos, length - o)
            _emit_ref(ref, buf_lo, buf_len, ref_pos - origin, n, hap, o, tbuf, trk)
            o += n
            ref_pos += n
            if o >= length:
                break
        for j in range(first, alen):
            c = vpos + _ref_index(j, rlen, alen)
            if c < ws:
                continue
            if o >= length:
                break
            hap[o] = alt[a0 + j]
            i = c - origin
            inside = 0 <= i < buf_len
            for t in range(trk.shape[0]):
                trk[t, o] = tbuf[t, i] if inside else 0.0
            o += 1
        if vend > ref_pos:
            ref_pos = vend
        if o >= length:
            break
    if o < length:
        _emit_ref(ref, buf_lo, buf_len, ref_pos - origin, length - o, hap, o, tbuf, trk)


@kernel
def reconstruct(
    ref,
    ref_bounds,
    ref_starts,
    v_pos,
    v_ref_len,
    alt_offsets,
    alt,
    variant_index,
    call_offsets,
    regions,
    win_starts,
    iv_starts,
    iv_ends,
    iv_values,
    iv_offsets,
    out,
    tracks_out,
    b_lo,
    b_hi,
):
    """Haplotypes out[b, p, :] and realigned tracks tracks_out[b, t, p, :] of a batch.

    ref[ref_bounds[r, 0]:ref_bounds[r, 1]] holds region r's reference from ref_starts[r];
    calls of (b, p) are variant_index[call_offsets[b, p, 0]:call_offsets[b, p, 1]] in
    position order; track t of instance b is intervals iv_offsets[b, t, 0]:[b, t, 1].
    tracks_out may have zero tracks. Output starts at reference position win_starts[b].
    Fills instances b_lo <= b < b_hi.
    """
    ploidy = out.shape[1]
    n_tracks = tracks_out.shape[1]
    for b in range(b_lo, b_hi):
        r = regions[b]
        buf_lo = ref_bounds[r, 0]
        buf_len = ref_bounds[r, 1] - buf_lo
        origin = ref_starts[r]
        tbuf = np.empty((n_tracks, buf_len if n_tracks else 0), np.float32)
        for t in range(n_tracks):
            _expand(iv_starts, iv_ends, iv_values, iv_offsets[b, t, 0], iv_offsets[b, t, 1], origin, tbuf[t])
        for p in range(ploidy):
            _walk(
                ref,
                buf_lo,
                buf_len,
                origin,
                v_pos,
                v_ref_len,
                alt_offsets,
                alt,
                variant_index,
                call_offsets[b, p, 0],
                call_offsets[b, p, 1],
                win_starts[b],
                out[b, p],
                tbuf,
                tracks_out[b, :, p],
            )


@kernel
def reference_windows(ref, ref_bounds, ref_starts, regions, win_starts, out, b_lo, b_hi):
    """out[b, :] = reference from win_starts[b] in region regions[b]'s buffer, N outside,
    for b_lo <= b < b_hi."""
    length = out.shape[1]
    empty_t = np.zeros((0, 0), np.float32)
    empty_o = np.zeros((0, length), np.float32)
    for b in range(b_lo, b_hi):
        r = regions[b]
        buf_lo = ref_bounds[r, 0]
        _emit_ref(
            ref, buf_lo, ref_bounds[r, 1] - buf_lo, win_starts[b] - ref_starts[r], length, out[b], 0, empty_t, empty_o
        )
