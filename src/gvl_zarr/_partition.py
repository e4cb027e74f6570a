"""One partition of a write: the genotypes, reference and tracks of a region block × sample block.

The same code runs in the writing process (`write`), in a dask task (`write(..., client=)`)
and in `gvl-zarr write-partition`. A partition is idempotent: it starts from an empty part
folder and writes its `done.json` last, so a killed one is simply run again.

Region-level arrays (variant table, reference, annotation tracks, `fetch_end`) are written by
the partitions of sample block 0 only; every partition of a region block computes the same
`fetch_end` from the same variant records (records do not depend on the samples read), which
its tracks need. Variant rows are numbered per region block (`RowMap` within the block): a
record read by two region blocks is stored once per block.
"""

from __future__ import annotations

import importlib
import os
import shutil
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import zarr

from . import _plan, _track_reads, _variant_fields
from ._annotation import ANNOTATION
from ._background import Background
from ._parts import DirectSink, PartSink, fresh_part, write_marker
from .readers.base import TrackReader, VariantReader
from .readers.bigwig import BigWigs
from .readers.fasta import FastaReader
from .readers.variants import open_variants


@dataclass
class Inputs:
    """Opened inputs of a write; the variant reader is opened per sample block on demand."""

    variants: Any
    allow_unphased: bool
    samples: list[str]
    fasta: FastaReader | None
    tracks: list[TrackReader]
    annotations: list[TrackReader]
    vcf: VariantReader | None = None
    var_fields: list[str] | None = None
    dosage_field: str = "DS"
    _blocks: dict[tuple[int, int], VariantReader] = field(default_factory=dict)

    def variants_for(self, s0: int, s1: int) -> VariantReader | None:
        if self.variants is None:
            return None
        if self.vcf is not None and (s0, s1) == (0, len(self.samples)):
            return self.vcf
        if (s0, s1) not in self._blocks:
            reader = open_variants(self.variants, self.samples[s0:s1], allow_unphased=self.allow_unphased)
            _variant_fields.resolve(reader, self.var_fields, self.dosage_field)
            self._blocks = {(s0, s1): reader}
        return self._blocks[(s0, s1)]

    def close(self) -> None:
        for track in self.tracks + self.annotations:
            track.close()


def open_inputs(plan: _plan.Plan) -> Inputs:
    """Re-open the inputs recorded in `plan` (after `_plan.check_inputs`)."""
    tracks = []
    for t in plan.tracks:
        track = BigWigs(t["name"], t["paths"])
        track.source = t.get("source")
        tracks.append(track)
    annotations = [BigWigs(t["name"], t["paths"]) for t in plan.annotations]
    fasta = FastaReader(plan.reference) if plan.reference is not None else None
    return Inputs(
        plan.variants, plan.allow_unphased, plan.samples, fasta, tracks, annotations,
        var_fields=plan.var_fields, dosage_field=plan.dosage_field,
    )  # fmt: skip


def track_record(track: Any) -> dict[str, Any]:
    """A track as `plan.json` records it."""
    return {"name": track.name, "paths": dict(track.paths), "source": getattr(track, "source", None)}


def track_stub(record: dict[str, Any]) -> SimpleNamespace:
    """A stand-in with the name, paths and source of a recorded track (for provenance)."""
    return SimpleNamespace(name=record["name"], paths=record["paths"], source=record.get("source"))


def _spare_cores() -> bool:
    """Whether the tracks are read beside the genotypes: only with a core to spare beyond the
    BigWig worker processes and the genotype thread. On the 2-core machine (kit write, text
    VCF reader) it did not pay: 3.25–3.68 s wall, 2.0–2.7 s CPU here + 1.9–2.3 s in the
    workers overlapped, against 3.26–3.36 s, 1.85–1.88 s + 1.49–1.62 s one phase after the
    other (load 1.8–2.8): the two threads contend for the GIL and the workers for the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores >= min(cores, _track_reads.MAX_WORKERS) + 2


def run_partition(tmp: str | os.PathLike, k: int, inputs: Inputs | None = None, progress: bool = False) -> None:
    """Write partition `k` of the write planned in `tmp`.

    Without `inputs` (another process), the inputs are re-opened from the plan after
    checking they are unchanged since it was made.
    """
    tmp = os.fspath(tmp)
    plan = _plan.load(tmp)
    _, j, r0, r1, s0, s1 = plan.blocks(k)
    _plan.check_inputs(plan, tmp)  # also between the partitions of one process: a file replaced mid-write
    own = inputs is None
    if own:
        inputs = open_inputs(plan)
    write_mod = importlib.import_module("gvl_zarr.write")  # looked up at call time (tests patch it)
    try:
        contig_idx, start, end = (a[r0:r1] for a in _plan.load_regions(tmp))
        folder = fresh_part(tmp, k)
        if plan.n_partitions == 1:
            root = zarr.open_group(zarr.storage.LocalStore(tmp), mode="a", zarr_format=3)
            for name in ("variants", "genotypes", "reference", "tracks"):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)  # left by a killed run
            sink: DirectSink | PartSink = DirectSink(root)
        else:
            sink = PartSink(folder)
        mj = plan.max_jitter
        fetch_end = end + mj
        vcf = inputs.variants_for(s0, s1)
        samples = plan.samples[s0:s1]

        def write_tracks(ends: np.ndarray, cancel: threading.Event | None = None) -> None:
            for track in inputs.tracks:
                write_mod._write_track(
                    sink, track, plan.contigs, contig_idx, start - mj, ends, samples, progress, plan.max_mem,
                    cancel=cancel,
                )  # fmt: skip
            if j == 0:
                for track in inputs.annotations:
                    write_mod._write_track(
                        sink, track, plan.contigs, contig_idx, start - mj, ends, [ANNOTATION], progress,
                        plan.max_mem, cancel=cancel,
                    )  # fmt: skip

        skipped = 0
        if vcf is not None:
            before = vcf.n_symbolic_skipped
            has_tracks = bool(inputs.tracks or (j == 0 and inputs.annotations))
            early = None
            if has_tracks and _spare_cores():
                early = write_mod.site_fetch_ends(vcf, plan.contigs, contig_idx, start, end, mj, plan.max_mem)
            background = Background(lambda cancel: write_tracks(early, cancel)) if early is not None else None
            try:
                fetch_end = write_mod._write_genotypes(
                    sink, vcf, plan.contigs, contig_idx, start, end, mj,
                    inputs.fasta if j == 0 else None, progress, plan.max_mem, table=j == 0,
                )  # fmt: skip
            except BaseException:
                if background is not None:
                    background.stop()
                raise
            skipped = vcf.n_symbolic_skipped - before
            if background is not None:
                background.join()
                if not np.array_equal(early, fetch_end):  # never seen; kept exact by a second read
                    sink.remove("tracks")
                    write_tracks(fetch_end)
            elif has_tracks:
                write_tracks(fetch_end)
        else:
            write_tracks(fetch_end)
        if j == 0 and inputs.fasta is not None:
            write_mod._write_reference(sink, inputs.fasta, plan.contigs, contig_idx, start - mj, fetch_end, progress)
        if j == 0:
            np.save(folder / "fetch_end.npy", np.asarray(fetch_end, np.int64))
        write_marker(
            folder,
            {
                "partition": k,
                "counts": sink.counts,
                "n_symbolic_skipped": int(skipped),
                "variants_kind": getattr(vcf, "kind", None),
                "variants_path": getattr(vcf, "path", None),
            },
        )
    finally:
        if own:
            inputs.close()
