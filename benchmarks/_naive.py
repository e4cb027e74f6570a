"""Naive baseline: read the source files directly and apply variants in Python.

Per instance (region, sample) it reads the reference with pyfaidx, the sample's genotypes with
cyvcf2 (one tabix query per instance) and the track with pyBigWig, then walks the variants of
each haplotype in Python. With ``preload`` the genotypes of the whole VCF are read once into
numpy first and only the per-instance walk stays in Python.

Haplotype rules, meant to match GenVarLoader's fixed-length output: the haplotype starts at
the window start and is filled to the right; deletions pull in reference bases past the window
end and insertions push bases out; positions past either contig end are ``N`` (track 0). A
deletion that starts before the window removes its deleted bases from the window start.
Overlapping variants: the first applied wins. Track values follow the haplotype: deleted
positions are dropped and inserted bases repeat the value at the variant position.

Usage: ``python _naive.py TASK.json`` (see ``_common.run_worker``).
"""

from __future__ import annotations

import csv
from typing import Any, NamedTuple

import cyvcf2
import numpy as np
import pyBigWig
import pyfaidx
from _common import (
    MEMORY,
    BatchStream,
    Fetch,
    measure_iterable,
    read_modes,
    run_worker,
    time_call,
)

#: Extra reference read past the window end for deletions (the kit's longest is 21 bp).
RIGHT_PAD = 1024
#: How far before the window start a deletion may begin and still reach into the window.
LEFT_PAD = 64


class Variant(NamedTuple):
    """One ALT allele carried by a haplotype, 0-based."""

    pos: int
    ref: str
    alt: str


class Genotypes:
    """All genotypes of the VCF held in memory, read once with cyvcf2."""

    def __init__(self, vcf_path: str) -> None:
        pos, refs, alts, calls = [], [], [], []
        for rec in cyvcf2.VCF(vcf_path):
            pos.append(rec.POS - 1)
            refs.append(rec.REF)
            alts.append(rec.ALT)
            calls.append(rec.genotype.array()[:, :2].astype(np.int8))
        self.chrom_pos = np.asarray(pos, dtype=np.int64)
        self.refs, self.alts = refs, alts
        self.calls = np.stack(calls)  # (variants, samples, 2)

    def variants(self, start: int, end: int, sample: int) -> tuple[list[Variant], list[Variant]]:
        """Variants of each haplotype of `sample` with position in [start, end)."""
        lo, hi = np.searchsorted(self.chrom_pos, [start, end])
        haps: list[list[Variant]] = [[], []]
        for hap in (0, 1):
            alleles = self.calls[lo:hi, sample, hap]
            for k in np.flatnonzero(alleles > 0):
                i = lo + k
                alt = self.alts[i][alleles[k] - 1]
                haps[hap].append(Variant(int(self.chrom_pos[i]), self.refs[i], alt))
        return haps[0], haps[1]


class Sources:
    """The open source files and the regions of one dataset."""

    def __init__(self, task: dict[str, Any]) -> None:
        self.fasta = pyfaidx.Fasta(task["reference"], sequence_always_upper=True)
        self.vcf = cyvcf2.VCF(task["vcf"])
        self.n_samples = len(self.vcf.samples)
        self.length = task["length"]
        self.chroms, self.starts = read_bed_starts(task["bed"])
        self.bigwig_paths = read_bigwig_table(task["bigwig_csv"])
        self.sample_names = list(self.vcf.samples)
        self._bigwigs: dict[str, Any] = {}
        self.genotypes = Genotypes(task["vcf"]) if task["preload"] else None

    def reference(self, chrom: str, start: int, end: int) -> str:
        """Reference bases of [start, end), ``N`` past either contig end."""
        contig = self.fasta[chrom]
        lo, hi = max(start, 0), min(end, len(contig))
        body = contig[lo:hi].seq if hi > lo else ""
        return "N" * (lo - start) + body + "N" * (end - start - (lo - start) - len(body))

    def track(self, sample: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Track values of [start, end) for `sample`, 0 where missing or off the contig."""
        path = self.bigwig_paths[self.sample_names[sample]]
        bw = self._bigwigs.get(path) or self._bigwigs.setdefault(path, pyBigWig.open(path))
        out = np.zeros(end - start, dtype=np.float32)
        lo, hi = max(start, 0), min(end, bw.chroms(chrom))
        if hi > lo:
            out[lo - start : hi - start] = bw.values(chrom, lo, hi, numpy=True)
        return np.nan_to_num(out, nan=0.0)

    def variants(self, chrom: str, start: int, end: int, sample: int) -> tuple[list[Variant], ...]:
        """Variants of each haplotype of `sample` with position in [start, end)."""
        if self.genotypes is not None:
            return self.genotypes.variants(start, end, sample)
        haps: tuple[list[Variant], list[Variant]] = ([], [])
        for rec in self.vcf(f"{chrom}:{start + 1}-{end}"):
            if start > rec.POS - 1:
                continue
            call = rec.genotype.array()[sample]
            for hap in (0, 1):
                if call[hap] > 0:
                    haps[hap].append(Variant(rec.POS - 1, rec.REF, rec.ALT[call[hap] - 1]))
        return haps


def read_bed_starts(path: str) -> tuple[list[str], np.ndarray]:
    """Contig and start of each region of a BED whose regions already have the dataset length."""
    chroms, starts = [], []
    with open(path) as fh:
        for line in fh:
            chrom, start = line.split("\t")[:2]
            chroms.append(chrom)
            starts.append(int(start))
    return chroms, np.asarray(starts, dtype=np.int64)


def read_bigwig_table(path: str) -> dict[str, str]:
    """Sample name → BigWig path from a CSV with columns sample,path."""
    with open(path, newline="") as fh:
        return {row["sample"]: row["path"] for row in csv.DictReader(fh)}


def build_haplotype(
    ref: str, values: np.ndarray | None, start: int, length: int, variants: list[Variant]
) -> tuple[str, np.ndarray | None]:
    """Apply sorted `variants` to `ref` (which starts at `start` and reaches RIGHT_PAD past
    the window) and return `length` bases and, if `values` is given, the realigned track."""
    pieces: list[str] = []
    tracks: list[np.ndarray] = []
    cursor, filled = start, 0
    for var in variants:
        end = var.pos + len(var.ref)
        if end <= cursor:
            continue
        if var.pos < cursor:
            if var.pos < start:
                cursor = end
            continue
        pieces += [ref[cursor - start : var.pos - start], var.alt]
        if values is not None:
            tracks += [values[cursor - start : var.pos - start], allele_track(values, var, start)]
        filled += var.pos - cursor + len(var.alt)
        cursor = end
        if filled >= length:
            break
    rest = max(length - filled, 0)
    pieces.append(ref[cursor - start : cursor - start + rest])
    seq = "".join(pieces)[:length]
    if values is None:
        return seq, None
    tracks.append(values[cursor - start : cursor - start + rest])
    return seq, np.concatenate(tracks)[:length]


def allele_track(values: np.ndarray, var: Variant, start: int) -> np.ndarray:
    """Track values under an ALT allele: kept reference positions, then inserted bases
    repeating the value at the variant position."""
    i = var.pos - start
    kept = values[i : i + min(len(var.alt), len(var.ref))]
    extra = len(var.alt) - len(var.ref)
    return np.concatenate([kept, np.full(extra, values[i])]) if extra > 0 else kept


class NaiveLoader:
    """Builds batches instance by instance from `Sources`."""

    def __init__(self, sources: Sources, seed: int) -> None:
        self.src = sources
        self.rng = np.random.default_rng(seed)

    def instance(self, region: int, sample: int, mode: str, jitter: int) -> list[np.ndarray]:
        """One instance as uint8 sequences and float32 tracks."""
        src, length = self.src, self.src.length
        chrom = src.chroms[region]
        start = int(src.starts[region]) + int(self.rng.integers(-jitter, jitter + 1))
        if mode == "ref":
            return [as_bytes(src.reference(chrom, start, start + length))]
        if mode == "tracks":
            return [src.track(sample, chrom, start, start + length)]
        span_end = start + length + RIGHT_PAD
        ref = src.reference(chrom, start, span_end)
        values = src.track(sample, chrom, start, span_end) if mode == "haps+tracks" else None
        built = [
            build_haplotype(ref, values, start, length, hap)
            for hap in src.variants(chrom, start - LEFT_PAD, span_end, sample)
        ]
        out = [np.stack([as_bytes(seq) for seq, _ in built])]
        if values is not None:
            out.append(np.stack([track for _, track in built]))
        return out

    def batch(self, regions: np.ndarray, samples: np.ndarray, mode: str, jitter: int) -> Any:
        """A batch with the same layout as the other systems: ``S1`` sequences."""
        parts = [self.instance(int(r), int(s), mode, jitter) for r, s in zip(regions, samples, strict=True)]
        stacked = [np.stack(p) for p in zip(*parts, strict=True)]
        stacked[0] = stacked[0].view("S1") if mode != "tracks" else stacked[0]
        return tuple(stacked) if len(stacked) > 1 else stacked[0]


def as_bytes(seq: str) -> np.ndarray:
    """A sequence as a uint8 array."""
    return np.frombuffer(seq.encode("ascii"), dtype=np.uint8)


def write(task: dict[str, Any]) -> dict[str, Any]:
    """The naive baseline writes nothing; with ``preload`` this times reading all genotypes."""
    stop = MEMORY.every(0.02)
    _, prepare_s = time_call(lambda: Genotypes(task["vcf"]))
    stop.set()
    MEMORY.mark("after_write")
    return {"write_s": prepare_s, "disk_bytes": None}


def start(task: dict[str, Any]) -> dict[str, Any]:
    """Open the sources and read one batch in a fresh process."""
    sources, open_s = time_call(lambda: Sources(task))
    MEMORY.mark("after_open")
    regions, samples = BatchStream(task["batches"], None, 0)[0]
    naive = NaiveLoader(sources, task["seed"])
    _, first_s = time_call(lambda: naive.batch(regions, samples, task["mode"], 0))
    MEMORY.mark("after_first_batch")
    return {"import_s": None, "open_s": open_s, "first_batch_s": first_s}


def read(task: dict[str, Any]) -> dict[str, Any]:
    """Time a fixed number of batches (budget 0: one batch per repeat) per mode and jitter."""
    sources, open_s = time_call(lambda: Sources(task))
    MEMORY.mark("after_open")
    naive = NaiveLoader(sources, task["seed"])

    def fetch_for(mode: str, jitter: int) -> Fetch:
        return lambda r, s: naive.batch(r, s, mode, jitter)

    return {**read_modes(task, None, fetch_for), "open_s": open_s}


def loader(task: dict[str, Any]) -> dict[str, Any]:
    """Throughput through a torch DataLoader over a per-instance map-style dataset."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    torch.manual_seed(task["seed"])
    sources, open_s = time_call(lambda: Sources(task))
    MEMORY.mark("after_open")
    naive = NaiveLoader(sources, task["seed"])
    n_samples = naive.src.n_samples

    class Instances(Dataset):
        def __len__(self) -> int:
            return len(naive.src.starts) * n_samples

        def __getitem__(self, i: int) -> list[np.ndarray]:
            region, sample = divmod(i, n_samples)
            return naive.instance(region, sample, task["mode"], task["jitter"])

    def make() -> DataLoader:
        return DataLoader(Instances(), batch_size=task["batch_size"], shuffle=True)

    result = measure_iterable(make, budget_s=task["budget_s"], repeats=task["repeats"], warmup_batches=0)
    return {**result, "open_s": open_s}


if __name__ == "__main__":
    run_worker({"write": write, "start": start, "read": read, "loader": loader})
