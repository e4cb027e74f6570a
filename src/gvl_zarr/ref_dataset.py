"""`RefDataset`: fixed-length reference windows of BED regions, straight from a FASTA.

No store is written: windows are read through the same `FastaReference` (pyfaidx, reopened
per process, windows kept in a byte-budgeted `ChunkCache`) that serves `Dataset.open(...,
reference=FASTA)`, and cut by the same `reference_windows` kernel, so a RefDataset and a
dataset written with `reference=` return identical bytes for the same regions.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from ._cache import ChunkCache, resolve_budget
from ._chunks import range_index
from ._contigs import require_contig
from ._indexing import normalize
from ._kernels import prepare
from ._kernels._threads import run_split
from ._kernels.haplotypes import reference_windows
from ._reference import FastaReference
from ._region_labels import NameIndex, is_names
from ._regions import STRAND_CODES, resize
from .errors import DatasetIndexError, InputFileError, SettingsError
from .ragged import Ragged
from .readers.bed import read_bed
from .readers.fasta import FastaReader
from .splice import SpliceMap, check_splice_info, group_exons

_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    _COMPLEMENT[_a] = _b

_UNSET: Any = object()


@dataclasses.dataclass(frozen=True)
class RefSettings:
    """What a RefDataset returns; change with `RefDataset.with_settings`."""

    jitter: int = 0
    rc_neg: bool = True
    fixed_jitter: bool = False
    seed: int = 0
    return_indices: bool = False
    transform: Callable[..., Any] | None = None
    region_names: str | None = None


class RefDataset:
    """Reference windows of `length` bp centred on each BED region, indexed like a 1-D array.

    >>> ds = RefDataset("hg38.fa.bgz", "peaks.bed", length=2048, jitter=64)  # doctest: +SKIP
    >>> ds[:8].shape  # (8, 2048) bytes S1  # doctest: +SKIP

    Args:
        reference: FASTA, plain or bgzipped (with its .fai/.gzi).
        bed: BED path or table; `strand` is used by `rc_neg`, other columns by `region_names`.
        length: window length; each region becomes `length` bp centred on its midpoint
            (start = mid - length // 2), as in `write`. Defaults to the regions' common width.
        jitter: each read shifts its window by a uniform integer in [-jitter, jitter];
            also the largest jitter `with_settings` may set later.
        rc_neg: reverse-complement windows of '-' strand regions.
        fixed_jitter: jitter is a fixed function of (seed, region index).
        seed: seed of the jitter.
        region_names: BED column whose (unique) values name regions for indexing.
        splice_info: (transcript column, exon number column) of an exon BED: the dataset's
            rows are then transcripts, each its exons as given (no length, no jitter) joined in
            exon-number order, '-' exons reverse-complemented with rc_neg, as `Ragged` bytes;
            transcripts are named by their id.
        return_indices: also return the region index of each window.
        cache_bytes: budget of the window cache (default as `Dataset.open`).

    Outside the contig, windows hold `N`. Outputs are `(batch, length)` `S1` arrays, or
    `(length,)` for a single int or name.
    """

    def __init__(
        self,
        reference: str | os.PathLike,
        bed: Any,
        length: int | None = None,
        jitter: int = 0,
        rc_neg: bool = True,
        *,
        fixed_jitter: bool = False,
        seed: int = 0,
        region_names: str | None = None,
        return_indices: bool = False,
        transform: Callable[..., Any] | None = None,
        cache_bytes: int | str | None = None,
        splice_info: tuple[str, str] | None = None,
    ) -> None:
        self._reference = os.fspath(reference)
        self._bed_arg = bed
        source = os.fspath(bed) if isinstance(bed, (str, os.PathLike)) else "BED table"
        self.bed = read_bed(bed)
        if not isinstance(jitter, (int, np.integer)) or jitter < 0:
            raise SettingsError(f"jitter must be a non-negative int, got {jitter!r}.")
        self._splice_info = splice_info
        if splice_info is not None:
            _check_splice_args(length, jitter)
            self.length = 0  # exons as given: each transcript has its own length
        else:
            self.length = _resolve_length(self.bed, length, source)
        self.max_jitter = int(jitter)
        self._cache_bytes = cache_bytes
        fasta = FastaReader(self._reference)
        try:
            chroms = self.bed["chrom"].to_list()
            contigs = list(dict.fromkeys(chroms))
            names = [require_contig(c, fasta.contigs, file=fasta.path, what="BED") for c in contigs]
        finally:
            fasta.close()
        self._contig = np.array([contigs.index(c) for c in chroms], np.int32)
        self._strand = np.array([STRAND_CODES[s] for s in self.bed["strand"]], np.int8)
        self._splice: SpliceMap | None = None
        if splice_info is not None:
            t_col, e_col = check_splice_info(splice_info)
            for col in (t_col, e_col):
                if col not in self.bed.columns:
                    raise SettingsError(
                        f"splice_info column {col!r} is not a column of {source}; columns: {self.bed.columns}."
                    )
            self._splice = group_exons(
                self.bed[t_col].cast(pl.Utf8).to_numpy(), self.bed[e_col].cast(pl.Utf8).to_numpy(),
                self._contig, self._strand, t_col, e_col, source,
            )  # fmt: skip
            self._start = self.bed["chromStart"].to_numpy().astype(np.int64)
            lo, hi = self._start, self.bed["chromEnd"].to_numpy().astype(np.int64)
        else:
            self._start, _ = resize(self.bed, self.length)
            lo = self._start - self.max_jitter
            hi = self._start + self.length + self.max_jitter
        prepare()
        self._fetch = FastaReference(
            self._reference, names, self._contig, lo, hi, ChunkCache(resolve_budget(cache_bytes))
        )
        self._bounds = np.stack([np.zeros(len(lo), np.int64), hi - lo], axis=1)
        self._origins = lo
        n_rows = self.bed.height if self._splice is None else len(self._splice.names)
        self._regions = np.arange(n_rows, dtype=np.int64)  # transcripts when spliced
        self._name_indexes: dict[str, NameIndex] = {}
        self.settings = RefSettings()
        self.settings = self._checked(
            dataclasses.replace(
                self.settings,
                jitter=int(jitter),
                rc_neg=rc_neg,
                fixed_jitter=fixed_jitter,
                seed=seed,
                region_names=region_names,
                return_indices=return_indices,
                transform=transform,
            )
        )

    # ------------------------------------------------------------ properties
    @property
    def n_regions(self) -> int:
        return len(self._regions)

    @property
    def shape(self) -> tuple[int]:
        return (self.n_regions,)

    def __len__(self) -> int:
        return self.n_regions

    @property
    def region_length(self) -> int:
        return self.length

    def get_bed(self) -> pl.DataFrame:
        """The BED rows of this dataset's regions, with the windows as `window_start`/`window_end`
        (spliced: the exon rows of its transcripts, transcript by transcript in exon order)."""
        if self._splice is not None:
            m = self._splice
            n = m.exon_offsets[self._regions + 1] - m.exon_offsets[self._regions]
            return self.bed[m.exon_rows[range_index(m.exon_offsets[self._regions], n)]]
        starts = self._start[self._regions]
        return self.bed[self._regions].with_columns(
            pl.Series("window_start", starts), pl.Series("window_end", starts + self.length)
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"gvl_zarr.RefDataset({self._reference!r}, n_regions={self.n_regions}, length={self.length}, "
            f"jitter={s.jitter}, rc_neg={s.rc_neg})"
        )

    # -------------------------------------------------------------- settings
    def with_settings(
        self,
        *,
        jitter: int = _UNSET,
        rc_neg: bool = _UNSET,
        fixed_jitter: bool = _UNSET,
        seed: int = _UNSET,
        return_indices: bool = _UNSET,
        transform: Callable[..., Any] | None = _UNSET,
        region_names: str | None = _UNSET,
    ) -> RefDataset:
        """A new RefDataset with some settings changed (sharing this one's window cache)."""
        given = {
            "jitter": jitter,
            "rc_neg": rc_neg,
            "fixed_jitter": fixed_jitter,
            "seed": seed,
            "return_indices": return_indices,
            "transform": transform,
            "region_names": region_names,
        }
        settings = dataclasses.replace(self.settings, **{k: v for k, v in given.items() if v is not _UNSET})
        return self._derive(self._regions, self._checked(settings))

    def _checked(self, s: RefSettings) -> RefSettings:
        if self._splice_info is not None and s.jitter:
            _check_splice_args(None, s.jitter)
        if not isinstance(s.jitter, (int, np.integer)) or s.jitter < 0:
            raise SettingsError(f"jitter must be a non-negative int, got {s.jitter!r}.")
        if s.jitter > self.max_jitter:
            raise SettingsError(
                f"jitter={s.jitter} exceeds the jitter this RefDataset was made with ({self.max_jitter}); "
                f"make it with RefDataset(..., jitter={s.jitter})."
            )
        if s.transform is not None and not callable(s.transform):
            raise SettingsError("transform must be callable.")
        if s.region_names is not None:
            self._name_index(s.region_names)
        return s

    def _derive(self, regions: np.ndarray, settings: RefSettings) -> RefDataset:
        new = object.__new__(RefDataset)
        new.__dict__.update(self.__dict__)
        new._regions = regions
        new.settings = settings
        return new

    def _name_index(self, column: str) -> NameIndex:
        if self._splice is not None:  # spliced: rows are transcripts, named by their id
            column = "transcript"
            if column not in self._name_indexes:
                self._name_indexes[column] = NameIndex(self._splice.names, column)
            return self._name_indexes[column]
        index = self._name_indexes.get(column)
        if index is None:
            if column not in self.bed.columns or column in ("chrom", "chromStart", "chromEnd"):
                raise SettingsError(f"region_names={column!r} is not a column of the BED; columns: {self.bed.columns}.")
            names = self.bed[column].cast(pl.Utf8).fill_null("").to_numpy().astype(str)
            index = self._name_indexes[column] = NameIndex(names, column)
        return index

    # --------------------------------------------------------------- subsets
    def subset_to(self, regions: Any) -> RefDataset:
        """A RefDataset over some regions: names (with `region_names`), int indices or a mask."""
        return self._derive(self._regions[np.atleast_1d(self._positions(regions))], self.settings)

    def _positions(self, key: Any) -> Any:
        """Positions in this dataset of a region key; names are resolved, the rest kept."""
        if not is_names(key):
            return key
        column = self.settings.region_names if self._splice is None else "transcript"
        if column is None:
            raise DatasetIndexError(
                f"regions were given by name ({key!r:.60}) but no region_names column is set; "
                "pass RefDataset(..., region_names='name') or call with_settings(region_names=...)."
            )
        rows = self._name_index(column).positions(key)
        local = np.full(self.bed.height if self._splice is None else len(self._splice.names), -1, np.int64)
        local[self._regions] = np.arange(self.n_regions)
        pos = local[rows]
        if np.any(pos < 0):
            raise DatasetIndexError(f"region(s) {key!r:.80} are not in this subset of the RefDataset.")
        return int(pos) if np.ndim(pos) == 0 else pos

    # -------------------------------------------------------------- reading
    def __getitem__(self, key: Any) -> Any:
        """`ds[i]`, `ds[:8]`, `ds[[3, 1]]`, `ds["ENSG…"]`: windows (batch, length) S1."""
        if isinstance(key, tuple):
            if len(key) != 1:
                raise DatasetIndexError(f"a RefDataset has one axis (regions); got an index of {len(key)} keys.")
            key = key[0]
        r_local, _, shape = normalize(self._positions(key), self.n_regions, 1)
        if self._splice is not None:
            return self._read_spliced(r_local, shape)
        return self._read(r_local, shape)

    def _read_spliced(self, t_local: np.ndarray, shape: tuple[int, ...]) -> Any:
        """Reference transcripts: exons in exon order, each reverse-complemented on '-'."""
        st, m = self.settings, self._splice
        assert m is not None
        t = self._regions[t_local]
        n_exons = m.exon_offsets[t + 1] - m.exon_offsets[t]
        rows = m.exon_rows[range_index(m.exon_offsets[t], n_exons)]
        unique, inverse = np.unique(rows, return_inverse=True)
        seq, first = self._fetch.windows(unique)
        first, lengths = first[inverse.ravel()], self._bounds[rows, 1]
        k = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rev = np.repeat((self._strand[rows] == -1) & st.rc_neg, lengths)
        span = np.repeat(lengths, lengths)
        data = seq[np.repeat(first, lengths) + np.where(rev, span - 1 - k, k)]
        data = np.where(rev, _COMPLEMENT[data], data)
        per = np.add.reduceat(lengths, np.concatenate([[0], np.cumsum(n_exons)[:-1]])) if len(t) else lengths[:0]
        offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
        outputs: list[Any] = [Ragged.from_offsets(data.view("S1"), shape, offsets)]
        if st.transform is not None:
            result = st.transform(*outputs)
            outputs = list(result) if isinstance(result, tuple) else [result]
        if st.return_indices:
            outputs.append(t_local.reshape(shape))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _read(self, r_local: np.ndarray, shape: tuple[int, ...]) -> Any:
        st = self.settings
        regions = self._regions[r_local]
        unique, inverse = np.unique(regions, return_inverse=True)
        seq, first = self._fetch.windows(unique)
        bounds = np.stack([first, first + self._bounds[unique, 1]], axis=1)
        win = self._start[regions] + self._shifts(r_local)
        out = np.empty((len(regions), self.length), np.uint8)
        run_split(
            reference_windows,
            len(regions),
            out.nbytes,
            seq,
            bounds,
            self._origins[unique],
            inverse.ravel().astype(np.int64),
            win,
            out,
        )
        if st.rc_neg:
            neg = self._strand[regions] == -1
            if neg.any():
                out[neg] = _COMPLEMENT[out[neg][:, ::-1]]
        outputs: list[Any] = [out.view("S1").reshape((*shape, self.length))]
        if st.transform is not None:
            result = st.transform(*outputs)
            outputs = list(result) if isinstance(result, tuple) else [result]
        if st.return_indices:
            outputs.append(r_local.reshape(shape))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _shifts(self, r_local: np.ndarray) -> np.ndarray:
        from .dataset import jitter_shifts

        return jitter_shifts(r_local, self.settings)

    # ------------------------------------------------------------------ torch
    def to_torch_dataset(self) -> Any:
        """A `torch.utils.data.Dataset` whose items are whole batches (pass index lists)."""
        from .torch_loader import TorchDataset

        return TorchDataset(self)

    def to_dataloader(self, batch_size: int = 1, shuffle: bool = False, sampler: Any = None, **kwargs: Any) -> Any:
        """A PyTorch DataLoader reading one batch per call; see `Dataset.to_dataloader`."""
        from .torch_loader import make_dataloader

        return make_dataloader(self, batch_size=batch_size, shuffle=shuffle, sampler=sampler, **kwargs)

    # ----------------------------------------------------------------- pickle
    def __getstate__(self) -> dict:
        """Spawned DataLoader workers rebuild the FASTA reader and cache from the arguments."""
        return {
            "args": (self._reference, self._bed_arg, self.length, self.max_jitter, self._splice_info),
            "cache_bytes": self._cache_bytes,
            "regions": self._regions,
            "settings": self.settings,
        }

    def __setstate__(self, state: dict) -> None:
        reference, bed, length, jitter, splice_info = state["args"]
        if splice_info is not None:
            length = None
        self.__init__(reference, bed, length, jitter, cache_bytes=state["cache_bytes"], splice_info=splice_info)
        self._regions = state["regions"]
        self.settings = self._checked(state["settings"])


def _check_splice_args(length: Any, jitter: Any) -> None:
    if length is not None:
        raise SettingsError(
            f"length={length!r} cannot be used with splice_info: a spliced RefDataset returns whole transcripts "
            "(exons as given, joined), whose lengths differ. Fix: drop length=."
        )
    if jitter:
        raise SettingsError(
            f"splicing needs jitter=0, got jitter={jitter}: a transcript's exons cannot be shifted independently."
        )


def _resolve_length(bed: pl.DataFrame, length: int | None, source: str) -> int:
    if length is not None:
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length <= 0:
            raise SettingsError(f"length must be a positive int, got {length!r}.")
        return int(length)
    widths = (bed["chromEnd"] - bed["chromStart"]).unique()
    if widths.len() != 1:
        raise InputFileError(
            f"regions of {source} have {widths.len()} different widths; pass length= to centre a "
            "window of one length on each."
        )
    return int(widths[0])
