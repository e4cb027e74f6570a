"""`Dataset`: open a store, choose settings and subsets, and read batches."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from . import _outputs, _query, _settings_ext
from ._indexing import normalize
from ._kernels.jitter import hashed_shifts
from ._query import StoreData
from ._region_labels import NameIndex, is_names, read_column
from ._settings import Settings
from ._store import is_object_store
from ._variant_fields import BUILTIN, check_requested
from .errors import DatasetIndexError, InputFileError, SettingsError
from .readers.bed import read_bed
from .variants import read_variants

_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    _COMPLEMENT[_a] = _b

_UNSET: Any = object()


class Dataset:
    """Personal haplotypes and realigned tracks of (region, sample) instances.

    Indexing mirrors NumPy on a virtual (n_regions, n_samples) array; see `__getitem__`.
    Outputs, with `batch` the index's shape (absent for a single instance):

    - haplotypes: `(batch, ploidy, length)` bytes `S1`, uppercase;
    - reference (`return_sequences="reference"`): `(batch, length)` `S1`;
    - tracks with haplotypes: `(batch, tracks, ploidy, length)` float32, realigned to each
      haplotype; without: `(batch, tracks, length)` in reference coordinates. The tracks
      axis is dropped when `return_tracks` is a single name (or the dataset has one track
      and return_tracks is left at its default).

    Several outputs come as a tuple in the order sequences, tracks, then indices.
    `with_len` changes `length` ("variable": the batch's longest haplotype, padded;
    "ragged": `Ragged` outputs of true lengths); `with_seqs("annotated")` returns
    `AnnotatedHaps`. docs/from_genvarloader.md maps GenVarLoader's names onto these.
    """

    def __init__(self, data: StoreData, regions: np.ndarray, samples: np.ndarray, settings: Settings) -> None:
        self._data = data
        self._regions = regions
        self._samples = samples
        self.settings = settings

    # ------------------------------------------------------------------ open
    @classmethod
    def open(
        cls,
        path: Any,
        reference: str | os.PathLike | None = None,
        cache_bytes: int | str | None = None,
        preload: bool = True,
        splice_info: tuple[str, str] | None = None,
        storage_options: dict[str, Any] | None = None,
        disk_cache: str | os.PathLike | None = None,
        disk_cache_bytes: int | str = "10GiB",
        **settings: Any,
    ) -> Any:
        """Open a dataset at a path, URL, fsspec mapper or zarr Store.

        `reference` (FASTA, plain or bgzipped) supplies sequences for stores written without
        `write(..., reference=)`; a store that holds its reference needs none (a FASTA given
        anyway is used instead, after checking the stored REF alleles against it). Without
        either the dataset returns tracks only.

        `cache_bytes` bounds the decoded data this dataset keeps in memory (all its derived
        datasets share one cache; each DataLoader worker process has its own). Default:
        $GVL_ZARR_CACHE_BYTES, else 1 GiB (also "512MiB", "2GB"). Up to half of it holds whole
        arrays (the reference, variants, offsets, calls, then track intervals, as far as they
        fit), which `preload` fills in a background thread; the rest is an LRU of chunks.
        Track intervals of a local store are read in place from memory-mapped files (file
        pages, outside the budget); `preload` also verifies their checksums in the background.
        `storage_options` configure the fsspec filesystem of a URL (s3://, http(s)://, …):
        credentials, `client_kwargs={"endpoint_url": ...}` for S3-compatible servers, `anon`;
        see docs/cloud.md. `disk_cache` (a folder) keeps the raw chunk bytes fetched from a
        remote store on local disk, at most `disk_cache_bytes` (least recently used evicted),
        shared by DataLoader workers and later runs.         Keyword settings are passed to `with_settings` (GenVarLoader's `jitter`, `rng`,
        `rc_neg` included; docs/from_genvarloader.md maps the rest); jitter defaults to
        the dataset's max_jitter.

        `splice_info=(transcript_column, exon_number_column)` (BED columns stored with an exon
        dataset) returns a `SplicedDataset` of personal transcripts instead (jitter 0).
        """
        data = StoreData(path, reference, cache_bytes, preload, storage_options, disk_cache, disk_cache_bytes)
        base = Settings(
            jitter=data.max_jitter,
            return_sequences=("haplotypes" if data.has_genotypes else "reference") if data.ref is not None else None,
            return_tracks=tuple(data.tracks),
            squeeze_tracks=len(data.tracks) == 1,
        )
        ds = cls(data, np.arange(len(data.r_start)), np.arange(len(data.samples)), base)
        if splice_info is not None:
            from .splice import SplicedDataset, SpliceMap

            ds = ds.with_settings(**{"jitter": 0, **settings})
            return SplicedDataset(ds, SpliceMap.from_store(ds, splice_info))
        return ds.with_settings(**settings) if settings else ds

    # ------------------------------------------------------------ properties
    @property
    def samples(self) -> list[str]:
        """Sample names, in dataset order."""
        return self._data.samples[self._samples].tolist()

    @property
    def n_regions(self) -> int:
        return len(self._regions)

    @property
    def n_samples(self) -> int:
        return len(self._samples)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_regions, self.n_samples)

    def __len__(self) -> int:
        return self.n_regions * self.n_samples

    @property
    def region_length(self) -> int:
        """Length of every output sequence and track."""
        return self._data.length

    @property
    def max_jitter(self) -> int:
        return self._data.max_jitter

    @property
    def ploidy(self) -> int:
        return self._data.ploidy

    @property
    def available_tracks(self) -> list[str]:
        return list(self._data.tracks)

    @property
    def has_reference(self) -> bool:
        return self._data.ref is not None

    def prefetch(self, batches: Sequence[Any], keys: Sequence[Any] | None = None) -> None:
        """Start fetching, in the background, what reading `batches` (raveled instance
        indices, as passed to `ds[...]`) with the current settings will need, so that
        reading them later finds their chunks in the cache. Remote stores only: a no-op on
        a local folder. What is queued and not yet started is replaced; `keys` (one
        hashable per batch) skip batches already fetched. Each takes at most the LRU's
        capacity over the number listed (at least 2); once a batch has been fetched, only as
        many as the capacity holds at its size are kept, soonest first. `to_dataloader`
        calls this itself (see docs/cloud.md).
        """
        d, st = self._data, self.settings
        if not d.remote or not len(batches):
            return
        from ._prefetch import Needs, Task

        needs = Needs(
            genotypes=st.return_sequences in ("haplotypes", "annotated", "variants"),
            reference=st.return_sequences in ("haplotypes", "annotated", "reference"),
            tracks=tuple(st.return_tracks),
        )
        # list no more than the budget holds at the size of the largest task loaded so far:
        # one that does not fit its share is split and partly left to its batches, which
        # then fetch chunk by chunk (measured 991 against 5,033 instances/s on
        # benchmarks/remote.py with two windows ahead in a 64 MiB cache)
        size = d.prefetcher.task_bytes if d.prefetcher is not None else 0
        if size:
            batches = batches[: max(1, d.cache.capacity // size)]
            keys = keys[: len(batches)] if keys is not None else None
        limit = d.cache.capacity // max(len(batches), 2)
        tasks = []
        for i, batch in enumerate(batches):
            idx = np.asarray(batch, np.int64).ravel()
            if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
                raise DatasetIndexError(
                    f"prefetch: indices must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}."
                )
            r, s = np.divmod(idx, self.n_samples)
            key = keys[i] if keys is not None else ("batch", i, idx.tobytes())
            tasks.append(Task(key, self._regions[r], self._samples[s], needs, limit))
        d.prefetch(tasks)

    @property
    def remote(self) -> bool:
        """Whether the store is read over a network (any store but a local folder)."""
        return self._data.remote

    @property
    def fork_safe(self) -> bool:
        """Whether a forked process may read this dataset (False for obstore-backed stores,
        whose DataLoader workers `to_dataloader` starts with 'spawn')."""
        return not is_object_store(self._data.group.store)

    def cache_info(self) -> dict[str, int]:
        """The decoded-chunk cache of this process: budget, bytes and chunks held, hits,
        misses and bytes decoded so far."""
        return self._data.cache.stats()

    def get_bed(self) -> pl.DataFrame:
        """The dataset's regions as given in the input BED (chrom, chromStart, chromEnd,
        strand), with the written windows as `window_start`/`window_end`."""
        d, r = self._data, self._regions
        strand = np.array([".", "+", "-"])[np.asarray(d.r_strand[r], np.int64) % 3]
        return pl.DataFrame(
            {
                "chrom": np.asarray(d.contigs, dtype=object)[d.r_contig[r]].astype(str),
                "chromStart": d.r_bed_start[r],
                "chromEnd": d.r_bed_end[r],
                "strand": strand,
                "window_start": d.r_start[r],
                "window_end": d.r_end[r],
            }
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"gvl_zarr.Dataset({self._data.name!r}, n_regions={self.n_regions}, n_samples={self.n_samples}, "
            f"region_length={self.region_length}, sequences={s.return_sequences}, "
            f"tracks={list(s.return_tracks)}, jitter={s.jitter})"
        )

    # --------------------------------------------------------------- settings
    def with_settings(
        self,
        *,
        jitter: int = _UNSET,
        return_sequences: bool | str | None = _UNSET,
        return_tracks: bool | str | Sequence[str] | None = _UNSET,
        transform: Callable[..., Any] | None = _UNSET,
        rc_neg: bool = _UNSET,
        fixed_jitter: bool = _UNSET,
        deterministic: bool = _UNSET,
        return_indices: bool = _UNSET,
        seed: int = _UNSET,
        rng: int | np.random.Generator | None = _UNSET,
        output_length: int | str | None = _UNSET,
        insertion_fill: Any = _UNSET,
        region_names: str | None = _UNSET,
        var_fields: Sequence[str] = _UNSET,
        min_af: float | bool | None = _UNSET,
        max_af: float | bool | None = _UNSET,
        unphased_union: bool = _UNSET,
    ) -> Dataset:
        """A new Dataset with some settings changed; this one is left as it is.

        Args:
            return_sequences: True (haplotypes when the store has genotypes, else reference),
                "haplotypes", "annotated", "variants", "reference", or False/None.
            return_tracks: True (all), a name (no tracks axis), a list of names, or False/None.
            rng: GenVarLoader's name for the seed: an int, or a numpy Generator (a seed is
                drawn from it).
            deterministic: GenVarLoader's meaning: False lets over-long haplotypes start at
                a random offset in their extra bases.
            fixed_jitter: jitter is a fixed function of (seed, instance index).
            output_length: see `with_len`.
            insertion_fill: see `with_insertion_fill`.
            region_names: a BED column stored with the regions (e.g. "name"); its values then
                select regions in `subset_to`, `sel` and `ds["ENSG…", "NA12878"]`.
            var_fields: fields of the "variants" output, from `available_var_fields`
                (GenVarLoader's names: "alt", "ilen", "start", "ref", "dosage", INFO IDs).
            min_af, max_af: bounds on the stored INFO/AF of the variants listed by the
                "variants" output; False removes a bound (GenVarLoader's semantics).
            unphased_union: "variants" rows of shape (batch, 1): each instance's haplotypes
                folded onto one row (GenVarLoader's option for unphased calls).
        """
        changes: dict[str, Any] = {}
        if rng is not _UNSET and rng is not None:
            seed = _seed_of(rng)
        if output_length is not _UNSET:
            changes["output_length"] = _settings_ext.output_length(output_length)
        if insertion_fill is not _UNSET:
            changes["insertion_fill"] = _settings_ext.insertion_fill(insertion_fill, list(self._data.tracks))
        if return_sequences is not _UNSET:
            changes["return_sequences"] = self._sequence_mode(return_sequences)
        if return_tracks is not _UNSET:
            changes["return_tracks"], changes["squeeze_tracks"] = self._track_selection(return_tracks)
        if var_fields is not _UNSET:
            changes["var_fields"] = check_requested(var_fields, self.available_var_fields, self._data.name)
        for key, bound in (("min_af", min_af), ("max_af", max_af)):
            if bound is not _UNSET:
                changes[key] = self._af_bound(key, bound)
        for key, value in (
            ("jitter", jitter),
            ("transform", transform),
            ("rc_neg", rc_neg),
            ("fixed_jitter", fixed_jitter),
            ("deterministic", deterministic),
            ("return_indices", return_indices),
            ("seed", seed),
            ("region_names", region_names),
            ("unphased_union", unphased_union),
        ):
            if value is not _UNSET:
                changes[key] = value
        settings = dataclasses.replace(self.settings, **changes)
        self._check(settings)
        return Dataset(self._data, self._regions, self._samples, settings)

    @property
    def available_var_fields(self) -> list[str]:
        """Fields the "variants" output can give: alt, ilen, start, ref and the INFO/FORMAT
        fields the store was written with (`write(..., var_fields=[...])`)."""
        if not self._data.has_genotypes:
            return []
        return [*BUILTIN, *self._data.var_fields]

    @property
    def active_var_fields(self) -> list[str]:
        """Fields the "variants" output gives now (see `with_settings(var_fields=)`)."""
        return list(self.settings.var_fields)

    def _af_bound(self, key: str, value: float | bool | None) -> float | None:
        if value is False or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
            raise SettingsError(f"{key} must be an allele frequency in [0, 1], False or None; got {value!r}.")
        if "AF" not in self._data.var_fields:
            raise SettingsError(
                f"{key} filters on INFO/AF, which {self._data.name} was not written with. "
                "Fix: re-write it with write(..., var_fields=['AF']) from a VCF/BCF that has AF."
            )
        return float(value)

    # ------------------------------------------------- GenVarLoader-style names
    def with_len(self, output_length: int | str) -> Dataset:
        """Output length: "ragged" (`Ragged` outputs of each haplotype's true length),
        "variable" (true lengths padded with N / 0 to the batch's longest) or an int (that
        many bases from the window start, as GenVarLoader 0.43.1)."""
        return self.with_settings(output_length=output_length)

    def with_seqs(self, kind: str | None) -> Dataset:
        """Sequences: "haplotypes", "annotated", "reference", "variants" (`RaggedVariants`:
        each haplotype's ALT alleles in its window; no tracks) or None."""
        return self.with_settings(return_sequences=kind)

    def with_tracks(self, tracks: str | Sequence[str] | bool | None = None) -> Dataset:
        """Tracks: a name, a list of names or False; None keeps the current selection."""
        return self if tracks is None else self.with_settings(return_tracks=tracks)

    def with_insertion_fill(self, fill: Any) -> Dataset:
        """How realigned tracks are valued over insertions: one fill for every track, or a
        {track: fill} mapping (others repeat the anchor). Fills: `fill.Repeat5p`,
        `Repeat5pNormalized`, `Constant(value)`, `Interpolate()`, or a number."""
        if not self._data.tracks:
            raise SettingsError(f"{self._data.name} has no tracks; there is no insertion fill to set.")
        if self.settings.return_sequences not in ("haplotypes", "annotated") or not self.settings.return_tracks:
            raise SettingsError(
                "insertion fill applies to tracks realigned to haplotypes; select both first, e.g. "
                "ds.with_seqs('haplotypes').with_tracks(...).with_insertion_fill(...)."
            )
        return self.with_settings(insertion_fill=fill)

    def _sequence_mode(self, value: bool | str | None) -> str | None:
        if value is True:
            value = "haplotypes" if self._data.has_genotypes else "reference"
        if value is False or value is None:
            return None
        if value not in ("haplotypes", "annotated", "variants", "reference"):
            raise SettingsError(
                "return_sequences must be True, False, 'haplotypes', 'annotated', 'variants' or 'reference', "
                f"got {value!r}."
            )
        if value in ("haplotypes", "annotated", "variants") and not self._data.has_genotypes:
            raise SettingsError(f"{self._data.name} was written without variants; use return_sequences='reference'.")
        if self._data.ref is None and value != "variants":
            raise SettingsError(
                f"return_sequences={value!r} needs the reference: this store was written without one, so open it "
                f"with Dataset.open({self._data.name!r}, reference=FASTA), or re-write it with write(..., reference=FASTA)."
            )
        return value

    def _track_selection(self, value: bool | str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
        available = list(self._data.tracks)
        if value is True:
            return tuple(available), len(available) == 1
        if value is False or value is None:
            return (), False
        names = [value] if isinstance(value, str) else list(value)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise SettingsError(f"tracks {unknown} are not in {self._data.name}; available tracks: {available}.")
        return tuple(names), isinstance(value, str)

    def _check(self, s: Settings) -> None:
        if not isinstance(s.jitter, (int, np.integer)) or s.jitter < 0:
            raise SettingsError(f"jitter must be a non-negative int, got {s.jitter!r}.")
        if s.jitter > self._data.max_jitter:
            raise SettingsError(
                f"jitter={s.jitter} exceeds the dataset's max_jitter={self._data.max_jitter}; "
                "re-write the dataset with a larger max_jitter to jitter further."
            )
        for name in s.return_tracks:
            limit = self._data.tracks[name].max_jitter
            if s.jitter > limit:
                raise SettingsError(f"track {name!r} was stored with max_jitter={limit}; use jitter <= {limit}.")
        if s.return_sequences is None and not s.return_tracks:
            raise SettingsError("nothing to return: enable return_sequences or return_tracks.")
        if s.return_sequences == "variants" and s.return_tracks:
            raise SettingsError(
                "return_sequences='variants' returns no tracks; use with_tracks(False), or 'haplotypes' for "
                "tracks realigned to haplotypes."
            )
        if s.unphased_union and s.return_sequences in ("haplotypes", "annotated"):
            raise SettingsError(
                f"unphased_union folds haplotypes together, so it does not apply to {s.return_sequences!r} output. "
                "Fix: with_seqs('variants') in the same call, or with_settings(unphased_union=False)."
            )
        if s.return_sequences == "variants" and isinstance(s.output_length, int):
            # GenVarLoader 0.43.1 refuses an int length with variants too; "variable" it
            # answers with the same ragged variants, and so does this
            raise SettingsError(
                f"return_sequences='variants' gives ragged rows of variants; output length {s.output_length} "
                "does not apply. Fix: with_len('ragged') (or 'variable', the same for variants)."
            )
        if s.transform is not None and not callable(s.transform):
            raise SettingsError("transform must be callable.")
        _settings_ext.check_length(s, self._data)
        if s.region_names is not None:
            self._name_index(s.region_names)

    def _name_index(self, column: str) -> NameIndex:
        """Store-wide lookup of the regions by their value in BED column `column`."""
        index = self._data.name_indexes.get(column)
        if index is None:
            d = self._data
            index = NameIndex(read_column(d.group, d.attrs, column, d.name), column)
            d.name_indexes[column] = index
        return index

    def _named_regions(self, names: Any) -> np.ndarray | int:
        """Positions in this dataset of regions named in the `region_names` column."""
        column = self.settings.region_names
        if column is None:
            raise DatasetIndexError(
                f"regions were given by name ({names!r:.60}) but no region_names column is set; open with "
                "Dataset.open(..., region_names='name') or call with_settings(region_names=...)."
            )
        store_rows = self._name_index(column).positions(names)
        local = np.full(len(self._data.r_start), -1, np.int64)
        local[self._regions] = np.arange(self.n_regions)
        pos = local[store_rows]
        if np.any(pos < 0):
            raise DatasetIndexError(f"region(s) {names!r:.80} are in the store but not in this subset of it.")
        return int(pos) if np.ndim(pos) == 0 else pos

    # --------------------------------------------------------------- subsets
    def subset_to(self, regions: Any = None, samples: Any = None) -> Dataset:
        """A Dataset over some regions and/or samples (in the order given).

        regions: BED path or table (rows matched on chrom, chromStart, chromEnd), int
            indices or a boolean mask. samples: names, int indices or a boolean mask.
        """
        new_regions = self._regions if regions is None else self._regions[self._region_positions(regions)]
        new_samples = self._samples if samples is None else self._samples[self._sample_positions(samples)]
        return Dataset(self._data, new_regions, new_samples, self.settings)

    def _region_positions(self, regions: Any) -> np.ndarray:
        if self.settings.region_names is not None and is_names(regions) and not _is_file(regions):
            return np.atleast_1d(self._named_regions(regions))
        if isinstance(regions, (str, os.PathLike, pl.DataFrame)) or hasattr(regions, "columns"):
            wanted = read_bed(regions)
            bed = self.get_bed().with_row_index("_pos")
            hits = (
                wanted.select("chrom", "chromStart", "chromEnd")
                .with_row_index("_order")
                .join(bed, on=["chrom", "chromStart", "chromEnd"], how="left")
            )
            missing = hits.filter(pl.col("_pos").is_null())
            if missing.height:
                m = missing.row(0, named=True)
                raise InputFileError(
                    f"region {m['chrom']}:{m['chromStart']}-{m['chromEnd']} (and {missing.height - 1} more) "
                    "is not in this dataset; regions are matched on the BED rows it was written from."
                )
            return hits.unique("_order", keep="first", maintain_order=True)["_pos"].to_numpy().astype(np.int64)
        r, _, _ = normalize((regions, 0), self.n_regions, self.n_samples)
        return r

    def _sample_positions(self, samples: Any) -> np.ndarray:
        names = [samples] if isinstance(samples, str) else samples
        if isinstance(names, (list, tuple, np.ndarray)) and len(names) and isinstance(np.asarray(names).flat[0], str):
            lookup = {name: i for i, name in enumerate(self.samples)}
            unknown = [n for n in names if n not in lookup]
            if unknown:
                raise DatasetIndexError(f"samples {unknown[:5]} are not in this dataset.")
            pos = np.array([lookup[n] for n in names], np.int64)
            return pos[0] if isinstance(samples, str) else pos
        _, s, _ = normalize((0, samples), self.n_regions, self.n_samples)
        return s if isinstance(samples, slice) or np.ndim(samples) else s[0]

    # ------------------------------------------------------------- indexing
    def isel(self, regions: Any = None, samples: Any = None) -> Any:
        """Read by positional region and sample indices (ints drop their axis)."""
        return self[slice(None) if regions is None else regions, slice(None) if samples is None else samples]

    def sel(self, regions: Any = None, samples: Any = None) -> Any:
        """Read by labels: regions as BED rows (table) or names (with `region_names`),
        samples as names. A single name drops its axis."""
        if regions is None:
            r = slice(None)
        elif self.settings.region_names is not None and is_names(regions):
            r = self._named_regions(regions)
        else:
            r = self._region_positions(regions)
        s = slice(None) if samples is None else self._sample_positions(samples)
        return self[r, s]

    def __getitem__(self, key: Any) -> Any:
        """`ds[i]` / `ds[:10]`: raveled instances (region-major); `ds[r, s]`: regions × samples,
        each also by name (regions with `region_names` set, samples always)."""
        if isinstance(key, tuple) and len(key) == 2 and (is_names(key[0]) or is_names(key[1])):
            r_key = self._named_regions(key[0]) if is_names(key[0]) else key[0]
            s_key = self._sample_positions(key[1]) if is_names(key[1]) else key[1]
            key = (r_key, s_key)
        r, s, shape = normalize(key, self.n_regions, self.n_samples)
        return self._read(r, s, shape)

    def _read(self, r_local: np.ndarray, s_local: np.ndarray, shape: tuple[int, ...]) -> Any:
        st, d = self.settings, self._data
        regions = self._regions[r_local]
        samples = self._samples[s_local]
        # raveled instance ids: only jitter and return_indices use them (a few µs a batch)
        ds_idx = r_local * self.n_samples + s_local if st.jitter or st.return_indices else None
        win = d.r_start[regions] if ds_idx is None else d.r_start[regions] + self._shifts(ds_idx)
        outputs: list[np.ndarray] = []
        seq = tracks = None
        names = list(st.return_tracks)
        if st.return_sequences in ("haplotypes", "annotated"):
            rng = _process_rng(st.seed) if not st.deterministic else None
            with d.cache.reading():  # kernels read paged chunks in place; outputs are new arrays
                outputs = _outputs.haplotype_outputs(d, st, regions, samples, win, shape, rng)
            return self._finish(outputs, ds_idx, r_local, s_local, shape)
        if st.return_sequences == "variants":  # (may return views of what it reads: copies)
            return self._finish([read_variants(d, regions, samples, win, shape, st)], ds_idx, r_local, s_local, shape)
        length = st.output_length if isinstance(st.output_length, int) else None
        with d.cache.reading():
            if st.return_sequences == "reference":
                seq = _query.read_reference(d, regions, win, length)
            if names:
                tracks = _query.read_tracks_reference(d, names, regions, samples, win, length)
        if st.rc_neg and d.any_minus_strand:
            neg = d.r_strand[regions] == -1
            if neg.any():
                if seq is not None:
                    seq[neg] = _COMPLEMENT[seq[neg][..., ::-1]]
                if tracks is not None:
                    tracks[neg] = tracks[neg][..., ::-1]
        if seq is not None:
            outputs.append(seq.view("S1").reshape(shape + seq.shape[1:]))
        if tracks is not None:
            if st.squeeze_tracks:
                tracks = tracks[:, 0]
            outputs.append(tracks.reshape(shape + tracks.shape[1:]))
        if st.output_length == "ragged":
            outputs = [_outputs.as_ragged(o) for o in outputs]
        return self._finish(outputs, ds_idx, r_local, s_local, shape)

    def _finish(self, outputs: list, ds_idx: np.ndarray | None, r_local, s_local, shape) -> Any:
        st = self.settings
        if st.transform is not None:
            result = st.transform(*outputs)
            outputs = list(result) if isinstance(result, tuple) else [result]
        if st.return_indices:
            assert ds_idx is not None
            outputs += [ds_idx.reshape(shape), r_local.reshape(shape), s_local.reshape(shape)]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _shifts(self, ds_idx: np.ndarray) -> np.ndarray:
        return jitter_shifts(ds_idx, self.settings)

    # --------------------------------------------------------------- xarray
    def to_xarray(self, chunks: dict[str, int] | None = None) -> Any:
        """A lazy `xarray.Dataset` of this selection and settings, backed by dask.

        Variables: `haplotypes` (region, sample, ploid, position) `S1`; one float32 variable
        per track, realigned to the haplotypes (region, sample, ploid, position), or in
        reference coordinates (region, sample, position) without haplotypes; `reference`
        (region, position), or (region, sample, position) with jitter; `n_variants` and
        `haplotype_length` (region, sample, ploid). Blocks follow the store's chunks;
        `chunks={"region": n, "sample": m}` sets their sizes. Jitter shifts are fixed per
        (seed, instance) as with fixed_jitter=True. See docs/xarray.md.
        """
        from .xarray_view import to_xarray

        return to_xarray(self, chunks)

    def n_variants(self) -> np.ndarray:
        """ALT calls applied to each haplotype within its window, (n_regions, n_samples,
        ploidy) int32, from the stored calls (no sequences built); see docs/xarray.md."""
        from ._summaries import grid

        return grid(self, 0)

    def haplotype_lengths(self) -> np.ndarray:
        """Personal bases of each haplotype's window before it is cut or padded to
        `region_length`, (n_regions, n_samples, ploidy) int64; see docs/xarray.md."""
        from ._summaries import grid

        return grid(self, 1)

    # ------------------------------------------------------ transformed tracks
    def write_transformed_track(
        self,
        new_name: str,
        existing_name: str,
        transform: Callable[..., Any],
        *,
        overwrite: bool = False,
        progress: bool = True,
    ) -> Dataset:
        """Compute a new track from an existing one and store it beside it.

        `transform(dataset_indices, region_indices, sample_indices, tracks)` is called once
        per region with this dataset's indices and `tracks`, a `Ragged` of shape
        (n_samples,) holding each stored (region, sample) track in reference coordinates
        over [window_start - max_jitter, fetch_end): `region_length` values when the
        dataset has no jitter and no deletions, more otherwise. It returns a `Ragged` with
        the same offsets. Returns a Dataset that can select the new track.
        """
        from ._transformed import write_transformed_track

        write_transformed_track(self, new_name, existing_name, transform, overwrite=overwrite, progress=progress)
        self._data.refresh_tracks(rewritten=new_name)
        return Dataset(self._data, self._regions, self._samples, self.settings)

    # ------------------------------------------------------------------ torch
    def to_torch_dataset(self) -> Any:
        """A `torch.utils.data.Dataset` whose items are whole batches (pass index lists)."""
        from .torch_loader import TorchDataset

        return TorchDataset(self)

    def to_dataloader(
        self, batch_size: int = 1, shuffle: bool | str = False, sampler: Any = None, **kwargs: Any
    ) -> Any:
        """A PyTorch DataLoader reading one batch per dataset call; see `torch_loader`.

        shuffle: False, True/"random", or "chunks" (chunk-aware block shuffle for remote
        stores, `gvl_zarr.sampler`). `distributed=True` shards batches across ranks;
        `seed`, `shuffle_window`, `drop_last`, `prefetch` (remote stores: how far ahead to
        fetch in the background, see docs/cloud.md) and DataLoader arguments are passed on."""
        from .torch_loader import make_dataloader

        return make_dataloader(self, batch_size=batch_size, shuffle=shuffle, sampler=sampler, **kwargs)


def _seed_of(rng: int | np.random.Generator) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**31))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    raise SettingsError(f"rng must be an int seed or a numpy Generator, got {rng!r}.")


def _is_file(value: Any) -> bool:
    return isinstance(value, str) and os.path.exists(value)


_RNGS: dict[tuple[int, int], np.random.Generator] = {}


def _process_rng(seed: int) -> np.random.Generator:
    """One generator per (process, seed): forked DataLoader workers draw different jitter."""
    key = (os.getpid(), seed)
    rng = _RNGS.get(key)
    if rng is None:
        rng = _RNGS[key] = np.random.default_rng([seed, os.getpid()])
    return rng


_DRAWS: dict[tuple[int, int, int], list] = {}  # (pid, seed, jitter) -> [shifts drawn, next unused]
_DRAW_BLOCK = 4096


def jitter_shifts(ids: np.ndarray, settings: Any) -> np.ndarray:
    """Window shifts of instances `ids` under `settings` (jitter, fixed_jitter, seed): zeros,
    a hash of (seed, id) with fixed_jitter, else draws from the process's generator."""
    j = settings.jitter
    if j == 0:
        return np.zeros(len(ids), np.int64)
    if settings.fixed_jitter:
        out = np.empty(len(ids), np.int64)
        hashed_shifts(np.ascontiguousarray(ids, np.int64), settings.seed, j, out)
        return out
    return random_shifts(settings.seed, j, len(ids))


def random_shifts(seed: int, jitter: int, n: int) -> np.ndarray:
    """`n` shifts uniform in [-jitter, jitter] from the process's generator for `seed` (read
    only: callers add them to window starts). Drawn 4,096 at a time: one `integers` call costs
    ~4 µs, ~10% of a 32 × 16 kb reference batch (large store, jitter 128 vs 0: 47 vs 35-40 µs)."""
    key = (os.getpid(), seed, jitter)
    block = _DRAWS.get(key)
    if block is None or block[1] + n > len(block[0]):
        if n > _DRAW_BLOCK:
            return _process_rng(seed).integers(-jitter, jitter + 1, n)
        block = _DRAWS[key] = [_process_rng(seed).integers(-jitter, jitter + 1, _DRAW_BLOCK), 0]
    start = block[1]
    block[1] = start + n
    return block[0][start : start + n]
