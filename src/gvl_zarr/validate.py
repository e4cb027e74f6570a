"""`gvl-zarr validate`: check a store against its format and against its source files.

Three passes:

1. structure: the completion marker, format version and every array of the schema;
2. integrity: every inner chunk of every array is read and its crc32c checked, through the
   same chunk reader `Dataset` uses (`ShardedArray`), a bounded batch at a time;
3. content: a random sample of (region, sample) instances is read from the store and
   re-derived from the source files by a separate, deliberately simple code path: records
   from cyvcf2, the reference from pyfaidx and values from pyBigWig, applied base by base
   in Python (no numba kernel, no store reader). Haplotypes follow `bcftools consensus`
   (records in file order, a record overlapping an applied one is skipped unless it is an
   indel anchored on that one's last base; symbolic and missing alleles keep the
   reference); tracks realigned to a haplotype take at each base the value of the
   reference base it aligns to (inserted bases: their anchor's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from zarr.codecs import ShardingCodec

from . import schema
from ._cache import ChunkCache
from ._chunks import ShardedArray
from ._contigs import match_contig
from ._store import as_store, describe
from .errors import GvlError, InputFileError, MissingFileError

_BATCH = 256  # inner chunks read per call: about 2 MiB decoded at once
_PAD = 5_000  # records this far before a window can still overlap (shadow) records in it
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


@dataclass
class Report:
    """What `validate` checked and every problem it found (first ones first)."""

    store: str
    arrays: int = 0
    chunks: int = 0
    instances: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, show: int = 10) -> str:
        lines = [
            f"{self.store}: {'OK' if self.ok else f'{len(self.problems)} problem(s)'}",
            f"  structure and {self.arrays} arrays checked; {self.chunks:,} chunk checksums verified",
            f"  {self.instances} instance(s) re-derived from the source files",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  MISMATCH: {p}" for p in self.problems[:show]]
        if len(self.problems) > show:
            lines.append(f"  … and {len(self.problems) - show} more")
        return "\n".join(lines)


def validate(
    store: Any,
    reference: str | os.PathLike | None = None,
    variants: str | os.PathLike | None = None,
    bigwig_tables: dict[str, str | os.PathLike] | None = None,
    n: int = 200,
    seed: int = 0,
    max_problems: int = 50,
) -> Report:
    """Check `store`'s structure and checksums, then compare `n` random instances with the
    source files (default: the inputs recorded in the store's provenance)."""
    import zarr

    report = Report(describe(store))
    try:
        group = zarr.open_group(as_store(store), mode="r", zarr_format=3)
    except FileNotFoundError:
        raise MissingFileError(f"no gvl_zarr dataset at {report.store}.") from None
    except (zarr.errors.GroupNotFoundError, ValueError) as exc:
        report.problems.append(f"not a zarr v3 group ({exc})")
        return report
    try:
        schema.validate(group, report.store)
    except GvlError as exc:
        report.problems.append(str(exc))
        return report
    _check_chunks(group, report)
    if report.ok:
        _check_instances(store, group, report, reference, variants, bigwig_tables or {}, n, seed, max_problems)
    return report


# ----------------------------------------------------------------- integrity
def _specs(attrs: dict) -> list[schema.ArraySpec]:
    specs = [*schema.REGIONS, schema.SAMPLES]
    if attrs.get("has_genotypes"):
        specs += [*schema.VARIANTS, *schema.GENOTYPES]
    if attrs.get("has_reference"):
        specs.append(schema.REFERENCE)
    for name in attrs.get("tracks", []):
        specs += list(schema.track_specs(name))
    return specs


def _check_chunks(group, report: Report) -> None:
    for spec in _specs(dict(group.attrs)):
        arr = group[spec.path]
        report.arrays += 1
        try:
            if not any(isinstance(c, ShardingCodec) for c in arr.metadata.codecs):
                arr[...]  # small per-region arrays: zarr checks their crc32c codec
                report.chunks += int(arr.nchunks)
                continue
            # the cache holds only shard indexes (read once per shard, not once per batch)
            cache = ChunkCache(64 << 20)
            reader = ShardedArray(arr, cache, report.store)
            cache.budget = max(cache.budget, 4 * (reader.n_inner * 16 + 4))
            try:
                for coords in reader.chunk_steps(_BATCH):
                    reader.read_uncached(coords)  # decodes and checks each chunk; nothing is kept
                    report.chunks += len(coords)
            finally:
                reader.close()
        except GvlError as exc:
            report.problems.append(str(exc))
        except Exception as exc:  # zarr/numcodecs errors on a damaged small array
            report.problems.append(f"{report.store}: array {spec.path!r} cannot be read ({type(exc).__name__}: {exc})")


# ------------------------------------------------------------------- content
@dataclass
class _Sources:
    fasta: Any = None
    fasta_path: str | None = None
    vcf: Any = None
    vcf_path: str | None = None
    vcf_samples: dict[str, int] = field(default_factory=dict)
    bigwigs: dict[str, dict[str, str]] = field(default_factory=dict)  # track -> sample -> path


def _recorded(attrs: dict, key: str) -> str | None:
    entry = (attrs.get("provenance") or {}).get("inputs", {}).get(key)
    if isinstance(entry, dict):
        return entry.get("path")
    if isinstance(entry, list):
        return [e.get("path") for e in entry if e]
    return (attrs.get("inputs") or {}).get(key)


def _open_sources(attrs: dict, reference, variants, tables: dict, report: Report) -> _Sources:
    import cyvcf2
    import pyfaidx

    from .readers.bigwig import BigWigs

    src = _Sources()
    fasta = os.fspath(reference) if reference is not None else _recorded(attrs, "reference")
    if fasta is not None:
        if not os.path.exists(fasta):
            raise MissingFileError(f"reference FASTA {fasta} does not exist; pass --reference.")
        src.fasta, src.fasta_path = pyfaidx.Fasta(fasta, sequence_always_upper=True, rebuild=False), fasta
    if attrs.get("has_genotypes"):
        vcf = os.fspath(variants) if variants is not None else _recorded(attrs, "variants")
        if isinstance(vcf, list) or (vcf is not None and (vcf.endswith(".pgen") or os.path.isdir(vcf))):
            # the independent path reads VCF/BCF only (cyvcf2)
            report.notes.append(f"haplotypes not re-derived: {vcf} is not one VCF/BCF (pass --variants VCF)")
        elif vcf is None or not os.path.exists(vcf):
            report.notes.append(f"haplotypes not re-derived: VCF {vcf} not found (pass --variants)")
        elif src.fasta is None:
            report.notes.append("haplotypes not re-derived: no reference FASTA (pass --reference)")
        else:
            src.vcf, src.vcf_path = cyvcf2.VCF(vcf, lazy=True, threads=1), vcf
            src.vcf_samples = {s: i for i, s in enumerate(src.vcf.samples)}
    recorded = {name: (info or {}).get("table") for name, info in _recorded_tracks(attrs).items()}
    for name in attrs.get("tracks", []):
        table = tables.get(name) or recorded.get(name)
        if table is None or not os.path.exists(os.fspath(table)):
            report.notes.append(f"track {name!r} not re-derived: no BigWig table (pass --bigwig-table {name}=CSV)")
            continue
        src.bigwigs[name] = BigWigs.from_table(name, table).paths
    return src


def _recorded_tracks(attrs: dict) -> dict:
    return (attrs.get("provenance") or {}).get("inputs", {}).get("tracks") or {}


def _check_instances(store, group, report, reference, variants, tables, n, seed, max_problems) -> None:
    from .dataset import Dataset

    attrs = dict(group.attrs)
    src = _open_sources(attrs, reference, variants, tables, report)
    tracks = [t for t in attrs.get("tracks", []) if t in src.bigwigs]
    haplotypes = src.vcf is not None
    reference_only = not attrs.get("has_genotypes") and src.fasta is not None
    if not (haplotypes or reference_only or tracks):
        report.notes.append("no source file to compare with; only structure and checksums were checked")
        return
    open_ref = None if attrs.get("has_reference") else src.fasta_path
    ds = Dataset.open(store, reference=open_ref, jitter=0, preload=False)
    mode = "haplotypes" if haplotypes else "reference" if src.fasta is not None else None
    if mode == "haplotypes" and not ds.has_reference:
        mode = None
    ds = ds.with_settings(return_sequences=mode, return_tracks=tracks or False)
    if mode is None and not tracks:
        return
    bed = ds.get_bed()
    samples = ds.samples
    total = ds.n_regions * ds.n_samples
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=min(n, total), replace=False)) if total else np.zeros(0, np.int64)
    contigs = bed["chrom"].to_list()
    for flat in picks:
        r, s = divmod(int(flat), ds.n_samples)
        contig, start, end = contigs[r], int(bed["window_start"][r]), int(bed["window_end"][r])
        minus = bed["strand"][r] == "-"
        out = ds[r, s]
        out = out if isinstance(out, tuple) else (out,)
        seqs = out[0] if mode else None
        vals = out[-1] if tracks else None
        where = f"instance (region {r} {contig}:{start}-{end}{' -' if minus else ''}, sample {samples[s]})"
        expected = _expected(src, contig, start, end, samples[s], mode, ds.ploidy)
        if expected is None:
            report.problems.append(f"{where}: contig or sample missing from the source files")
            continue
        for h, (seq, coords) in enumerate(expected):
            if minus:
                seq, coords = seq.translate(_COMPLEMENT)[::-1], coords[::-1]
            if seqs is not None:
                got = (seqs[h] if mode == "haplotypes" else seqs).tobytes().decode()
                if got != seq:
                    i = next(k for k, (a, b) in enumerate(zip(got, seq, strict=True)) if a != b)
                    what = f"haplotype {h}" if mode == "haplotypes" else "reference"
                    report.problems.append(
                        f"{where} {what}: base {i} is {got[i]!r} in the store, {seq[i]!r} from "
                        f"{src.vcf_path or ''} {src.fasta_path}".replace("  ", " ")
                    )
            for t, name in enumerate(tracks):
                got_v = vals[t, h] if mode == "haplotypes" else vals[t]
                path = src.bigwigs[name].get(samples[s])
                want = _bigwig_values(path, contig, coords) if path else None
                if want is None:
                    report.problems.append(f"{where}: no BigWig for track {name!r}")
                elif not np.array_equal(np.asarray(got_v, np.float32), want):
                    i = int(np.flatnonzero(np.asarray(got_v, np.float32) != want)[0])
                    report.problems.append(
                        f"{where} track {name!r}{f' haplotype {h}' if mode == 'haplotypes' else ''}: base {i} is "
                        f"{float(got_v[i])!r} in the store, {float(want[i])!r} in {path}"
                    )
        report.instances += 1
        if len(report.problems) >= max_problems:
            report.notes.append(f"stopped after {max_problems} mismatches")
            break


def _expected(src: _Sources, contig: str, start: int, end: int, sample: str, mode, ploidy: int):
    """Per haplotype (or once, for the reference): the expected sequence and, per base, the
    reference coordinate it aligns to."""
    length = end - start
    if mode != "haplotypes":
        seq = _fasta(src, contig, start, end) if mode == "reference" else "N" * length
        if seq is None:
            return None
        return [(seq, np.arange(start, end))]
    name = match_contig(contig, src.vcf.seqnames)
    col = src.vcf_samples.get(sample)
    if name is None or col is None:
        return None
    margin = 4 * length
    while True:
        lo, hi = max(start - _PAD, 0), end + margin
        calls = _calls(src, name, lo, hi, col, ploidy)
        ref = _fasta(src, contig, lo, hi)
        if ref is None:
            return None
        out = [_apply(ref, lo, c, start, length) for c in calls]
        if all(len(coords) == 0 or coords[-1] < hi - 1 for _, coords in out):
            return out
        margin *= 4


def _calls(src: _Sources, contig: str, lo: int, hi: int, col: int, ploidy: int) -> list[list]:
    calls: list[list] = [[] for _ in range(ploidy)]
    for rec in src.vcf(f"{contig}:{lo + 1}-{hi}"):
        gt = rec.genotype.array()[col]
        for h in range(ploidy):
            allele = int(gt[h])
            if allele <= 0:
                continue
            alt = rec.ALT[allele - 1]
            if alt.startswith("<") or "[" in alt or "]" in alt or alt in ("*", "."):
                continue
            calls[h].append((rec.POS - 1, rec.REF.upper(), alt.upper()))
    return calls


def _apply(ref: str, ref_start: int, calls: list, start: int, length: int) -> tuple[str, np.ndarray]:
    """The haplotype window from `start` and its reference coordinates, base by base."""

    def base(p: int) -> str:
        i = p - ref_start
        return ref[i] if 0 <= i < len(ref) else "N"

    seq: list[str] = []
    coords: list[int] = []
    pos, last_end = start, -(10**18)
    for vpos, r, a in calls:
        first = 0
        if vpos < last_end:  # overlaps the last applied record: skipped, unless anchored on its end
            if vpos == last_end - 1 and len(r) != len(a):
                first = 1
            else:
                continue
        last_end = vpos + len(r)
        if last_end <= start:
            continue
        while pos < vpos:
            seq.append(base(pos))
            coords.append(pos)
            pos += 1
        d = len(a) - len(r)
        for j in range(first, len(a)):
            # inserted bases align to the anchor; deleted ones leave the coordinates
            c = vpos + (j if j == 0 or d == 0 else max(j - d, 0) if d > 0 else j - d)
            if c >= start:
                seq.append(a[j])
                coords.append(c)
        pos = max(pos, vpos + len(r))
        if len(seq) >= length:
            break
    while len(seq) < length:
        seq.append(base(pos))
        coords.append(pos)
        pos += 1
    return "".join(seq[:length]), np.asarray(coords[:length], np.int64)


def _fasta(src: _Sources, contig: str, start: int, end: int) -> str | None:
    name = match_contig(contig, src.fasta.keys())
    if name is None:
        return None
    n = len(src.fasta[name])
    lo, hi = max(start, 0), min(end, n)
    mid = src.fasta[name][lo:hi].seq if hi > lo else ""
    left = "N" * min(lo - start, end - start)
    return left + mid + "N" * (end - start - len(left) - len(mid))


def _bigwig_values(path: str, contig: str, coords: np.ndarray) -> np.ndarray | None:
    import pyBigWig

    bw = pyBigWig.open(path)
    try:
        name = match_contig(contig, bw.chroms())
        if name is None:
            return None
        n = bw.chroms(name)
        out = np.zeros(len(coords), np.float32)
        if len(coords) == 0:
            return out
        lo, hi = max(int(coords.min()), 0), min(int(coords.max()) + 1, n)
        if hi > lo:
            vals = np.nan_to_num(np.asarray(bw.values(name, lo, hi), np.float32))
            inside = (coords >= lo) & (coords < hi)
            out[inside] = vals[coords[inside] - lo]
        return out
    finally:
        bw.close()


def parse_tables(specs: list[str]) -> dict[str, str]:
    """`[NAME=]CSV` arguments (as for `write`) → {track name: table}."""
    tables: dict[str, str] = {}
    for spec in specs:
        name, _, table = spec.rpartition("=")
        if not os.path.exists(table):
            raise InputFileError(f"BigWig table {table} does not exist.")
        tables[name or "bigwig"] = table
    return tables
