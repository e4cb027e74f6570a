"""The one bridge from storage to kernels: (region, sample) indices → output arrays.

`StoreData` opens a store once and keeps only the per-region arrays in memory; every other
array (offsets, calls, variants, intervals, reference) is read chunk by chunk through one
byte-budgeted `ChunkCache`. `read_*` gather a batch's rows into compact arrays and call the
kernels on them with preallocated outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr

from . import schema
from ._cache import ChunkCache, resolve_budget
from ._chunks import FlatArray, GridArray
from ._contigs import require_contig
from ._kernels import prepare
from ._kernels._threads import run_split
from ._kernels.haplotypes import reconstruct, reference_windows
from ._kernels.tracks import tracks_reference
from ._refcheck import check_ref_alleles
from ._reference import FastaReference, StoreReference
from ._store import as_store, describe
from .errors import IncompleteDatasetError, MissingFileError
from .readers.fasta import FastaReader


@dataclass
class _Track:
    offsets: GridArray  # (region, sample, 2)
    starts: FlatArray
    ends: FlatArray
    values: FlatArray
    max_jitter: int


class StoreData:
    """Everything read from one store (and its reference), shared by derived Datasets."""

    def __init__(self, location: Any, reference: str | os.PathLike | None, cache_bytes: int | None = None) -> None:
        self.location = location
        self.reference = os.fspath(reference) if reference is not None else None
        self.name = describe(location)
        self.cache = ChunkCache(resolve_budget(cache_bytes))
        try:
            self.group = zarr.open_group(as_store(location), mode="r", zarr_format=3)
        except FileNotFoundError:
            raise MissingFileError(f"no gvl_zarr dataset at {self.name}.") from None
        except (zarr.errors.GroupNotFoundError, ValueError) as exc:
            raise IncompleteDatasetError(f"{self.name} is not a gvl_zarr dataset ({exc}).") from None
        schema.validate(self.group, self.name)
        prepare()
        attrs = dict(self.group.attrs)
        self.attrs = attrs
        self.length: int = attrs["length"]
        self.max_jitter: int = attrs["max_jitter"]
        self.ploidy: int = attrs["ploidy"]
        self.contigs: list[str] = attrs["contigs"]
        self.has_genotypes: bool = attrs["has_genotypes"]
        g = self.group
        self.samples = np.array(g["samples"][:].tolist(), dtype=str)
        self.r_contig = g["regions/contig"][:]
        self.r_start = g["regions/start"][:]
        self.r_end = g["regions/end"][:]
        self.r_strand = g["regions/strand"][:]
        self.r_bed_start = g["regions/bed_start"][:]
        self.r_bed_end = g["regions/bed_end"][:]
        self.r_fetch_end = g["regions/fetch_end"][:]
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
        self.tracks: dict[str, _Track] = {}
        for name in attrs["tracks"]:
            self.tracks[name] = self._open_track(name)
        self.ref: StoreReference | FastaReference | None = None
        if self.reference is not None:
            self.ref = self._fasta_reference()
        elif attrs.get("has_reference"):
            self.ref = StoreReference(self._flat(schema.REFERENCE.path), self.ref_offsets)

    def _flat(self, path: str) -> FlatArray:
        return FlatArray(self.group[path], self.cache, self.name)

    def _open_track(self, name: str) -> _Track:
        base = f"tracks/{name}"
        info = self.attrs.get("track_info", {}).get(name, {})
        return _Track(
            offsets=GridArray(self.group[f"{base}/offsets"], self.cache, self.name),
            starts=self._flat(f"{base}/starts"),
            ends=self._flat(f"{base}/ends"),
            values=self._flat(f"{base}/values"),
            max_jitter=int(info.get("max_jitter", self.max_jitter)),
        )

    def refresh_tracks(self, rewritten: str | None = None) -> None:
        """Re-read the track list after a track was written into the store; `rewritten`
        names a track whose arrays were replaced (its decoded chunks are dropped)."""
        self.group = zarr.open_group(as_store(self.location), mode="r", zarr_format=3)
        self.attrs = dict(self.group.attrs)
        for name in self.attrs["tracks"]:
            if name not in self.tracks or name == rewritten:
                old = self.tracks.get(name)
                if old is not None:
                    for arr in (old.offsets, old.starts, old.ends, old.values):
                        self.cache.drop(arr._id)
                        arr.close()
                self.tracks[name] = self._open_track(name)

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
        return {"location": self.location, "reference": self.reference, "cache_bytes": self.cache.budget}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["location"], state["reference"], state.get("cache_bytes"))


def _reference_batch(data: StoreData, regions: np.ndarray):
    """(windows, offsets, window origins, per-instance index into them) of a batch's regions."""
    assert data.ref is not None
    unique, inverse = np.unique(regions, return_inverse=True)
    seq, offsets = data.ref.windows(unique)
    return seq, offsets, data.ref_starts[unique], inverse.ravel().astype(np.int64)


def _variant_batch(data: StoreData, regions: np.ndarray, samples: np.ndarray):
    """The batch's calls and the variant rows they use, as compact arrays:
    (v_pos, v_ref_len, alt_offsets, alt, variant_index, call_offsets (B, P, 2))."""
    n = len(regions)
    bounds = data.call_offsets.take(regions, samples)  # (B, P, 2)
    calls, offs = data.calls.ranges(bounds[..., 0], bounds[..., 1])
    call_offsets = np.stack([offs[:-1], offs[1:]], axis=-1).reshape(n, data.ploidy, 2)
    rows, local = np.unique(calls, return_inverse=True)
    alt_bounds = data.alt_offsets.take(np.stack([rows, rows + 1]))
    alt, alt_offsets = data.alt.ranges(alt_bounds[0], alt_bounds[1])
    return (
        data.v_pos.take(rows),
        data.v_ref_len.take(rows),
        alt_offsets,
        alt,
        local.ravel().astype(np.int32),
        call_offsets,
    )


def read_haplotypes(
    data: StoreData, regions: np.ndarray, samples: np.ndarray, win_starts: np.ndarray, track_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(haplotypes (B, P, L) uint8, tracks realigned to them (B, T, P, L) float32)."""
    n, length = len(regions), data.length
    ref, ref_offsets, ref_starts, ref_index = _reference_batch(data, regions)
    v_pos, v_ref_len, alt_offsets, alt, calls, call_offsets = _variant_batch(data, regions, samples)
    out = np.empty((n, data.ploidy, length), np.uint8)
    tracks = np.empty((n, len(track_names), data.ploidy, length), np.float32)
    iv = _batch_intervals(data, track_names, regions, samples)
    run_split(
        reconstruct,
        n,
        out.nbytes + tracks.nbytes,
        ref,
        ref_offsets,
        ref_starts,
        v_pos,
        v_ref_len,
        alt_offsets,
        alt,
        calls,
        call_offsets,
        ref_index,
        win_starts,
        *iv,
        out,
        tracks,
    )
    return out, tracks


def _batch_intervals(data: StoreData, names: list[str], regions, samples):
    """The batch's intervals of every named track in one set of compact arrays with
    (B, T, 2) offsets, so the kernel reads one set of arrays whatever the track count."""
    n = len(regions)
    per_track = [track_batch(data, name, regions, samples) for name in names]
    offsets = np.empty((n, len(names), 2), np.int64)
    base = 0
    for t, (starts, _, _, bounds) in enumerate(per_track):
        offsets[:, t] = bounds + base
        base += len(starts)
    if len(per_track) == 1:
        starts, ends, values, _ = per_track[0]
        return starts, ends, values, offsets
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    cat = [np.concatenate([p[i] for p in per_track]) if per_track else empty[i] for i in range(3)]
    return cat[0], cat[1], cat[2], offsets


def read_reference(data: StoreData, regions: np.ndarray, win_starts: np.ndarray) -> np.ndarray:
    """Reference windows (B, L) uint8."""
    ref, ref_offsets, ref_starts, ref_index = _reference_batch(data, regions)
    out = np.empty((len(regions), data.length), np.uint8)
    run_split(
        reference_windows,
        len(regions),
        out.nbytes,
        ref,
        ref_offsets,
        ref_starts,
        ref_index,
        win_starts,
        out,
    )
    return out


def track_batch(data: StoreData, name: str, regions, samples):
    """(starts, ends, values, offsets (B, 2)) of one track for a batch: each instance's
    intervals gathered into compact arrays, instance i at rows offsets[i, 0]:offsets[i, 1]."""
    tr = data.tracks[name]
    bounds = tr.offsets.take(regions, samples)
    lo, hi = bounds[:, 0], bounds[:, 1]
    starts, offs = tr.starts.ranges(lo, hi)
    ends, _ = tr.ends.ranges(lo, hi)
    values, _ = tr.values.ranges(lo, hi)
    return starts, ends, values, np.stack([offs[:-1], offs[1:]], axis=1)


def read_tracks_reference(data: StoreData, names: list[str], regions, samples, win_starts) -> np.ndarray:
    """Tracks in reference coordinates (B, T, L) float32."""
    out = np.empty((len(regions), len(names), data.length), np.float32)
    for t, name in enumerate(names):
        run_split(
            tracks_reference,
            len(regions),
            out[:, t].nbytes,
            *track_batch(data, name, regions, samples),
            win_starts,
            out[:, t],
        )
    return out
