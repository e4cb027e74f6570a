"""Batch outputs of haplotype reads: arrays, padded arrays or `Ragged`, optionally annotated.

The kernel writes flat buffers (see `_layout`); this module only reverses '-' strand rows
and wraps the buffers as the output kinds, with no per-instance Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _query
from ._rows import COMPLEMENT, reverse_rows
from .annotated import AnnotatedHaps
from .fill import lower
from .ragged import Ragged

if TYPE_CHECKING:
    from ._query import StoreData
    from ._settings import Settings


def haplotype_outputs(
    data: StoreData,
    st: Settings,
    regions: np.ndarray,
    samples: np.ndarray,
    win_starts: np.ndarray,
    shape: tuple[int, ...],
    rng: np.random.Generator | None,
) -> list:
    """[sequences, tracks] (tracks only when some are selected) of a haplotype batch."""
    names = list(st.return_tracks)
    fills = dict(st.insertion_fill)
    hb = _query.read_haplotypes(
        data,
        regions,
        samples,
        win_starts,
        names,
        length=st.output_length,
        shift_rng=rng if not st.deterministic else None,
        fills=lower([fills.get(n) for n in names]) if fills else None,
        annotate=st.return_sequences == "annotated",
    )
    lay = hb.layout
    n, ploidy, n_tracks = len(regions), data.ploidy, len(names)
    if st.rc_neg and data.any_minus_strand:
        neg = np.flatnonzero(data.r_strand[regions] == -1)
        if len(neg):
            _reverse_negative(hb, neg, n, ploidy, n_tracks)
    squeeze = st.squeeze_tracks
    if lay.width is None:  # ragged
        hap_off = np.append(lay.hap_starts.ravel(), lay.hap_size)

        def wrap(flat: np.ndarray) -> Ragged:
            return Ragged.from_offsets(flat, (*shape, ploidy), hap_off)

        trk_shape = (*shape, ploidy) if squeeze else (*shape, n_tracks, ploidy)
        trk_out = Ragged.from_offsets(hb.tracks, trk_shape, np.append(lay.trk_starts.ravel(), lay.trk_size))
    else:
        w = lay.width

        def wrap(flat: np.ndarray) -> np.ndarray:
            return flat.reshape((*shape, ploidy, w))

        trk = hb.tracks.reshape(n, n_tracks, ploidy, w)
        trk = trk[:, 0] if squeeze else trk
        trk_out = trk.reshape((*shape, *trk.shape[1:]))
    seqs = wrap(hb.haps.view("S1"))
    if hb.ann_var.size or st.return_sequences == "annotated":
        seqs = AnnotatedHaps(seqs, wrap(hb.ann_var), wrap(hb.ann_pos))
    return [seqs, trk_out] if n_tracks else [seqs]


def _reverse_negative(hb: _query.HaplotypeBatch, neg: np.ndarray, n: int, ploidy: int, n_tracks: int) -> None:
    """Reverse-complement the rows of instances `neg` (tracks and annotations reversed)."""
    lay = hb.layout
    arrays = [hb.haps] + ([hb.ann_var, hb.ann_pos] if hb.ann_var.size else [])
    if lay.width is not None and (lay.hap_lengths == lay.width).all():
        # full rectangular rows: strided slices, no index arrays
        w = lay.width
        for k, flat in enumerate(arrays):
            rows = flat.reshape(n, ploidy, w)
            rows[neg] = COMPLEMENT[rows[neg][..., ::-1]] if k == 0 else rows[neg][..., ::-1]
        if n_tracks:
            trk = hb.tracks.reshape(n, n_tracks, ploidy, w)
            trk[neg] = trk[neg][..., ::-1]
        return
    starts, lengths = lay.hap_starts[neg], lay.hap_lengths[neg]
    for k, flat in enumerate(arrays):
        reverse_rows(flat, starts, lengths, complement=k == 0)
    if n_tracks:
        trk_lengths = np.broadcast_to(lengths[:, None, :], lay.trk_starts[neg].shape)
        reverse_rows(hb.tracks, lay.trk_starts[neg], trk_lengths)


def as_ragged(arr: np.ndarray) -> Ragged:
    """A rectangular (..., L) array as a `Ragged` of shape (...)."""
    lead, width = arr.shape[:-1], arr.shape[-1]
    offsets = np.arange(int(np.prod(lead)) + 1, dtype=np.int64) * width
    return Ragged.from_offsets(np.ascontiguousarray(arr).ravel(), lead, offsets)
