"""The one bridge from storage to kernels: (region, sample) indices → output arrays.

`StoreData` opens a store once and keeps only the per-region arrays in memory; every other
array (offsets, calls, variants, intervals, reference) is read chunk by chunk through one
byte-budgeted `ChunkCache`. `read_*` gather a batch's rows into compact arrays and call the
kernels on them with preallocated outputs.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr

from . import _layout, _shutdown, _variant_fields, _warm, schema
from ._annotation import is_annotation
from ._cache import ChunkCache, resolve_budget
from ._chunks import FlatArray, GridArray, Table, range_index, together
from ._contigs import require_contig
from ._kernels._threads import run_split
from ._kernels.haplotypes import reconstruct, reference_windows
from ._kernels.ragged import gather_rows
from ._kernels.summaries import haplotype_summaries
from ._kernels.tracks import FLAT_ROWS, tracks_reference
from ._refcheck import check_ref_alleles
from ._reference import FastaReference, StoreReference
from ._remote_errors import open_root
from ._store import describe
from .errors import GvlError
from .readers.fasta import FastaReader


@dataclass
class _Track:
    offsets: GridArray  # (region, sample, 2)
    intervals: Table  # starts, ends, values
    max_jitter: int
    annotation: bool = False  # one column for all samples (see _annotation)


class StoreData:
    """Everything read from one store (and its reference), shared by derived Datasets."""

    def __init__(
        self,
        location: Any,
        reference: str | os.PathLike | None,
        cache_bytes: int | str | None = None,
        preload: bool = True,
        storage_options: dict[str, Any] | None = None,
        disk_cache: str | os.PathLike | None = None,
        disk_cache_bytes: int | str = "10GiB",
    ) -> None:
        kernels = _warm.kernels()  # numba set-up and cached kernels, while the store opens
        self.location = location
        self.storage_options = storage_options
        self.disk_cache = os.fspath(disk_cache) if disk_cache is not None else None
        self.disk_cache_bytes = disk_cache_bytes
        self.preload = preload
        self._preload_pid = -1
        self._resident: list[Any] = []
        self.reference = os.fspath(reference) if reference is not None else None
        self.name = describe(location)
        self.cache = ChunkCache(resolve_budget(cache_bytes))
        self.group = open_root(location, self.name, storage_options)
        self.remote = not isinstance(self.group.store, zarr.storage.LocalStore)
        """Whether chunks are fetched over a network (any store but a local folder)."""
        self.prefetcher: Any = None
        schema.validate(self.group, self.name)
        if self.disk_cache is not None:
            self.cache.disk = _disk_cache(self, self.disk_cache, disk_cache_bytes)
        attrs = dict(self.group.attrs)
        self.attrs = attrs
        self.length: int = attrs["length"]
        self.max_jitter: int = attrs["max_jitter"]
        self.ploidy: int = attrs["ploidy"]
        self.contigs: list[str] = attrs["contigs"]
        self.has_genotypes: bool = attrs["has_genotypes"]
        g = self.group
        names, *regions = _read_whole(g, ["samples", *(spec.path for spec in schema.REGIONS)])
        self.samples = np.array(names.tolist(), dtype=str)
        (self.r_contig, self.r_start, self.r_end, self.r_strand, self.r_bed_start, self.r_bed_end, self.r_fetch_end) = (
            regions
        )
        self.any_minus_strand = bool((self.r_strand == -1).any())  # else rc_neg has nothing to flip
        # every read spans [start - max_jitter, fetch_end) of its region
        self.ref_starts = self.r_start - self.max_jitter
        spans = self.r_fetch_end - self.ref_starts
        self.ref_offsets = np.concatenate([[0], np.cumsum(spans)]).astype(np.int64)
        if self.has_genotypes:
            self.v_pos = self._flat("variants/pos")
            self.v_ref_len = self._flat("variants/ref_len")
            self.alt_offsets = self._flat("variants/alt_offsets")
            self.alt = self._flat("variants/alt")
            self.call_offsets = GridArray(g["genotypes/offsets"], self.cache, self.name)
            self.calls = self._flat("genotypes/variant_index")
            self.v_ref_offsets = self._flat("variants/ref_offsets")  # REF alleles: "ref" var field
            self.v_ref = self._flat("variants/ref")
        # optional INFO/FORMAT fields (root attr `var_fields`; absent in stores written without)
        specs = _variant_fields.stored(attrs)
        self.var_fields = {name: self._flat(spec.spec.path) for name, spec in specs.items()}
        self.var_field_sources = {name: spec.source for name, spec in specs.items()}
        self.name_indexes: dict[str, Any] = {}  # region_names column -> NameIndex, built on first use
        self.tracks: dict[str, _Track] = {}
        for name in attrs["tracks"]:
            self.tracks[name] = self._open_track(name)
        self.ref: StoreReference | FastaReference | None = None
        if self.reference is not None:
            self.ref = self._fasta_reference()
        elif attrs.get("has_reference"):
            self.ref = StoreReference(self._flat(schema.REFERENCE.path), self.ref_offsets)
        self._plan_residency()
        _warm.start(self)  # maps track shards and reads shard indexes in the background
        if kernels is not None:
            kernels.join()

    def _plan_residency(self) -> None:
        """Decode whole arrays into resident buffers while they fit the cache's reservable
        share, smallest per-instance cost first: the reference, the variant table, offsets,
        calls, then track intervals. The rest is read chunk by chunk through the LRU, flat
        arrays of whole-page chunks in place (`_paged.py`)."""
        candidates: list[list[Any]] = []
        if isinstance(self.ref, StoreReference):
            candidates.append([self.ref.sequence])
        if self.has_genotypes:
            candidates += [[self.v_pos, self.v_ref_len, self.alt_offsets, self.alt], [self.call_offsets], [self.calls]]
        candidates += [[t.offsets] for t in self.tracks.values()]
        candidates += [[t.intervals] for t in self.tracks.values() if t.intervals.mapped is None]
        for group in candidates:
            if not any(a.resident for a in group) and self.cache.reserve(sum(a.decoded_nbytes for a in group)):
                for a in group:
                    a.make_resident()
                    self._resident.extend(a.arrays if isinstance(a, Table) else [a])
        for group in candidates:  # the rest: flat arrays of whole-page chunks are paged
            for a in group:
                if not a.resident and isinstance(a, FlatArray | Table):
                    a.make_paged()
        self._ref_bounds = np.stack([self.ref_offsets[:-1], self.ref_offsets[1:]], axis=1)
        self._set_value_ranges()
        # weakly: the preload thread's queue keeps arrays, which must not keep this alive
        # (nor, through it, the prefetch thread, which ends with it)
        preload_later = weakref.WeakMethod(self._preload_later)
        for arr in self._resident:
            arr.on_first_use = lambda a, m=preload_later: (f := m()) is not None and f(a)

    def _set_value_ranges(self) -> None:
        """Every stored offset or index must point inside the array it indexes; chunks are
        checked as they are decoded (`ShardedArray.value_range`)."""
        if self.has_genotypes:
            self.call_offsets.value_range = (0, self.calls.shape[0])
            self.calls.value_range = (0, max(self.v_pos.shape[0] - 1, 0))
            self.alt_offsets.value_range = (0, self.alt.shape[0])
        for track in self.tracks.values():
            track.offsets.value_range = (0, track.intervals.arrays[0].shape[0])

    def _preload_later(self, arr: Any) -> None:
        """Queue a resident array that a batch just used for filling in the background.

        Filling on first use, not at open, spends no time on arrays the settings never read
        (tracks when only sequences are asked for). One thread per process: forked
        DataLoader workers start their own. Off with `Dataset.open(..., preload=False)`."""
        if not self.preload:
            return
        if self._preload_pid != os.getpid():
            with _PRELOAD_START:  # remote Tables reach here from several fetch threads at once
                if self._preload_pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    _shutdown.start(
                        threading.Thread(target=_preload, args=(self._queue,), daemon=True, name="gvl_zarr-preload")
                    )
                    self._preload_pid = os.getpid()
        self._queue.put(arr)

    def prefetch(self, tasks: list[Any]) -> None:
        """Queue `_prefetch.Task`s for this process's background prefetch thread."""
        if self.prefetcher is None:
            from ._prefetch import Prefetcher

            self.prefetcher = Prefetcher(self)
        self.prefetcher.submit(tasks)

    def _flat(self, path: str) -> FlatArray:
        return FlatArray(self.group[path], self.cache, self.name)

    def _open_track(self, name: str) -> _Track:
        base = f"tracks/{name}"
        info = self.attrs.get("track_info", {}).get(name, {})
        return _Track(
            offsets=GridArray(self.group[f"{base}/offsets"], self.cache, self.name),
            intervals=Table(
                self._flat(f"{base}/starts"),
                self._flat(f"{base}/ends"),
                self._flat(f"{base}/values"),
                background=self.preload,
            ),
            max_jitter=int(info.get("max_jitter", self.max_jitter)),
            annotation=is_annotation(info),
        )

    def refresh_tracks(self, rewritten: str | None = None) -> None:
        """Re-read the track list after a track was written into the store; `rewritten`
        names a track whose arrays were replaced (its decoded chunks are dropped)."""
        self.group = open_root(self.location, self.name, self.storage_options)
        self.attrs = dict(self.group.attrs)
        for name in self.attrs["tracks"]:
            if name not in self.tracks or name == rewritten:
                old = self.tracks.get(name)
                if old is not None:
                    for arr in (old.offsets, *old.intervals.arrays):
                        self.cache.drop(arr._id)
                        if arr.resident:
                            self.cache.release(arr.decoded_nbytes)
                        arr.close()
                self.tracks[name] = self._open_track(name)
        self._plan_residency()

    def _fasta_reference(self) -> FastaReference:
        """The external FASTA: contigs matched and every stored REF allele checked now."""
        fasta = FastaReader(self.reference)
        try:
            names = [require_contig(c, fasta.contigs, file=fasta.path, what="dataset") for c in self.contigs]
            if self.has_genotypes:
                g = self.group
                check_ref_alleles(
                    fasta,
                    names,
                    g["variants/contig"][:],
                    g["variants/pos"][:],
                    g["variants/ref_offsets"][:],
                    g["variants/ref"][:],
                    vcf=self.attrs.get("inputs", {}).get("variants") or self.name,
                )
        finally:
            fasta.close()
        return FastaReference(self.reference, names, self.r_contig, self.ref_starts, self.r_fetch_end, self.cache)

    def __getstate__(self) -> dict:
        return {
            "location": self.location,
            "reference": self.reference,
            "cache_bytes": self.cache.budget,
            "preload": self.preload,
            "storage_options": self.storage_options,
            "disk_cache": self.disk_cache,
            "disk_cache_bytes": self.disk_cache_bytes,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(
            state["location"],
            state["reference"],
            state.get("cache_bytes"),
            state.get("preload", True),
            state.get("storage_options"),
            state.get("disk_cache"),
            state.get("disk_cache_bytes", "10GiB"),
        )


def _disk_cache(data: StoreData, directory: str, max_bytes: int | str) -> Any:
    """A `DiskChunkCache` for a remote store, keyed by its name and root metadata."""
    import hashlib
    import json

    from ._diskcache import DiskChunkCache

    budget = resolve_budget(max_bytes)
    metadata = json.dumps(data.group.metadata.to_dict(), sort_keys=True, default=str)
    return DiskChunkCache(directory, budget, f"{data.name}\0{hashlib.sha256(metadata.encode()).hexdigest()}")


def _read_whole(group: zarr.Group, paths: list[str]) -> list[np.ndarray]:
    """Whole small arrays, all requested concurrently (one round trip on a remote store)."""
    import asyncio

    arrays = [group[p]._async_array for p in paths]

    async def read_all() -> list[Any]:
        return await asyncio.gather(*(a.getitem(slice(None)) for a in arrays))

    return [np.asarray(a) for a in zarr.core.sync.sync(read_all())]


_PRELOAD_START = threading.Lock()


def _reset_preload_lock() -> None:
    global _PRELOAD_START
    _PRELOAD_START = threading.Lock()  # a forked child must not inherit a held lock


os.register_at_fork(after_in_child=_reset_preload_lock)


def _preload(arrays: queue.SimpleQueue, step: int = 16) -> None:
    """Decode every chunk of each queued array into its resident buffer, `step` chunks at a
    time (each step holds the array's lock for well under a millisecond, so batches are not
    held up)."""
    while not _shutdown.stopping.is_set():
        try:
            arr = arrays.get(timeout=0.5)
        except queue.Empty:
            continue
        try:
            for coords in arr.chunk_steps(step):
                if arr.complete or _shutdown.stopping.is_set():
                    break
                arr._ensure(coords)
        except (GvlError, OSError):
            continue  # a damaged chunk: the batch that needs it raises, naming it


def _reference_batch(data: StoreData, regions: np.ndarray):
    """(windows, bounds (k, 2), window origins (k), per-instance index into them) of a
    batch's regions: region regions[i]'s window is windows[bounds[j, 0]:bounds[j, 1]] from
    reference position origins[j], j = index[i]."""
    assert data.ref is not None
    if data.ref.resident:
        seq = data.ref.sequence
        whole = seq.whole() if seq.complete else data.ref.windows(regions)[0]
        return whole, data._ref_bounds, data.ref_starts, regions
    unique, inverse = np.unique(regions, return_inverse=True)
    seq, lo = data.ref.windows(unique)
    spans = data.ref_offsets[unique + 1] - data.ref_offsets[unique]
    return seq, np.stack([lo, lo + spans], axis=1), data.ref_starts[unique], inverse.ravel().astype(np.int64)


def _variant_batch(data: StoreData, regions: np.ndarray, samples: np.ndarray):
    """The batch's calls and the variant table they index:
    (v_pos, v_ref_len, alt_offsets, alt, variant_index, call_offsets (B, P, 2), v_ids),
    v_ids the stored row of each passed variant row (empty: the rows are the stored ones).

    A resident variant table is passed whole with the stored variant rows; otherwise the
    rows the calls use are gathered into compact arrays and the calls renumbered."""
    n = len(regions)
    bounds = data.call_offsets.take(regions, samples)  # (B, P, 2)
    lo, hi = bounds[..., 0].ravel(), bounds[..., 1].ravel()
    calls, new_lo = data.calls.ranges(lo, hi)
    call_offsets = np.stack([new_lo, new_lo + (hi - lo)], axis=-1).reshape(n, data.ploidy, 2)
    if data.v_pos.resident:
        whole = (data.v_pos.whole(), data.v_ref_len.whole(), data.alt_offsets.whole(), data.alt.whole())
        return (*whole, calls, call_offsets, np.zeros(0, np.int64))
    lengths = hi - lo
    used = calls[range_index(new_lo, lengths)]
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    call_offsets = np.stack([offsets[:-1], offsets[1:]], axis=-1).reshape(n, data.ploidy, 2)
    rows, local = np.unique(used, return_inverse=True)
    alt_bounds, v_pos, v_ref_len = together(
        data.alt_offsets,
        [
            lambda: data.alt_offsets.take(np.stack([rows, rows + 1])),
            lambda: data.v_pos.take(rows),
            lambda: data.v_ref_len.take(rows),
        ],
    )
    alt_len = alt_bounds[1] - alt_bounds[0]
    alt, alt_lo = data.alt.ranges(alt_bounds[0], alt_bounds[1])
    alt_offsets = np.zeros(len(rows) + 1, np.int64)  # cumulative, as the kernel reads them
    np.cumsum(alt_len, out=alt_offsets[1:])
    return (
        v_pos,
        v_ref_len,
        alt_offsets,
        alt[range_index(alt_lo, alt_len)],
        local.ravel().astype(np.int32),
        call_offsets,
        rows.astype(np.int64),
    )


@dataclass
class HaplotypeBatch:
    """Flat outputs of `read_haplotypes` and the layout that addresses them."""

    layout: _layout.Layout
    haps: np.ndarray  # uint8
    tracks: np.ndarray  # float32
    ann_var: np.ndarray  # int32, empty unless annotated
    ann_pos: np.ndarray  # int32, empty unless annotated


def read_haplotypes(
    data: StoreData,
    regions: np.ndarray,
    samples: np.ndarray,
    win_starts: np.ndarray,
    track_names: list[str],
    *,
    length: int | str | None = None,
    shift_rng: np.random.Generator | None = None,
    fills: tuple[np.ndarray, np.ndarray] | None = None,
    annotate: bool = False,
) -> HaplotypeBatch:
    """Haplotypes of a batch (and tracks realigned to them, and annotations), in one
    kernel walk per haplotype.

    length: an int (every row that long, from the window start), "variable" or "ragged"
        (each haplotype's true length over [window start, + region_length)); None: the
        stored region_length. shift_rng: draw each haplotype's start in its extra bases
        (GenVarLoader's deterministic=False) for int lengths. fills: per-track
        (modes, params) of the insertion fill (default: repeat the anchor).
    """
    n, ploidy, span = len(regions), data.ploidy, data.length
    ref, ref_bounds, ref_starts, ref_index = _reference_batch(data, regions)
    v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets, v_ids = _variant_batch(data, regions, samples)
    width = span if length is None else length
    true_lengths = None
    if isinstance(width, str) or shift_rng is not None:
        true_lengths = np.empty((n, ploidy), np.int64)
        counts = np.empty((n, ploidy), np.int32)  # computed by the same walk, unused here
        args = (v_pos, v_ref_len, alt_offsets, calls, call_offsets, win_starts, span, counts, true_lengths)
        run_split(haplotype_summaries, n, 0, *args)
    skips = np.zeros((n, ploidy), np.int64)
    if width == "ragged":
        layout = _layout.ragged(true_lengths, len(track_names))
    elif width == "variable":
        layout = _layout.fixed(n, ploidy, len(track_names), int(true_lengths.max(initial=0)), true_lengths)
    else:
        layout = _layout.fixed(n, ploidy, len(track_names), int(width))
        if shift_rng is not None:
            # as GenVarLoader: up to the haplotype's extra bases plus the region's excess
            extra = np.maximum(true_lengths - span, 0) + max(span - int(width), 0)
            skips = shift_rng.integers(0, extra + 1)
    out, tracks, ann_var, ann_pos = layout.allocate(len(track_names), annotate)
    if fills is None:
        fills = (np.zeros(len(track_names), np.int8), np.zeros(len(track_names), np.float32))
    iv = _batch_intervals(data, track_names, regions, samples)
    run_split(
        reconstruct,
        n,
        out.nbytes + tracks.nbytes,
        ref,
        ref_bounds,
        ref_starts,
        v_pos,
        v_ref_len,
        alt_offsets,
        alt,
        calls,
        v_ids,
        call_offsets,
        ref_index,
        win_starts,
        skips,
        *iv,
        *fills,
        layout.hap_starts,
        layout.hap_lengths,
        layout.trk_starts,
        out,
        tracks,
        ann_var,
        ann_pos,
    )
    return HaplotypeBatch(layout, out, tracks, ann_var, ann_pos)


def _batch_intervals(data: StoreData, names: list[str], regions, samples):
    """The batch's intervals of every named track as one set of arrays with (B, T, 2)
    offsets, so the kernel reads one set whatever the track count. One track is passed as
    read (no copy); several are gathered into compact arrays."""
    n = len(regions)
    if not names:
        empty_i = np.zeros(0, np.int64)
        return empty_i, empty_i, np.zeros(0, np.float32), np.zeros((n, 0, 2), np.int64)
    per_track = [track_batch(data, name, regions, samples) for name in names]
    if len(per_track) == 1:
        starts, ends, values, bounds = per_track[0]
        return starts, ends, values, bounds[:, None, :]
    total = int(sum((b[:, 1] - b[:, 0]).sum() for *_, b in per_track))
    starts, ends = np.empty(total, np.int64), np.empty(total, np.int64)
    values = np.empty(total, np.float32)
    offsets = np.empty((n, len(names), 2), np.int64)
    k = 0
    for t, (src_starts, src_ends, src_values, bounds) in enumerate(per_track):
        dst_bounds = np.empty((n, 2), np.int64)
        k = gather_rows(src_starts, src_ends, src_values, bounds, starts, ends, values, dst_bounds, k)
        offsets[:, t] = dst_bounds
    return starts, ends, values, offsets


def read_reference(
    data: StoreData, regions: np.ndarray, win_starts: np.ndarray, length: int | None = None
) -> np.ndarray:
    """Reference windows (B, length) uint8 (length: default the stored region_length)."""
    ref, ref_bounds, ref_starts, ref_index = _reference_batch(data, regions)
    out = np.empty((len(regions), data.length if length is None else length), np.uint8)
    run_split(
        reference_windows,
        len(regions),
        out.nbytes,
        ref,
        ref_bounds,
        ref_starts,
        ref_index,
        win_starts,
        out,
    )
    return out


def track_batch(data: StoreData, name: str, regions, samples):
    """(starts, ends, values, bounds (B, 2)) of one track for a batch: instance i's
    intervals are rows bounds[i, 0]:bounds[i, 1] of the three arrays."""
    starts, ends, values, _, _, bounds = track_rows(data, name, regions, samples, in_place=False)
    return starts, ends, values, bounds


def track_rows(data: StoreData, name: str, regions, samples, in_place: bool = True) -> tuple:
    """(starts, ends, values, row_offs, rows_per_chunk, bounds (B, 2)) of one track for a
    batch, as `_kernels.tracks.tracks_reference` reads them: with `in_place`, the mapped
    shards of a local store as they are (no gather: it was a third of a 128 × 1 kb tracks
    batch); otherwise, or remote, the batch's rows gathered flat (`FLAT_ROWS`)."""
    tr = data.tracks[name]
    offs = tr.offsets.take(regions, np.zeros_like(samples) if tr.annotation else samples)
    lo, hi = offs[:, 0], offs[:, 1]
    mapped = tr.intervals.rows_in_place(lo, hi) if in_place else None
    if mapped is not None:
        (starts, ends, values), row_offs, per_chunk = mapped
        return starts, ends, values, row_offs, np.int64(per_chunk), np.ascontiguousarray(offs, np.int64)
    (starts, ends, values), new_lo = tr.intervals.ranges(lo, hi)
    return starts, ends, values, *FLAT_ROWS, np.stack([new_lo, new_lo + (hi - lo)], axis=1)


def read_tracks_reference(
    data: StoreData, names: list[str], regions, samples, win_starts, length: int | None = None
) -> np.ndarray:
    """Tracks in reference coordinates (B, T, length) float32."""
    out = np.empty((len(regions), len(names), data.length if length is None else length), np.float32)
    for t, name in enumerate(names):
        run_split(
            tracks_reference,
            len(regions),
            out[:, t].nbytes,
            *track_rows(data, name, regions, samples),
            win_starts,
            out[:, t],
        )
    return out
