"""Slow, obviously-correct Python versions of the kernels, for comparison in tests."""

from __future__ import annotations

import cyvcf2
import numpy as np
import pyBigWig
import pyfaidx


def haplotype_calls(vcf: str, sample: str, hap: int, contig: str, start: int, end: int) -> list[tuple[int, str, str]]:
    """(0-based pos, REF, ALT) of the ALT alleles haplotype `hap` (0/1) carries, in file order."""
    v = cyvcf2.VCF(vcf, samples=[sample])
    calls = []
    for rec in v(f"{contig}:{start + 1}-{end}"):
        allele = rec.genotypes[0][hap]
        if allele is None or allele <= 0:
            continue
        alt = rec.ALT[allele - 1]
        if alt.startswith("<"):
            continue
        calls.append((rec.POS - 1, rec.REF.upper(), alt.upper()))
    return calls


def apply_calls(
    ref: str, ref_start: int, calls: list[tuple[int, str, str]], win_start: int, length: int
) -> tuple[str, list[int]]:
    """Haplotype of `length` from `win_start` and, per base, the reference coordinate it aligns
    to. `ref` holds the reference from `ref_start`; N beyond it."""
    seq, coords, _ = apply_calls_annotated(ref, ref_start, calls, win_start, length)
    return seq, coords


def apply_calls_annotated(
    ref: str, ref_start: int, calls: list[tuple[int, str, str]], win_start: int, length: int
) -> tuple[str, list[int], list[int]]:
    """`apply_calls` plus, per base, the index in `calls` of the call it comes from (-1:
    a reference base)."""

    def base(pos: int) -> str:
        i = pos - ref_start
        return ref[i] if 0 <= i < len(ref) else "N"

    seq: list[str] = []
    coords: list[int] = []
    ids: list[int] = []
    pos = win_start
    last_end = -(10**18)
    for k, (vpos, r, a) in enumerate(calls):
        first = 0
        if vpos < last_end:
            if vpos == last_end - 1 and len(r) != len(a):
                first = 1
            else:
                continue
        last_end = vpos + len(r)
        if last_end <= win_start:
            continue
        while pos < vpos:
            seq.append(base(pos))
            coords.append(pos)
            ids.append(-1)
            pos += 1
        d = len(a) - len(r)
        for j in range(first, len(a)):
            # the length difference sits right after the anchor base, as in bcftools chains
            c = vpos + (j if j == 0 or d == 0 else max(j - d, 0) if d > 0 else j - d)
            if c >= win_start:
                seq.append(a[j])
                coords.append(c)
                ids.append(k)
        pos = max(pos, vpos + len(r))
        if len(seq) >= length:
            break
    while len(seq) < length:
        seq.append(base(pos))
        coords.append(pos)
        ids.append(-1)
        pos += 1
    return "".join(seq[:length]), coords[:length], ids[:length]


def fasta_window(fasta: str, contig: str, start: int, end: int) -> str:
    """Uppercase reference of [start, end), N outside the contig."""
    fa = pyfaidx.Fasta(fasta, sequence_always_upper=True)
    n = len(fa[contig])
    left = "N" * max(0, -start)
    right = "N" * max(0, end - n)
    return left + fa[contig][max(start, 0) : min(end, n)].seq + right


def bigwig_values(path: str, contig: str, coords: list[int] | np.ndarray) -> np.ndarray:
    """pyBigWig values at each coordinate, NaN and outside the contig read as 0."""
    bw = pyBigWig.open(path)
    n = bw.chroms(contig)
    coords = np.asarray(coords)
    lo, hi = max(int(coords.min()), 0), min(int(coords.max()) + 1, n)
    vals = np.nan_to_num(np.asarray(bw.values(contig, lo, hi), np.float32)) if hi > lo else np.zeros(0, np.float32)
    out = np.zeros(len(coords), np.float32)
    inside = (coords >= lo) & (coords < hi)
    out[inside] = vals[coords[inside] - lo]
    return out
