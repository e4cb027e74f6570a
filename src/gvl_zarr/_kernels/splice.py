"""Personal sequences of reference spans (exons), for spliced transcripts.

A span [s, e) of a haplotype is the personal bases aligned to reference positions in
[s, e), as `bcftools consensus` aligns them in its chain file: it starts like a window at s
(`haplotypes._walk`) and ends before the first kept reference base >= e, so an insertion
anchored on e - 1 belongs to the span and one anchored on s - 1 does not, and a deletion
running past e ends it. Tracks are realigned as in `_walk` (inserted bases take their
anchor's value).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .haplotypes import _applied_call, _emit_ref, _ref_index
from .tracks import _expand

_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    _COMPLEMENT[_a] = _b


@kernel
def _emit(ref, buf_lo, buf_len, i0, n, out, o, tbuf, trk):
    """Reference bases of buffer indices [i0, i0 + n) to out[o:] (N outside the buffer) and
    their track values to every row of trk (T, total) at o (0 outside)."""
    _emit_ref(ref, buf_lo, buf_len, i0, n, out, o)
    for t in range(trk.shape[0]):
        for k in range(n):
            i = i0 + k
            trk[t, o + k] = tbuf[t, i] if 0 <= i < buf_len else 0.0


@kernel
def _walk_span(
    ref, buf_lo, buf_len, origin, v_pos, v_ref_len, alt_offsets, alt, variant_index, c_lo, c_hi, s, e, out, o0, tbuf,
    trk, write,
):  # fmt: skip
    """Bases of span [s, e) from out[o0] (and tracks into trk[:, o0:]) when `write`;
    returns their number either way. Overlap rules as `haplotypes._walk`."""
    o = o0
    ref_pos = s
    last_end = -(1 << 62)
    for k in range(c_lo, c_hi):
        vpos, rlen, a0, alen, first, last_end = _applied_call(
            variant_index[k], v_pos, v_ref_len, alt_offsets, last_end, s
        )
        if first < 0:
            continue
        vend = vpos + rlen
        if vpos >= e:
            break
        if vpos > ref_pos:
            n = vpos - ref_pos
            if write:
                _emit(ref, buf_lo, buf_len, ref_pos - origin, n, out, o, tbuf, trk)
            o += n
            ref_pos = vpos
        for j in range(first, alen):
            c = vpos + _ref_index(j, rlen, alen)
            if c < s or c >= e:
                continue
            if write:
                out[o] = alt[a0 + j]
                i = c - origin
                inside = 0 <= i < buf_len
                for t in range(trk.shape[0]):
                    trk[t, o] = tbuf[t, i] if inside else 0.0
            o += 1
        if vend > ref_pos:
            ref_pos = vend
    if ref_pos < e:
        if write:
            _emit(ref, buf_lo, buf_len, ref_pos - origin, e - ref_pos, out, o, tbuf, trk)
        o += e - ref_pos
    return o - o0


@kernel
def _reverse_complement(out, trk, lo, hi):
    i, j = lo, hi - 1
    while i < j:
        a, b = out[i], out[j]
        out[i], out[j] = _COMPLEMENT[b], _COMPLEMENT[a]
        for t in range(trk.shape[0]):
            x = trk[t, i]
            trk[t, i] = trk[t, j]
            trk[t, j] = x
        i += 1
        j -= 1
    if i == j:
        out[i] = _COMPLEMENT[out[i]]


@kernel
def span_haplotypes(
    ref, ref_bounds, ref_starts, v_pos, v_ref_len, alt_offsets, alt, variant_index, call_offsets, regions, spans,
    iv_starts, iv_ends, iv_values, iv_offsets, reverse, dest, lengths, out, tracks_out, write, b_lo, b_hi,
):  # fmt: skip
    """Span b = [spans[b, 0], spans[b, 1]) of region regions[b] for every ploid p.

    Without `write`: lengths[b, p] = its personal length. With `write`: its bases go to
    out[dest[b, p]:] and its tracks to tracks_out[:, dest[b, p]:], reverse-complemented
    (tracks reversed) where reverse[b]. Buffers and calls as in `haplotypes.reconstruct`."""
    ploidy = call_offsets.shape[1]
    n_tracks = tracks_out.shape[0]
    for b in range(b_lo, b_hi):
        r = regions[b]
        buf_lo = ref_bounds[r, 0]
        buf_len = ref_bounds[r, 1] - buf_lo
        origin = ref_starts[r]
        n_buf = buf_len if (write and n_tracks) else 0
        tbuf = np.empty((n_tracks, n_buf), np.float32)
        for t in range(n_tracks if n_buf else 0):
            _expand(iv_starts, iv_ends, iv_values, iv_offsets[b, t, 0], iv_offsets[b, t, 1], origin, tbuf[t])
        for p in range(ploidy):
            o0 = dest[b, p] if write else 0
            n = _walk_span(
                ref, buf_lo, buf_len, origin, v_pos, v_ref_len, alt_offsets, alt, variant_index,
                call_offsets[b, p, 0], call_offsets[b, p, 1], spans[b, 0], spans[b, 1], out, o0, tbuf, tracks_out,
                write,
            )  # fmt: skip
            if write:
                if reverse[b]:
                    _reverse_complement(out, tracks_out, o0, o0 + n)
            else:
                lengths[b, p] = n
