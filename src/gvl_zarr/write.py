"""Writing a dataset: plan regions and samples → read inputs per region group → finalise.

Everything is written into `<path>.partial-<id>` and renamed onto `path` only after
the completion attribute is set, so a failed or interrupted write never leaves a
store that opens as if it were whole.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import zarr
from tqdm.auto import tqdm

from . import _plan, _track_reads, _variant_fields, schema
from ._annotation import annotation_tracks
from ._args import WriteArgs, sample_list, track_list, whole_number
from ._arrays import create
from ._contigs import require_contig
from ._dask_write import resolve_client
from ._finalise import finalise, run_jobs
from ._kernels.calls import sparse_calls
from ._memory import DEFAULT_MAX_MEM, resolve_max_mem
from ._partial import (
    check_replaceable,
    check_sigterm,
    claim,
    deferred_interrupts,
    discard,
    exit_on_sigterm,
    new_partial,
    release,
    remove_stale,
)
from ._partition import Inputs, run_partition, track_record
from ._parts import sink_for
from ._refcheck import check_ref_alleles
from ._regions import STRAND_CODES, group_spans, resize
from ._store import consolidate, is_remote
from ._variant_rows import RowMap
from .errors import GvlError, InputFileError, OutputError, SettingsError
from .readers.base import TrackReader, VariantReader
from .readers.bed import read_bed
from .readers.bigwig import BigWigs
from .readers.fasta import FastaReader
from .readers.variants import VariantInput, describe, open_variants
from .readers.vcf_sites import READ_ERRORS

_INITIAL_MARGIN = 10_000
_LEFT_MARGIN = 1_000
"""Bases read before a group's first window for records that can block overlapping ones
reaching into it (`_site_ranges`); widened when a chain of overlaps goes on past it."""
_MAX_GROUP_WIDTH = 2_000_000
_RECORDS_PER_BP = 1 / 8
"""Variant records per base assumed when sizing queries (the kit VCF, 1kGP: 1 per 74 bp)."""


class Cancelled(Exception):
    """A background track write stopped because the write failed elsewhere."""


@dataclass
class _Variants:
    """Variant table accumulated over region groups (calls are streamed to the store)."""

    contig: list[np.ndarray] = field(default_factory=list)
    pos: list[np.ndarray] = field(default_factory=list)
    ref: list[bytes] = field(default_factory=list)
    alt: list[bytes] = field(default_factory=list)
    n_variants: int = 0
    n_calls: int = 0


def write(
    path: str | os.PathLike,
    bed: Any,
    variants: VariantInput | None = None,
    bigwigs: BigWigs | Sequence[BigWigs] | None = None,
    length: int | None = None,
    max_jitter: int = 0,
    samples: Sequence[str] | None = None,
    overwrite: bool = False,
    *,
    reference: str | os.PathLike | None = None,
    allow_unphased: bool = False,
    annot_bigwigs: Mapping[str, str | os.PathLike] | None = None,
    progress: bool = True,
    storage_options: dict[str, Any] | None = None,
    max_mem: int | str | None = None,
    client: Any = None,
    regions_per_partition: int | None = None,
    samples_per_partition: int | None = None,
    var_fields: Sequence[str] | None = None,
    dosage_field: str = "DS",
) -> None:
    """Write a gvl_zarr dataset (a Zarr v3 store) for the regions of `bed`.

    Args:
        path: output folder, conventionally ending in `.gvl`.
        bed: BED path or table (chrom, chromStart, chromEnd[, name, score, strand]). Its
            other columns are stored too (`regions/columns/`), for `region_names` and
            `splice_info` at open.
        variants: phased genotypes: an indexed VCF/BCF, a PLINK 2 `.pgen` (with its `.pvar[.zst]`
            and `.psam`), a VCF Zarr store (path or fsspec URL), or a list of such files that
            hold different contigs (see docs/inputs.md). ALT calls are stored sparsely per haplotype.
        bigwigs: one or more `BigWigs`, each a named track with one file per sample.
        length: window length; each region becomes `length` bp centred on its midpoint
            (start = mid - length // 2). Defaults to the regions' common length.
        max_jitter: the largest jitter reads may use; the store keeps this many extra bases
            (and track values) on each side.
        samples: samples to keep, in this order. Defaults to the VCF's samples (that have a
            BigWig when tracks are given).
        overwrite: replace an existing dataset at `path`.
        reference: FASTA (plain or bgzipped). Every REF allele is checked against it and each
            region's reference window is stored, so `Dataset.open` needs no FASTA. Without it,
            open with `Dataset.open(..., reference=FASTA)` to read sequences.
        allow_unphased: read unphased heterozygous genotypes in the order written instead
            of raising `UnphasedGenotypeError`.
        annot_bigwigs: sample-independent tracks, `{name: BigWig path}`: stored once per
            region and returned for every sample (realigned to each haplotype).
        progress: show progress bars.
        storage_options: fsspec options of a remote `path` (s3://…): written to a local
            temporary folder, then uploaded with the completion marker last (docs/cloud.md).
        max_mem: memory the write may use beyond the interpreter and its libraries, in bytes
            or as "512MiB", "2GB" (default 2 GiB). Sizes the BigWig queries and the intervals
            in flight between reader processes and the store; outputs do not depend on it.
            Offsets grids are written in blocks of regions × samples that fit a quarter of it.
        client: a `distributed.Client` to write the partitions on (docs/distributed.md), or
            "auto" for the active client (none: written here). Each task uses up to `max_mem`.
        regions_per_partition, samples_per_partition: partition sizes (default: the largest
            blocks whose offsets fit `max_mem`; one partition writes straight into the store).
            Decoded outputs do not depend on them; the stored bytes do.
        var_fields: INFO and FORMAT fields of a VCF/BCF or VCF Zarr to store with the variants, returned by
            `with_seqs("variants")` when named in `Dataset.open(..., var_fields=[...])`:
            numeric fields with one value per ALT (Number=A, R or 1), e.g. ["AF", "dosage"].
            INFO values are kept per variant, FORMAT values per ALT call. "dosage" is the
            FORMAT field `dosage_field`; prefix a name ("INFO/DP", "FORMAT/GQ") when the
            header declares it as both.
        dosage_field: the FORMAT field that holds dosages (GenVarLoader's name for it). A PGEN
            input offers its dosages only, as FORMAT/DS (var_fields=["dosage"]).
    """
    if is_remote(path):  # first statement: locals() holds exactly the arguments
        args = {k: v for k, v in locals().items() if k not in ("path", "overwrite", "storage_options")}
        from ._remote_write import write_remote

        return write_remote(os.fspath(path), storage_options, overwrite, lambda local: write(local, **args))
    out = os.fspath(path)
    client = resolve_client(client)
    plan, inputs, regions = _prepare(out, WriteArgs.of(locals()))
    remove_stale(out)
    restore_sigterm = exit_on_sigterm()  # before the partial folder exists: SIGTERM removes it
    try:
        tmp = new_partial(out)
    except BaseException:
        restore_sigterm()
        inputs.close()
        raise
    try:
        zarr.open_group(zarr.storage.LocalStore(tmp), mode="w", zarr_format=3)
        claim(tmp)
        _plan.save(tmp, plan, *regions)
        if client is not None:
            run_jobs(client, [(run_partition, (tmp, k)) for k in range(plan.n_partitions)])
        else:
            for k in range(plan.n_partitions):
                run_partition(tmp, k, inputs, progress=progress)
                check_sigterm()
        finalise(tmp, client)
        check_sigterm()
        publish(tmp, out)
    except BaseException as exc:
        discard(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, GvlError) and _is_output_error(exc, tmp, out):
            raise OutputError(
                f"cannot write the dataset to {out} ({exc.strerror or exc}); nothing was written there. "
                "Fix: choose a writable location with enough free space (and no file size limit)."
            ) from exc
        raise
    finally:
        restore_sigterm()
        inputs.close()


def _prepare(
    out: str, args: WriteArgs
) -> tuple[_plan.Plan, Inputs, tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]]:
    """Check the arguments and inputs, open them, and plan the partitions of the write."""
    budget = resolve_max_mem(args.max_mem)
    tracks = track_list(args.bigwigs)
    if args.variants is None and not tracks:
        raise InputFileError("write needs variants, bigwigs or both.")
    max_jitter = whole_number("max_jitter", args.max_jitter, minimum=0)
    length = whole_number("length", args.length, minimum=1) if args.length is not None else None
    samples = sample_list(args.samples)
    check_replaceable(out, args.overwrite)
    annotations = annotation_tracks(args.annot_bigwigs)
    _check_track_names(tracks + annotations)
    bed_source = os.fspath(args.bed) if isinstance(args.bed, (str, os.PathLike)) else "BED table"
    bed_df = read_bed(args.bed)
    length = _resolve_length(bed_df, length, bed_source)

    vcf = open_variants(args.variants, allow_unphased=args.allow_unphased) if args.variants is not None else None
    chosen = _choose_samples(vcf, tracks, samples)
    if vcf is not None and chosen != vcf.samples:
        vcf = open_variants(args.variants, chosen, allow_unphased=args.allow_unphased)
    if args.var_fields and vcf is None:
        raise InputFileError("var_fields needs variants= (a VCF/BCF with those fields).")
    field_specs = _variant_fields.resolve(vcf, args.var_fields, args.dosage_field) if vcf is not None else []
    fasta = FastaReader(args.reference) if args.reference is not None else None

    contigs = list(dict.fromkeys(bed_df["chrom"].to_list()))
    contig_lengths = _contig_lengths(contigs, vcf, tracks, fasta, chosen)
    _check_regions_in_contigs(bed_df, contig_lengths, bed_source)

    start, end = resize(bed_df, length)
    contig_idx = np.array([contigs.index(c) for c in bed_df["chrom"]], np.int32)
    ploidy = vcf.ploidy if vcf is not None else 2
    per_region, per_sample = _plan.partition_sizes(
        len(start), len(chosen), ploidy, budget, args.regions_per_partition, args.samples_per_partition
    )
    plan = _plan.Plan(
        n_regions=len(start),
        n_samples=len(chosen),
        regions_per_partition=per_region,
        samples_per_partition=per_sample,
        samples=chosen,
        contigs=contigs,
        length=int(length),
        max_jitter=int(max_jitter),
        ploidy=int(ploidy),
        max_mem=int(budget),
        allow_unphased=bool(args.allow_unphased),
        bed_source=bed_source,
        variants=describe(args.variants),
        reference=fasta.path if fasta is not None else None,
        tracks=[track_record(t) for t in tracks],
        annotations=[track_record(t) for t in annotations],
        out=out,
        overwrite=bool(args.overwrite),
        var_fields=list(args.var_fields) if args.var_fields else None,
        dosage_field=str(args.dosage_field),
        field_specs=[asdict(f) for f in field_specs],
    )
    plan.fingerprints = _plan.fingerprint(_plan.input_paths(plan))
    inputs = Inputs(
        args.variants, args.allow_unphased, chosen, fasta, tracks, annotations, vcf=vcf,
        var_fields=plan.var_fields, dosage_field=plan.dosage_field,
    )  # fmt: skip
    return plan, inputs, (bed_df, contig_idx, start, end)


def publish(tmp: str, out: str) -> None:
    """Move the finished store `tmp` onto `out` (the old dataset, if any, removed after)."""
    release(tmp)  # before consolidating: zarr would list the owner file as a stray object
    consolidate(tmp)
    with deferred_interrupts():
        old = _replace(tmp, out)
    _remove(old)


def _is_output_error(exc: OSError, tmp: str, out: str) -> bool:
    """Whether `exc` came from writing the output (not from reading an input file)."""
    name = os.fspath(exc.filename) if exc.filename is not None else None
    if name is not None:
        return name.startswith((tmp, out))
    return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM)


def _replace(tmp: str, out: str) -> str | None:
    """Move the finished store onto `out`; return where what was there went (removed later)."""
    old = None
    if os.path.exists(out):
        old = f"{out.rstrip('/')}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    os.replace(tmp, out)
    return old


def _remove(old: str | None) -> None:
    if old is not None:
        if os.path.isdir(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.remove(old)


def _check_track_names(tracks: list[TrackReader]) -> None:
    names = [t.name for t in tracks]
    if len(set(names)) != len(names):
        raise InputFileError(f"track names must be unique, got {names}.")


def _resolve_length(bed: pl.DataFrame, length: int | None, source: str) -> int:
    if length is not None:
        if length <= 0:
            raise SettingsError(f"length must be positive, got {length}.")
        return int(length)
    widths = (bed["chromEnd"] - bed["chromStart"]).unique()
    if widths.len() != 1:
        raise SettingsError(f"regions of {source} have different lengths; pass length= to resize them all.")
    return int(widths[0])


def _choose_samples(vcf: VariantReader | None, tracks: list[TrackReader], samples: Sequence[str] | None) -> list[str]:
    if vcf is not None:
        known = set(vcf.samples)
        for track in tracks:
            extra = [s for s in track.samples if s not in known]
            if extra:
                raise InputFileError(
                    f"BigWig table of track {track.name!r} names sample(s) {extra[:5]} that {vcf.kind} "
                    f"{vcf.path} lacks. Fix: remove them from the table or correct the names."
                )
        pool = vcf.samples
    else:
        pool = list(tracks[0].samples)
    if samples is not None:
        chosen = [str(s) for s in samples]
        pool_set = set(pool)
        unknown = [s for s in chosen if s not in pool_set]
        if unknown:
            raise InputFileError(f"samples {unknown[:5]} are not in the inputs; choose from {pool[:5]} …")
        for track in tracks:
            lacking = [s for s in chosen if s not in track.paths]
            if lacking:
                raise InputFileError(f"track {track.name!r} has no BigWig for samples {lacking[:5]}.")
        return chosen
    chosen = [s for s in pool if all(s in t.paths for t in tracks)]
    if not chosen:
        raise InputFileError("no sample has both genotypes and a BigWig for every track.")
    if len(chosen) < len(pool):
        warnings.warn(
            f"keeping the {len(chosen)} of {len(pool)} samples that have a BigWig for every track.",
            stacklevel=4,
        )
    return chosen


def _contig_lengths(
    contigs: list[str],
    vcf: VariantReader | None,
    tracks: list[TrackReader],
    fasta: FastaReader | None,
    samples: list[str],
) -> dict[str, int | None]:
    """Length of each BED contig from the FASTA, else the VCF header, else a BigWig header.

    Also raises `ContigMismatchError` when the VCF, FASTA or a BigWig lacks a BED contig.
    """
    lengths: dict[str, int | None] = {}
    for c in contigs:
        found: int | None = None
        if fasta is not None:
            found = fasta.contig_lengths[require_contig(c, fasta.contigs, file=fasta.path, what="BED")]
        if vcf is not None:
            name = require_contig(c, vcf.contigs, file=vcf.path, what="BED")
            found = found or vcf.contig_lengths.get(name) or None
        for track in tracks:
            chroms = track.contigs(samples[0])
            name = require_contig(c, chroms, file=track.paths[samples[0]], what="BED")
            found = found or chroms[name]
        lengths[c] = found
    return lengths


def _check_regions_in_contigs(bed: pl.DataFrame, lengths: dict[str, int | None], source: str) -> None:
    for i, (c, s, e) in enumerate(zip(bed["chrom"], bed["chromStart"], bed["chromEnd"], strict=True)):
        n = lengths.get(c)
        if n is not None and e > n:
            raise InputFileError(
                f"{source}, row {i + 1}: region {c}:{s}-{e} ends past the end of contig {c} "
                f"({n:,} bp). Fix: clip or drop the region, or check the BED's genome build."
            )


def _write_regions(root, bed: pl.DataFrame, contig_idx, start, end, fetch_end) -> None:
    strand = np.array([STRAND_CODES[s] for s in bed["strand"]], np.int8)
    values = {
        "regions/contig": contig_idx,
        "regions/start": start,
        "regions/end": end,
        "regions/strand": strand,
        "regions/bed_start": bed["chromStart"].to_numpy().astype(np.int64),
        "regions/bed_end": bed["chromEnd"].to_numpy().astype(np.int64),
        "regions/fetch_end": np.asarray(fetch_end, np.int64),
    }
    for spec in schema.REGIONS:
        create(root, spec, values[spec.path], sharded=False)


def _variant_group_width(max_mem: int, n_samples: int, ploidy: int, n_format_fields: int = 0) -> int:
    """Widest span of regions read by one variant query: half of `max_mem` holds its calls
    (int8 codes + phase flags, twice while blocks are joined) at `_RECORDS_PER_BP`, and the
    4-byte values of each FORMAT field asked for (also held twice by the reader)."""
    per_bp = 2 * max(n_samples, 1) * (ploidy + 1 + 4 * n_format_fields) * _RECORDS_PER_BP
    return int(min(_MAX_GROUP_WIDTH, max(1, (max_mem // 2) / per_bp)))


def _write_genotypes(
    root,
    vcf: VariantReader,
    contigs,
    contig_idx,
    start,
    end,
    max_jitter,
    fasta,
    progress,
    max_mem=DEFAULT_MAX_MEM,
    table: bool = True,
) -> np.ndarray:
    """Read variants per group of nearby regions, store the variant table and sparse calls.

    Groups are at most `_variant_group_width` wide; records two groups' queries share are
    stored once (`RowMap`), so the store does not depend on `max_mem`.

    Returns each region's fetch_end: end + max_jitter + the REF bases that deletions in
    reach could remove, so the read path always has enough reference. `root` is a zarr group
    or a partition's sink (`_parts`); `table=False` leaves the variant table to another
    partition of the same regions.
    """
    sink = sink_for(root)
    n_regions = len(start)
    n_samples = len(vcf.samples)
    lo = start - max_jitter
    hi = end + max_jitter
    fetch_end = hi.copy()
    offsets = np.zeros((n_regions, n_samples, vcf.ploidy, 2), np.int64)
    acc = _Variants()
    call_rows = sink.rows(schema.GENOTYPES[1:])  # streamed: calls outgrow memory first
    fields = _variant_fields.FieldWriter(sink, getattr(vcf, "fields", []), table=table)
    rowmap = RowMap()
    n_format = sum(f.source == "FORMAT" for f in fields.specs)
    groups = group_spans(contig_idx, lo, hi, max_width=_variant_group_width(max_mem, n_samples, vcf.ploidy, n_format))
    for group in tqdm(groups, desc="genotypes", unit="region group", disable=not progress):
        check_sigterm()
        contig = contigs[int(contig_idx[group[0]])]
        vcf_contig = require_contig(contig, vcf.contigs, file=vcf.path, what="BED")
        margin, left = _INITIAL_MARGIN, _LEFT_MARGIN
        while True:
            query_start = max(0, int(lo[group].min()) - left)
            query_end = int(hi[group].max()) + margin
            block = vcf.read(vcf_contig, query_start, query_end)
            rec_lo, rec_hi, fe = _record_ranges(block, lo[group], hi[group])
            if fe.max() <= query_end and not _chain_cut(block.record_pos, rec_lo, query_start):
                break
            margin, left = margin * 4, left * 4
        fetch_end[group] = fe
        alt_map, keep = rowmap.add(vcf_contig, query_end, block)
        group_offsets, calls = sparse_calls(block.genotypes, alt_map, rec_lo, rec_hi, acc.n_calls)
        offsets[group] = group_offsets
        fields.add(block, keep, alt_map, rec_lo, rec_hi, group_offsets, acc.n_calls)
        if table:
            acc.contig.append(np.full(len(keep), contig_idx[group[0]], np.int32))
            acc.pos.append(block.pos[keep])
            acc.ref.extend(block.ref[r].upper() for r in keep)
            acc.alt.extend(block.alt[r].upper() for r in keep)
        call_rows.append(calls)
        acc.n_variants = rowmap.n_variants
        acc.n_calls += len(calls)

    call_rows.close()
    fields.finish()
    if table:
        _write_variant_table(sink, acc, contigs, fasta, vcf)
    sink.array(schema.GENOTYPES[0], offsets)
    return fetch_end


def _write_variant_table(sink, acc: _Variants, contigs, fasta, vcf: VariantReader) -> None:
    v_contig = np.concatenate(acc.contig) if acc.contig else np.zeros(0, np.int32)
    v_pos = np.concatenate(acc.pos) if acc.pos else np.zeros(0, np.int64)
    ref_offsets, ref_bytes = _pack(acc.ref)
    alt_offsets, alt_bytes = _pack(acc.alt)
    if fasta is not None:
        check_ref_alleles(
            fasta, [_fasta_name(c, fasta) for c in contigs], v_contig, v_pos, ref_offsets, ref_bytes, vcf=vcf.path
        )
    values = {
        "variants/contig": v_contig,
        "variants/pos": v_pos,
        "variants/ref_len": np.diff(ref_offsets).astype(np.int32),
        "variants/ref_offsets": ref_offsets,
        "variants/ref": ref_bytes,
        "variants/alt_offsets": alt_offsets,
        "variants/alt": alt_bytes,
    }
    for spec in schema.VARIANTS:
        sink.array(spec, values[spec.path])


def _write_reference(root, fasta: FastaReader, contigs, contig_idx, lo, fetch_end, progress) -> None:
    """Store every region's reference over [lo, fetch_end), so reads need no FASTA."""
    names = [_fasta_name(c, fasta) for c in contigs]
    windows = [
        fasta.window(names[int(c)], int(a), int(b))
        for c, a, b in tqdm(
            zip(contig_idx, lo, fetch_end, strict=True), total=len(lo), desc="reference", unit="region",
            disable=not progress,
        )
    ]  # fmt: skip
    sink_for(root).array(schema.REFERENCE, np.concatenate(windows) if windows else np.zeros(0, np.uint8))


def _fasta_name(contig: str, fasta: FastaReader) -> str:
    return require_contig(contig, fasta.contigs, file=fasta.path, what="BED")


def _record_ranges(block, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per region: records [rec_lo, rec_hi) that can affect it, and its fetch_end."""
    n_rec = len(block.record_pos)
    rec_len = block.record_ref_len
    # REF bases a record's ALTs can remove (symbolic-only records remove none)
    rec_shrink = np.zeros(n_rec, np.int64)
    amap = block.record_alt_map
    for i in range(n_rec):
        rows = amap[i][amap[i] >= 0]
        if rows.size:
            rec_shrink[i] = max(0, int(rec_len[i]) - min(len(block.alt[r]) for r in rows))
    return _site_ranges(block.record_pos, rec_len, rec_shrink, lo, hi)


def _site_ranges(
    rec_pos: np.ndarray, rec_len: np.ndarray, rec_shrink: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_record_ranges` from record positions, REF lengths and the REF bases each can remove.

    fetch_end grows by the REF bases every deletion in reach could remove, until stable.
    rec_lo goes back past the window's start along chains of overlapping records: a record
    ending before the window can block (first wins, as `bcftools consensus`) an overlapping
    one that reaches into it, which in turn unblocks the next (hypothesis found a TTG>AAA
    ending one base before the window that must stop a GAG>ACA from reaching into it).
    """
    if len(rec_pos) == 0:
        zeros = np.zeros(len(lo), np.int64)
        return zeros, zeros, hi.copy()
    # records come in VCF (position) order
    ends_cummax = np.maximum.accumulate(rec_pos + rec_len)
    shrink_cumsum = np.concatenate([[0], np.cumsum(rec_shrink + np.where(rec_shrink > 0, rec_len, 0))])
    rec_lo = np.searchsorted(ends_cummax, lo, side="right")
    fetch_end = hi.copy()
    while True:
        rec_hi = np.searchsorted(rec_pos, fetch_end, side="left")
        grown = hi + shrink_cumsum[rec_hi] - shrink_cumsum[rec_lo]
        if np.array_equal(grown, fetch_end):
            break
        fetch_end = grown
    # chain_head[k]: first record of the run of overlapping records that k belongs to
    n = len(rec_pos)
    starts_run = np.ones(n, bool)
    starts_run[1:] = ends_cummax[:-1] <= rec_pos[1:]
    chain_head = np.maximum.accumulate(np.where(starts_run, np.arange(n), 0))
    rec_lo = np.where(rec_lo < n, chain_head[np.minimum(rec_lo, n - 1)], rec_lo)
    return rec_lo.astype(np.int64), rec_hi.astype(np.int64), fetch_end


def _chain_cut(rec_pos: np.ndarray, rec_lo: np.ndarray, query_start: int) -> bool:
    """Whether a region's chain of overlapping records may go on before the query's start:
    it reaches the block's first record, which itself begins before the query (a record the
    query did not return can only end at or before query_start)."""
    return bool(query_start > 0 and len(rec_pos) and (rec_lo == 0).any() and rec_pos[0] < query_start)


def site_fetch_ends(
    vcf: VariantReader, contigs, contig_idx, start, end, max_jitter, max_mem=DEFAULT_MAX_MEM
) -> np.ndarray | None:
    """Each region's fetch_end from a pass over the record sites alone (no genotypes), or
    None when `vcf` has no such pass (PGEN, VCF Zarr, BCF) or it fails (the genotype read
    then reports the problem). Same groups and margins as `_write_genotypes`, so the same
    records: the two agree (checked by the caller)."""
    site_reader = getattr(vcf, "site_reader", None)
    sites = site_reader() if site_reader is not None else None
    if sites is None:
        return None
    lo = start - max_jitter
    hi = end + max_jitter
    fetch_end = hi.copy()
    groups = group_spans(contig_idx, lo, hi, max_width=_variant_group_width(max_mem, len(vcf.samples), vcf.ploidy))
    try:
        for group in groups:
            contig = require_contig(contigs[int(contig_idx[group[0]])], vcf.contigs, file=vcf.path, what="BED")
            vcf.check_index(contig)
            margin, left = _INITIAL_MARGIN, _LEFT_MARGIN
            while True:
                query_start = max(0, int(lo[group].min()) - left)
                query_end = int(hi[group].max()) + margin
                block = sites.read(contig, query_start, query_end)
                rec_lo, _, fe = _site_ranges(block.pos, block.ref_len, block.shrink, lo[group], hi[group])
                if fe.max() <= query_end and not _chain_cut(block.pos, rec_lo, query_start):
                    break
                margin, left = margin * 4, left * 4
            fetch_end[group] = fe
    except (GvlError, *READ_ERRORS):
        return None  # the genotype read raises the clear error
    return fetch_end


def _pack(alleles: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(a) for a in alleles), np.int64, len(alleles))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.frombuffer(b"".join(alleles), np.uint8).copy()
    return offsets, data


def _write_track(
    root,
    track: TrackReader,
    contigs,
    contig_idx,
    lo,
    hi,
    samples,
    progress,
    max_mem: int = DEFAULT_MAX_MEM,
    cancel: threading.Event | None = None,
) -> None:
    """Store the track's intervals over [lo, hi) of every (region, sample), streamed.

    Each file is read with one query per group of nearby regions, split per region (a query
    per (region, sample) cost 26.6 s for the 28-region kit with 2,504 files); files are read
    by worker processes, at most `max_mem` of intervals in flight (`_track_reads`). Rows go
    in file order, then region; samples that share a file share its rows (their offsets are
    equal). Rows stream into the store chunk by chunk (`RawAppender`). A set `cancel` stops
    the reads (`Cancelled`), when the track is written beside a failed genotype read.
    """
    sink = sink_for(root)
    n_regions, n_samples = len(lo), len(samples)
    offsets = np.zeros((n_regions, n_samples, 2), np.int64)
    by_path: dict[str, list[int]] = {}
    for s, sample in enumerate(samples):
        by_path.setdefault(track.paths[sample], []).append(s)
    paths = list(by_path)
    cols = [np.asarray(by_path[p], np.int64) for p in paths]
    lo, hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
    specs = schema.track_specs(track.name)
    rows = sink.rows(specs[1:])
    the_plan = _track_reads.plan(paths, contigs, contig_idx, lo, hi, max_mem // 2)
    last_query = len(the_plan.groups) - 1
    with tqdm(total=len(paths), desc=f"track {track.name}", unit="file", disable=not progress) as bar:
        for f, q, (starts, ends, values, counts) in _track_reads.run(the_plan, paths, contigs, contig_idx, lo, hi):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"track {track.name} stopped")
            group = the_plan.groups[q]
            first = rows.append(starts, ends, values)
            bounds = first + np.concatenate([[0], np.cumsum(counts)])
            offsets[group[:, None], cols[f][None, :], 0] = bounds[:-1, None]
            offsets[group[:, None], cols[f][None, :], 1] = bounds[1:, None]
            if q == last_query:
                bar.update(1)
    rows.close()
    sink.array(specs[0], offsets)
