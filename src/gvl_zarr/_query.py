"""The one bridge from storage to kernels: (region, sample) indices → output arrays.

`StoreData` opens a store once, keeps the small arrays in memory and the flat ragged
arrays behind decoded-chunk caches; `read_*` turn a batch of store indices and window
starts into preallocated outputs filled by the kernels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr

from . import schema
from ._contigs import require_contig
from ._kernels import prepare
from ._kernels._threads import run_split
from ._kernels.haplotypes import reconstruct, reference_windows
from ._kernels.ragged import gather_rows
from ._kernels.tracks import tracks_reference
from ._lazy import LazyFlatArray, LazyGridArray
from ._refcheck import check_ref_alleles
from ._store import as_store, describe
from .errors import IncompleteDatasetError, MissingFileError
from .readers.fasta import FastaReader


@dataclass
class _Track:
    offsets: LazyGridArray  # (region, sample, 2)
    starts: LazyFlatArray
    ends: LazyFlatArray
    values: LazyFlatArray
    max_jitter: int


class StoreData:
    """Everything read from one store (and its reference), shared by derived Datasets."""

    def __init__(self, location: Any, reference: str | os.PathLike | None) -> None:
        self.location = location
        self.reference = os.fspath(reference) if reference is not None else None
        self.name = describe(location)
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
            self.v_pos = g["variants/pos"][:]
            self.v_ref_len = g["variants/ref_len"][:]
            self.alt_offsets = g["variants/alt_offsets"][:]
            self.alt = g["variants/alt"][:]
            self.call_offsets = LazyGridArray(g["genotypes/offsets"])
            self.calls = LazyFlatArray(g["genotypes/variant_index"])
        self.tracks: dict[str, _Track] = {}
        for name in attrs["tracks"]:
            self.tracks[name] = self._open_track(name)
        self.ref: np.ndarray | None = None
        if self.reference is not None:
            self.ref = self._load_reference()

    def _open_track(self, name: str) -> _Track:
        g = self.group[f"tracks/{name}"]
        info = self.attrs.get("track_info", {}).get(name, {})
        return _Track(
            offsets=LazyGridArray(g["offsets"]),
            starts=LazyFlatArray(g["starts"]),
            ends=LazyFlatArray(g["ends"]),
            values=LazyFlatArray(g["values"]),
            max_jitter=int(info.get("max_jitter", self.max_jitter)),
        )

    def refresh_tracks(self, rewritten: str | None = None) -> None:
        """Re-read the track list after a track was written into the store; `rewritten`
        names a track whose arrays were replaced (its decoded chunks are dropped)."""
        self.group = zarr.open_group(as_store(self.location), mode="r", zarr_format=3)
        self.attrs = dict(self.group.attrs)
        for name in self.attrs["tracks"]:
            if name not in self.tracks or name == rewritten:
                self.tracks[name] = self._open_track(name)

    def _load_reference(self) -> np.ndarray:
        fasta = FastaReader(self.reference)
        try:
            names = [require_contig(c, fasta.contigs, file=fasta.path, what="dataset") for c in self.contigs]
            if self.has_genotypes:
                g = self.group
                check_ref_alleles(
                    fasta,
                    names,
                    g["variants/contig"][:],
                    self.v_pos,
                    g["variants/ref_offsets"][:],
                    g["variants/ref"][:],
                    vcf=self.attrs.get("inputs", {}).get("variants") or self.name,
                )
            ref = np.empty(int(self.ref_offsets[-1]), np.uint8)
            for r in range(len(self.r_start)):
                ref[self.ref_offsets[r] : self.ref_offsets[r + 1]] = fasta.window(
                    names[int(self.r_contig[r])], int(self.ref_starts[r]), int(self.r_fetch_end[r])
                )
        finally:
            fasta.close()
        return ref

    def __getstate__(self) -> dict:
        return {"location": self.location, "reference": self.reference}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["location"], state["reference"])


def read_haplotypes(
    data: StoreData, regions: np.ndarray, samples: np.ndarray, win_starts: np.ndarray, track_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(haplotypes (B, P, L) uint8, tracks realigned to them (B, T, P, L) float32)."""
    assert data.ref is not None
    n, length = len(regions), data.length
    call_offsets = data.call_offsets.take(regions, samples)
    calls = data.calls.ensure(call_offsets[..., 0], call_offsets[..., 1])
    out = np.empty((n, data.ploidy, length), np.uint8)
    tracks = np.empty((n, len(track_names), data.ploidy, length), np.float32)
    iv = _batch_intervals(data, track_names, regions, samples)
    run_split(
        reconstruct,
        n,
        out.nbytes + tracks.nbytes,
        data.ref,
        data.ref_offsets,
        data.ref_starts,
        data.v_pos,
        data.v_ref_len,
        data.alt_offsets,
        data.alt,
        calls,
        call_offsets,
        regions,
        win_starts,
        *iv,
        out,
        tracks,
    )
    return out, tracks


def _batch_intervals(data: StoreData, names: list[str], regions, samples):
    """The batch's intervals of every named track, gathered into compact arrays with
    (B, T, 2) offsets, so the kernel reads one set of arrays whatever the track count."""
    n = len(regions)
    per_track = [track_batch(data, name, regions, samples) for name in names]
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


def read_reference(data: StoreData, regions: np.ndarray, win_starts: np.ndarray) -> np.ndarray:
    """Reference windows (B, L) uint8."""
    assert data.ref is not None
    out = np.empty((len(regions), data.length), np.uint8)
    run_split(
        reference_windows,
        len(regions),
        out.nbytes,
        data.ref,
        data.ref_offsets,
        data.ref_starts,
        regions,
        win_starts,
        out,
    )
    return out


def track_batch(data: StoreData, name: str, regions, samples):
    """(starts, ends, values, offsets (B, 2)) of one track for a batch: the interval arrays,
    with the rows the batch needs made resident, and each instance's [start, end) in them."""
    tr = data.tracks[name]
    offs = tr.offsets.take(regions, samples)
    lo, hi = offs[:, 0], offs[:, 1]
    return tr.starts.ensure(lo, hi), tr.ends.ensure(lo, hi), tr.values.ensure(lo, hi), offs


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
