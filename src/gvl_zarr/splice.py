"""Spliced datasets: one personal transcript per (transcript, sample, haplotype).

A dataset written from an exon BED (one row per exon, with transcript-id and exon-number
columns, `length` at least the longest exon) and opened with
`Dataset.open(path, splice_info=(transcript_col, exon_number_col))` reads, for each
transcript, each exon's personal bases (`_kernels/splice.py`: the bases aligned to the
exon's reference span, as `bcftools consensus` aligns them), reverse-complemented on '-'
(with `rc_neg`), joined in exon-number order. Tracks come realigned to the same bases.
Outputs are `Ragged` (transcripts differ in length), or padded arrays with
`with_len("variable")`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _query
from ._chunks import range_index
from ._indexing import normalize
from ._kernels._threads import run_split
from ._kernels.splice import span_haplotypes
from ._region_labels import NameIndex, is_names, read_column
from .errors import DatasetIndexError, InputFileError, SettingsError
from .ragged import Ragged
from .variants import join_exons, read_variants

if TYPE_CHECKING:
    from .dataset import Dataset

_UNSET: Any = object()


@dataclasses.dataclass(frozen=True)
class SpliceMap:
    """Transcripts of a store: names, and store region rows of their exons in exon order."""

    names: np.ndarray  # (n_transcripts,) str
    exon_offsets: np.ndarray  # (n_transcripts + 1,) into exon_rows
    exon_rows: np.ndarray  # store region rows, transcript by transcript

    @classmethod
    def from_store(cls, ds: Dataset, splice_info: Any) -> SpliceMap:
        t_col, e_col = check_splice_info(splice_info)
        d = ds._data
        transcripts = read_column(d.group, d.attrs, t_col, d.name, "splice_info column")
        numbers = read_column(d.group, d.attrs, e_col, d.name, "splice_info column")
        smap = group_exons(transcripts, numbers, d.r_contig, d.r_strand, t_col, e_col, d.name)
        wide = (d.r_bed_start < d.r_start) | (d.r_bed_end > d.r_end)
        if wide.any():
            r = int(np.flatnonzero(wide)[0])
            longest = int((d.r_bed_end - d.r_bed_start).max())
            raise InputFileError(
                f"{d.name}: exon {d.contigs[d.r_contig[r]]}:{d.r_bed_start[r]}-{d.r_bed_end[r]} is wider than the "
                f"stored window (length {d.length}). Fix: write the exon BED with length >= {longest} "
                "(the longest exon)."
            )
        return smap


def check_splice_info(splice_info: Any) -> tuple[str, str]:
    if not (isinstance(splice_info, (tuple, list)) and len(splice_info) == 2):
        raise SettingsError(
            f"splice_info must be a pair (transcript column, exon number column), got {splice_info!r}; "
            "e.g. splice_info=('transcript_id', 'exon_number')."
        )
    return str(splice_info[0]), str(splice_info[1])


def group_exons(
    transcripts: np.ndarray,
    numbers: np.ndarray,
    contig: np.ndarray,
    strand: np.ndarray,
    t_col: str,
    e_col: str,
    where: str,
) -> SpliceMap:
    """Exon rows grouped by transcript (in order of first appearance), each group sorted by
    integer exon number; every transcript's exons must share one contig and strand."""
    try:
        order_key = np.asarray(numbers).astype(np.int64)
    except ValueError:
        bad = str(next(n for n in numbers if not str(n).lstrip("-").isdigit()))
        raise InputFileError(
            f"{where}: exon number column {e_col!r} holds {bad!r}, not an integer; exons are joined in "
            "increasing exon number. Fix: give exon numbers as integers."
        ) from None
    names, first, inverse = np.unique(np.asarray(transcripts, str), return_index=True, return_inverse=True)
    by_appearance = np.argsort(first, kind="stable")
    rank = np.empty_like(by_appearance)
    rank[by_appearance] = np.arange(len(by_appearance))
    t_of_row = rank[inverse.ravel()]
    rows = np.lexsort((order_key, t_of_row)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(t_of_row, minlength=len(names)))]).astype(np.int64)
    names = names[by_appearance]
    for what, values in (("contigs", contig), ("strands", strand)):
        v = np.asarray(values)[rows]
        bad = np.minimum.reduceat(v, offsets[:-1]) != np.maximum.reduceat(v, offsets[:-1])
        if bad.any():
            t = int(np.flatnonzero(bad)[0])
            raise InputFileError(
                f"{where}: transcript {str(names[t])!r} ({t_col!r}) has exons on different {what}; "
                "a transcript's exons must share one contig and strand. Fix the exon BED (or give each "
                "transcript its own id)."
            )
    return SpliceMap(names, offsets, rows)


class SplicedDataset:
    """Personal transcripts of (transcript, sample) instances; see the module docstring.

    Indexing mirrors `Dataset` on a (n_transcripts, n_samples) array (transcripts and
    samples also by name). Outputs, `n` the number of instances:

    - haplotypes: `Ragged` of bytes `S1`, shape (*batch, ploidy);
    - reference (`return_sequences="reference"`): `Ragged` (*batch,);
    - tracks: `Ragged` float32, shape (*batch, tracks, ploidy) with haplotypes, else
      (*batch, tracks); the tracks axis is dropped for a single track name.
    """

    def __init__(self, ds: Dataset, smap: SpliceMap, transcripts: np.ndarray | None = None) -> None:
        if ds.settings.jitter:
            raise SettingsError(
                f"splicing needs jitter=0 (got jitter={ds.settings.jitter}): a transcript's exons cannot be shifted "
                "independently. Fix: open with jitter=0."
            )
        _check_spliced(ds.settings)
        self._ds = ds
        self._map = smap
        self._t = np.arange(len(smap.names)) if transcripts is None else transcripts
        self._names: NameIndex | None = None

    # ------------------------------------------------------------ properties
    @property
    def transcripts(self) -> list[str]:
        return self._map.names[self._t].tolist()

    @property
    def samples(self) -> list[str]:
        return self._ds.samples

    @property
    def n_transcripts(self) -> int:
        return len(self._t)

    @property
    def n_samples(self) -> int:
        return self._ds.n_samples

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_transcripts, self.n_samples)

    def __len__(self) -> int:
        return self.n_transcripts * self.n_samples

    @property
    def settings(self) -> Any:
        return self._ds.settings

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"gvl_zarr.SplicedDataset({self._ds._data.name!r}, n_transcripts={self.n_transcripts}, "
            f"n_samples={self.n_samples}, sequences={s.return_sequences}, tracks={list(s.return_tracks)})"
        )

    # -------------------------------------------------------------- settings
    def with_settings(self, **settings: Any) -> SplicedDataset:
        """As `Dataset.with_settings`; jitter must stay 0."""
        if settings.get("jitter", 0):
            raise SettingsError(
                f"splicing needs jitter=0, got jitter={settings['jitter']}: a transcript's exons cannot be shifted "
                "independently."
            )
        return SplicedDataset(self._ds.with_settings(**settings), self._map, self._t)

    def with_len(self, output_length: str) -> SplicedDataset:
        """ "ragged" (default: `Ragged` transcripts of their true lengths) or "variable" (arrays
        padded with N / 0 to the batch's longest transcript), as GenVarLoader 0.43.1."""
        return self.with_settings(output_length=output_length)

    def with_seqs(self, kind: str | None) -> SplicedDataset:
        """Sequences: "haplotypes", "reference" or None."""
        return self.with_settings(return_sequences=kind)

    def with_tracks(self, tracks: Any = None) -> SplicedDataset:
        """Tracks: a name, a list of names or False; None keeps the current selection."""
        return self if tracks is None else self.with_settings(return_tracks=tracks)

    def subset_to(self, transcripts: Any = None, samples: Any = None) -> SplicedDataset:
        """Some transcripts (names, ints or a mask) and/or samples (names, ints or a mask)."""
        ds = self._ds if samples is None else self._ds.subset_to(samples=samples)
        t = self._t if transcripts is None else self._t[np.atleast_1d(self._positions(transcripts))]
        return SplicedDataset(ds, self._map, t)

    def _positions(self, key: Any) -> Any:
        if not is_names(key):
            _, pos, _ = normalize((0, key), 1, self.n_transcripts)
            return pos if isinstance(key, slice) or np.ndim(key) else pos[0]
        if self._names is None:
            self._names = NameIndex(self._map.names, "transcript")
        rows = self._names.positions(key)
        local = np.full(len(self._map.names), -1, np.int64)
        local[self._t] = np.arange(self.n_transcripts)
        pos = local[rows]
        if np.any(pos < 0):
            raise DatasetIndexError(f"transcript(s) {key!r:.80} are not in this subset.")
        return int(pos) if np.ndim(pos) == 0 else pos

    # ------------------------------------------------------------------ torch
    def to_dataloader(self, batch_size: int = 1, shuffle: bool = False, sampler: Any = None, **kwargs: Any) -> Any:
        """A PyTorch DataLoader of batches of raveled (transcript, sample) instances: `Ragged`
        outputs come as they are (flat data + offsets), indices as tensors."""
        from .torch_loader import make_dataloader

        return make_dataloader(self, batch_size=batch_size, shuffle=shuffle, sampler=sampler, **kwargs)

    # --------------------------------------------------------------- reading
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 2 and (is_names(key[0]) or is_names(key[1])):
            t_key = self._positions(key[0]) if is_names(key[0]) else key[0]
            s_key = self._ds._sample_positions(key[1]) if is_names(key[1]) else key[1]
            key = (t_key, s_key)
        t_local, s_local, shape = normalize(key, self.n_transcripts, self.n_samples)
        return self._read(t_local, s_local, shape)

    def _read(self, t_local: np.ndarray, s_local: np.ndarray, shape: tuple[int, ...]) -> Any:
        st, d = self.settings, self._ds._data
        m = self._map
        t = self._t[t_local]
        samples = self._ds._samples[s_local]
        n_exons = m.exon_offsets[t + 1] - m.exon_offsets[t]
        exon_rows = m.exon_rows[range_index(m.exon_offsets[t], n_exons)]
        exon_samples = np.repeat(samples, n_exons)
        haplotypes = st.return_sequences == "haplotypes"
        if st.return_sequences is None and not st.return_tracks:
            raise SettingsError("nothing to return: enable return_sequences or return_tracks.")
        if st.return_sequences == "variants":
            rv = read_variants(
                d, exon_rows, exon_samples, d.r_bed_start[exon_rows], (len(exon_rows),), st, d.r_bed_end[exon_rows]
            )
            return self._finish([join_exons(rv, n_exons, shape)], t_local, s_local, shape)
        ploidy = d.ploidy if haplotypes else 1
        inst_of_exon = np.repeat(np.arange(len(t)), n_exons)
        first_exon = np.concatenate([[0], np.cumsum(n_exons)[:-1]]).astype(np.int64)
        seq, trk, per = _read_spans(
            d, exon_rows, exon_samples, list(st.return_tracks), haplotypes, st.rc_neg, inst_of_exon, first_exon
        )
        lead = (*shape, ploidy) if haplotypes else shape
        outputs: list[Any] = []
        offsets = np.concatenate([[0], np.cumsum(per.ravel())]).astype(np.int64)
        if st.return_sequences is not None:
            outputs.append(Ragged.from_offsets(seq.view("S1"), lead, offsets))
        if st.return_tracks:
            n_t = trk.shape[0]
            starts = np.arange(n_t)[None, :, None] * trk.shape[1] + offsets[:-1].reshape(len(t), 1, ploidy)
            lens = np.broadcast_to(per[:, None, :], starts.shape)
            data = trk.ravel()[range_index(starts.ravel(), lens.ravel())]
            t_shape = (*shape, n_t, ploidy) if haplotypes else (*shape, n_t)
            t_off = np.concatenate([[0], np.cumsum(lens.ravel())]).astype(np.int64)
            if st.squeeze_tracks:
                t_shape = tuple(x for i, x in enumerate(t_shape) if i != len(shape))
            outputs.append(Ragged.from_offsets(data, t_shape, t_off))
        if st.output_length == "variable":
            outputs = [_padded(o, b"N" if i == 0 and st.return_sequences else 0) for i, o in enumerate(outputs)]
        return self._finish(outputs, t_local, s_local, shape)

    def _finish(self, outputs: list[Any], t_local: np.ndarray, s_local: np.ndarray, shape: tuple[int, ...]) -> Any:
        st = self.settings
        if st.transform is not None:
            result = st.transform(*outputs)
            outputs = list(result) if isinstance(result, tuple) else [result]
        if st.return_indices:
            outputs += [
                (t_local * self.n_samples + s_local).reshape(shape),
                t_local.reshape(shape),
                s_local.reshape(shape),
            ]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _check_spliced(st: Any) -> None:
    """Settings a spliced read cannot honour raise here, not later in a batch."""
    if isinstance(st.output_length, int):
        raise SettingsError(
            f"spliced transcripts differ in length, so an int output length ({st.output_length}) does not apply "
            "(GenVarLoader 0.43.1 limits it to the shortest exon). Fix: with_len('ragged') (the default) or "
            "with_len('variable') (padded to the batch's longest transcript)."
        )
    if st.return_sequences == "annotated":
        raise SettingsError(
            "return_sequences='annotated' is not provided for spliced transcripts; use 'haplotypes', 'reference' "
            "or 'variants', or open without splice_info for per-exon annotated haplotypes."
        )
    if st.return_sequences == "variants" and st.return_tracks:
        raise SettingsError("return_sequences='variants' returns no tracks; use with_tracks(False).")


def _padded(r: Ragged, fill: bytes | float) -> np.ndarray:
    """A ragged output as an array padded on the right with `fill` to its longest row
    (GenVarLoader's "variable" length: N for sequences, 0 for tracks)."""
    lengths = np.diff(r.offsets)
    width = int(lengths.max(initial=0))
    out = np.full((len(lengths), width), fill, r.data.dtype)
    cols = np.arange(len(r.data)) - np.repeat(r.offsets[:-1], lengths)
    out[np.repeat(np.arange(len(lengths)), lengths), cols] = r.data[: r.offsets[-1]]
    return out.reshape(*r.shape, width)


def _read_spans(
    d: Any,
    rows: np.ndarray,
    samples: np.ndarray,
    names: list[str],
    haplotypes: bool,
    rc_neg: bool,
    inst_of_exon: np.ndarray,
    first_exon: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transcripts of a batch from the exon spans `rows` (instance by instance, in exon
    order; instance k's exons start at first_exon[k]).

    Returns (bases uint8, tracks (T, total) float32, lengths (instances, P)): transcript
    (k, p) is bases[o:o + lengths[k, p]] with o the C-order cumulative sum before (k, p)."""
    n = len(rows)
    if d.ref is not None:
        ref, ref_bounds, ref_starts, ref_index = _query._reference_batch(d, rows)
    else:  # tracks only: the walk needs each window's extent, not its bases
        unique, inverse = np.unique(rows, return_inverse=True)
        spans = d.ref_offsets[unique + 1] - d.ref_offsets[unique]
        ends = np.cumsum(spans)
        ref = np.full(int(ends[-1]) if len(ends) else 0, ord("N"), np.uint8)
        ref_bounds = np.stack([ends - spans, ends], axis=1)
        ref_starts, ref_index = d.ref_starts[unique], inverse.ravel().astype(np.int64)
    if haplotypes:
        v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets, _ = _query._variant_batch(d, rows, samples)
    else:
        v_pos, v_ref_len, alt_offsets, alt = (
            np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(1, np.int64), np.zeros(0, np.uint8),
        )  # fmt: skip
        calls, call_offsets = np.zeros(0, np.int32), np.zeros((n, 1, 2), np.int64)
    iv = _query._batch_intervals(d, names, rows, samples)
    spans = np.stack([d.r_bed_start[rows], d.r_bed_end[rows]], axis=1)
    reverse = (d.r_strand[rows] == -1) & rc_neg
    ploidy = call_offsets.shape[1]
    lengths = np.zeros((n, ploidy), np.int64)
    dest = np.zeros((n, ploidy), np.int64)
    args = (ref, ref_bounds, ref_starts, v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets, ref_index, spans, *iv)
    empty_out, empty_trk = np.zeros(0, np.uint8), np.zeros((len(names), 0), np.float32)
    run_split(span_haplotypes, n, 0, *args, reverse, dest, lengths, empty_out, empty_trk, False)
    # exon (i, p) goes after the earlier exons of its transcript (k, p)
    before = np.cumsum(lengths, axis=0) - lengths
    within = before - before[first_exon][inst_of_exon]
    per = np.zeros((len(first_exon), ploidy), np.int64)
    np.add.at(per, inst_of_exon, lengths)
    inst_start = (np.cumsum(per.ravel()) - per.ravel()).reshape(per.shape)
    dest[:] = inst_start[inst_of_exon] + within
    total = int(per.sum())
    out = np.empty(total, np.uint8)
    tracks = np.empty((len(names), total), np.float32)
    run_split(span_haplotypes, n, out.nbytes + tracks.nbytes, *args, reverse, dest, lengths, out, tracks, True)
    return out, tracks, per
