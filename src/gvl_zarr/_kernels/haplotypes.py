"""Personal haplotypes (and tracks realigned to them) from reference windows and ALT calls.

One walk per haplotype writes its bases, optionally its realigned tracks (with a per-track
insertion fill) and optionally its annotation (variant index and reference coordinate of
every base). Outputs are flat arrays addressed by per-haplotype offsets, so fixed-length,
padded ("variable") and ragged outputs share the kernel.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from ._memcpy import copy_into
from .tracks import _expand

N_BASE = 78  # ord("N")

# insertion fill modes of realigned tracks (per track; see gvl_zarr.fill)
REPEAT = 0  # inserted bases repeat the anchor's value
REPEAT_NORM = 1  # anchor and inserted bases share the anchor's value (sum preserved)
CONSTANT = 2  # anchor and inserted bases take a constant
INTERPOLATE = 3  # linear from the anchor's value towards the next reference base's value
CUBIC = 4  # Lagrange cubic through the two reference values on each side (Interpolate order 2, 3)
FLANK_SAMPLE = 5  # each stretch base drawn from the 2w + 1 values centred on the anchor


@kernel
def _emit_ref(ref, buf_lo, buf_len, i0, n, hap, o):
    """Copy buffer indices [i0, i0 + n) to hap[o:], N outside the buffer. Segment copies:
    no per-base branch."""
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


@kernel
def _emit_ref_tracks(tbuf, buf_len, i0, n, trk, trk_starts, o):
    """Track values of buffer indices [i0, i0 + n) to every track row at o (0 outside)."""
    lo = min(max(i0, 0), buf_len)
    hi = max(min(i0 + n, buf_len), lo)
    pre = min(lo - i0, n) if lo > i0 else 0
    mid = min(hi - lo if i0 + n > lo else 0, n - pre)
    post = n - pre - mid
    for t in range(trk_starts.shape[0]):
        a = trk_starts[t] + o
        if pre > 0:
            trk[a : a + pre] = 0
        if mid > 0:
            copy_into(trk, a + pre, tbuf[t], lo, mid)
        if post > 0:
            trk[a + pre + mid : a + n] = 0


@kernel
def _first_applied(vpos, rlen, alen, last_end):
    """First ALT base to apply of a call at vpos (REF rlen, ALT alen bases) after applied
    calls reaching last_end, or -1 to skip it: overlapping calls are skipped (first wins,
    as `bcftools consensus`), except an indel anchored on the previous call's last base,
    applied without that shared anchor (from ALT base 1)."""
    if vpos < last_end:
        return 1 if vpos == last_end - 1 and rlen != alen else -1
    return 0


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
def _applied_call(v, v_pos, v_ref_len, alt_offsets, last_end, ws):
    """Stored variant v met after applied calls reaching last_end, on a haplotype read from
    reference position ws: (pos, REF length, ALT offset, ALT length, first ALT base to
    apply, last_end after it). first is -1 when the call writes nothing: it overlaps an
    applied call (`_first_applied`; last_end unchanged) or ends at or before ws (applied
    before the window: last_end moves to its end). The one call step of `_walk`,
    `_hap_length` and `splice._walk_span`, so their overlap rules cannot drift apart."""
    vpos = v_pos[v]
    rlen = v_ref_len[v]
    a0 = alt_offsets[v]
    alen = alt_offsets[v + 1] - a0
    first = _first_applied(vpos, rlen, alen, last_end)
    if first < 0:
        return vpos, rlen, a0, alen, -1, last_end
    vend = vpos + rlen
    return vpos, rlen, a0, alen, first if vend > ws else -1, vend


@kernel
def _clamped(tbuf, t, i, buf_len):
    """Track t's value at buffer index i clamped into the buffer (0 for an empty one)."""
    if buf_len == 0:
        return np.float32(0.0)
    return tbuf[t, min(max(i, 0), buf_len - 1)]


@kernel
def _draw(key, j, n):
    """A deterministic draw in [0, n) for ALT base j of stored variant `key` (splitmix64)."""
    x = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(j) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return np.int64(x % np.uint64(n))


@kernel
def _cubic(tbuf, t, i, buf_len, j, d):
    """Lagrange cubic through (x, value) = (-1, v[i-1]), (0, v[i]), (d+1, v[i+1]),
    (d+2, v[i+2]) at x = j: inserted base j of a d-base insertion anchored at buffer index
    i (indices clamped into the buffer). GenVarLoader 0.43.1's Interpolate(order=2 or 3)
    gives exactly these values (both orders use two points a side)."""
    xs = (-1.0, 0.0, d + 1.0, d + 2.0)
    total = 0.0
    for a in range(4):
        w = 1.0
        for b in range(4):
            if b != a:
                w *= (j - xs[b]) / (xs[a] - xs[b])
        total += w * _clamped(tbuf, t, i - 1 + a, buf_len)
    return np.float32(total)


@kernel
def _alt_track_value(tbuf, t, i, buf_len, j, rlen, alen, mode, param, key):
    """Track t's value at ALT base j aligned to buffer index i. Bases of an insertion's
    stretch (its anchor and inserted bases, j <= alen - rlen, as GenVarLoader 0.43.1 counts
    it) follow the track's fill mode; the rest take their REF base's value. `key` (the stored
    variant's row) seeds FLANK_SAMPLE's draws, so they are fixed per variant and base."""
    inside = 0 <= i < buf_len
    value = tbuf[t, i] if inside else np.float32(0.0)
    d = alen - rlen
    if d <= 0 or j > d or mode == REPEAT:
        return value
    if mode == REPEAT_NORM:
        return value / (d + 1)
    if mode == CONSTANT:
        return param
    if mode == FLANK_SAMPLE:
        w = int(param)
        return _clamped(tbuf, t, i - w + _draw(key, j, 2 * w + 1), buf_len)
    if j == 0:
        return value
    if mode == CUBIC:
        return _cubic(tbuf, t, i, buf_len, j, d)
    nxt = tbuf[t, i + 1] if 0 <= i + 1 < buf_len else value
    return value + (nxt - value) * (j / (d + 1))


@kernel
def _walk(
    ref,
    buf_lo,
    buf_len,
    origin,
    v_pos,
    v_ref_len,
    alt_offsets,
    alt,
    variant_index,
    v_ids,
    c_lo,
    c_hi,
    ws,
    skip,
    hap,
    tbuf,
    trk,
    trk_starts,
    fill_modes,
    fill_params,
    ann_var,
    ann_pos,
):
    """Write one haplotype from reference position ws into hap, dropping its first `skip`
    bases (a shifted over-long haplotype), with tracks into trk at trk_starts[t] and, when
    ann_var is non-empty, each base's variant id (v_ids[v], or v when v_ids is empty; -1
    for reference bases) and reference coordinate into ann_var/ann_pos at the same indices
    as hap.

    A call overlapping an earlier applied call is skipped (first wins), as in
    `bcftools consensus`, except an indel anchored on that call's last base, which is
    applied without the shared anchor. ALT bases align to REF bases by `_ref_index`.
    """
    length = hap.shape[0]
    annotate = ann_var.shape[0] > 0
    n_tracks = trk_starts.shape[0]
    o = -skip  # output index of the next haplotype base; negative ones are dropped
    ref_pos = ws
    last_end = -(1 << 62)
    for k in range(c_lo, c_hi):
        v = variant_index[k]
        vpos, rlen, a0, alen, first, last_end = _applied_call(v, v_pos, v_ref_len, alt_offsets, last_end, ws)
        if first < 0:
            continue
        vend = vpos + rlen
        if vpos > ref_pos:
            n = min(vpos - ref_pos, length - o)
            _ref_span(ref, buf_lo, buf_len, origin, ref_pos, n, hap, o, tbuf, trk, trk_starts, ann_var, ann_pos)
            o += n
            ref_pos += n
            if o >= length:
                break
        vid = v_ids[v] if v_ids.shape[0] > 0 else v
        for j in range(first, alen):
            c = vpos + _ref_index(j, rlen, alen)
            if c < ws:
                continue
            if o >= length:
                break
            if o >= 0:
                hap[o] = alt[a0 + j]
                i = c - origin
                for t in range(n_tracks):
                    trk[trk_starts[t] + o] = _alt_track_value(
                        tbuf, t, i, buf_len, j, rlen, alen, fill_modes[t], fill_params[t], vid
                    )
                if annotate:
                    ann_var[o] = vid
                    ann_pos[o] = c if c >= 0 else -1
            o += 1
        if vend > ref_pos:
            ref_pos = vend
        if o >= length:
            break
    if o < length:
        _ref_span(ref, buf_lo, buf_len, origin, ref_pos, length - o, hap, o, tbuf, trk, trk_starts, ann_var, ann_pos)


@kernel
def _ref_span(ref, buf_lo, buf_len, origin, ref_pos, n, hap, o, tbuf, trk, trk_starts, ann_var, ann_pos):
    """n reference bases from ref_pos to output index o, of which those at o < 0 are
    dropped (a shifted haplotype's skipped start)."""
    if o < 0:
        drop = min(-o, n)
        ref_pos += drop
        n -= drop
        o += drop
    if n <= 0:
        return
    i0 = ref_pos - origin
    _emit_ref(ref, buf_lo, buf_len, i0, n, hap, o)
    if trk_starts.shape[0] > 0:
        _emit_ref_tracks(tbuf, buf_len, i0, n, trk, trk_starts, o)
    if ann_var.shape[0] > 0:
        ann_var[o : o + n] = -1
        neg = min(max(-ref_pos, 0), n)  # bases before the contig start: coordinate -1
        ann_pos[o : o + neg] = -1
        for k in range(neg, n):  # branch-free: the loop vectorises
            ann_pos[o + k] = ref_pos + k


@kernel
def _hap_length(v_pos, v_ref_len, alt_offsets, variant_index, c_lo, c_hi, ws, we):
    """(length, n_variants) of the haplotype over reference [ws, we): the bases `_walk`
    writes before passing we (the same call-skipping rules; inserted bases count with
    their anchor), and the applied calls whose REF span overlaps [ws, we)."""
    total = 0
    n = 0
    ref_pos = ws
    last_end = -(1 << 62)
    for k in range(c_lo, c_hi):
        vpos, rlen, _, alen, first, last_end = _applied_call(
            variant_index[k], v_pos, v_ref_len, alt_offsets, last_end, ws
        )
        if first < 0:
            continue
        vend = vpos + rlen
        if vpos >= we:
            break
        n += 1
        if vpos > ref_pos:
            total += vpos - ref_pos
            ref_pos = vpos
        for j in range(first, alen):
            c = vpos + _ref_index(j, rlen, alen)
            if ws <= c < we:
                total += 1
        if vend > ref_pos:
            ref_pos = vend
    if we > ref_pos:
        total += we - ref_pos
    return total, n


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
    v_ids,
    call_offsets,
    regions,
    win_starts,
    skips,
    iv_starts,
    iv_ends,
    iv_values,
    iv_offsets,
    fill_modes,
    fill_params,
    hap_starts,
    hap_lengths,
    trk_starts,
    out,
    tracks_out,
    ann_var,
    ann_pos,
    b_lo,
    b_hi,
):
    """Haplotypes of a batch into flat outputs.

    ref[ref_bounds[r, 0]:ref_bounds[r, 1]] holds region r's reference from ref_starts[r];
    calls of (b, p) are variant_index[call_offsets[b, p, 0]:call_offsets[b, p, 1]] in
    position order; track t of instance b is intervals iv_offsets[b, t, 0]:[b, t, 1].
    Haplotype (b, p) starts at reference position win_starts[b], drops its first
    skips[b, p] bases and fills out[hap_starts[b, p]:][:hap_lengths[b, p]]; its track t
    goes to tracks_out[trk_starts[b, t, p]:] and its annotation (if ann_var is not empty)
    to ann_var/ann_pos at the haplotype's indices. Fills instances b_lo <= b < b_hi.
    """
    ploidy = hap_starts.shape[1]
    n_tracks = iv_offsets.shape[1]
    annotate = ann_var.shape[0] > 0
    for b in range(b_lo, b_hi):
        r = regions[b]
        buf_lo = ref_bounds[r, 0]
        buf_len = ref_bounds[r, 1] - buf_lo
        origin = ref_starts[r]
        tbuf = np.empty((n_tracks, buf_len if n_tracks else 0), np.float32)
        for t in range(n_tracks):
            _expand(iv_starts, iv_ends, iv_values, iv_offsets[b, t, 0], iv_offsets[b, t, 1], origin, tbuf[t])
        for p in range(ploidy):
            h0 = hap_starts[b, p]
            h1 = h0 + hap_lengths[b, p]
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
                v_ids,
                call_offsets[b, p, 0],
                call_offsets[b, p, 1],
                win_starts[b],
                skips[b, p],
                out[h0:h1],
                tbuf,
                tracks_out,
                trk_starts[b, :, p],
                fill_modes,
                fill_params,
                ann_var[h0:h1] if annotate else ann_var[:0],
                ann_pos[h0:h1] if annotate else ann_pos[:0],
            )


@kernel
def reference_windows(ref, ref_bounds, ref_starts, regions, win_starts, out, b_lo, b_hi):
    """out[b, :] = reference from win_starts[b] in region regions[b]'s buffer, N outside,
    for b_lo <= b < b_hi."""
    length = out.shape[1]
    for b in range(b_lo, b_hi):
        r = regions[b]
        buf_lo = ref_bounds[r, 0]
        _emit_ref(ref, buf_lo, ref_bounds[r, 1] - buf_lo, win_starts[b] - ref_starts[r], length, out[b], 0)
