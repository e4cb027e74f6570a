"""VCF/BCF genotypes through cyvcf2."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np

from .._vcf_checks import check_alleles, check_bgzf, check_haploid, check_sorted, check_tabix, header_problem
from ..errors import InputFileError, MissingFileError, UnphasedGenotypeError
from .base import VariantBlock


def _is_symbolic(alt: str) -> bool:
    return alt.startswith("<") or "[" in alt or "]" in alt or alt in ("*", ".", "")


def _format_ids(vcf) -> set[str]:
    return {h.info().get("ID") for h in vcf.header_iter() if h.type == "FORMAT"}


class VcfReader:
    """Reads phased genotypes of indexed VCF/BCF files."""

    def __init__(
        self, path: str | os.PathLike, samples: Sequence[str] | None = None, *, allow_unphased: bool = False
    ) -> None:
        import cyvcf2

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise MissingFileError(f"VCF {self.path} does not exist.")
        if not any(os.path.exists(self.path + ext) for ext in (".tbi", ".csi")):
            raise MissingFileError(
                f"VCF {self.path} has no index ({self.path}.tbi or .csi). "
                f"Fix: bgzip it if needed and run `bcftools index -t {self.path}`."
            )
        check_bgzf(self.path)  # before htslib: a truncated file can hang its reads
        try:
            self._vcf = cyvcf2.VCF(self.path, lazy=True, threads=1)
        except Exception as exc:  # cyvcf2 raises a bare Exception when htslib rejects the header
            raise InputFileError(f"VCF {self.path} cannot be read: {header_problem(self.path) or exc}.") from None
        if "GT" not in _format_ids(self._vcf):
            raise InputFileError(
                f"VCF {self.path} has no GT (genotype) FORMAT field, so it holds no haplotypes. "
                "Fix: pass a VCF with phased GT calls, or write tracks only (no variants=)."
            )
        all_samples = list(self._vcf.samples)
        if samples is not None:
            missing = [s for s in samples if s not in set(all_samples)]
            if missing:
                raise InputFileError(
                    f"VCF {self.path} lacks samples {missing[:5]}"
                    f"{' …' if len(missing) > 5 else ''}; choose samples it has."
                )
            self._vcf.set_samples(list(samples))
            # cyvcf2 keeps the file's sample order; columns are permuted back to `samples`.
            wanted = set(samples)
            file_order = {s: i for i, s in enumerate(s for s in all_samples if s in wanted)}
            self._columns: np.ndarray | None = np.array([file_order[s] for s in samples], np.int64)
            self.samples = list(samples)
        else:
            self._columns = None
            self.samples = all_samples
        self.contigs = list(self._vcf.seqnames)
        try:
            self.contig_lengths = dict(zip(self.contigs, self._vcf.seqlens, strict=False))
        except (AttributeError, ValueError):
            self.contig_lengths = {}
        self.ploidy = 2
        self.allow_unphased = allow_unphased
        self._symbolic: set[tuple[str, int, str]] = set()
        self._index_checked: set[str] = set()

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Records overlapping [start, end) on `contig` (0-based), multiallelics split."""
        pos: list[int] = []
        refs: list[bytes] = []
        alts: list[bytes] = []
        first: list[int] = []
        alt_maps: list[list[int]] = []
        gts: list[np.ndarray] = []
        rec_pos: list[int] = []
        rec_ref_len: list[int] = []
        n_samples = len(self.samples)
        if contig not in self._index_checked:
            check_tabix(self.path, [contig])
            self._index_checked.add(contig)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no intervals found")  # an empty span is fine
            records = list(self._vcf(f"{contig}:{max(start, 0) + 1}-{max(end, 1)}"))
        check_sorted(self.path, contig, [rec.POS for rec in records])
        for rec in records:
            ref = rec.REF
            check_alleles(self.path, contig, rec.POS, ref, [a for a in rec.ALT if not _is_symbolic(a)])
            rec_pos.append(rec.POS - 1)
            rec_ref_len.append(len(ref))
            first.append(len(pos))
            amap = [-1]
            for alt in rec.ALT:
                if _is_symbolic(alt):
                    self._symbolic.add((contig, rec.POS, alt))
                    amap.append(-1)
                    continue
                amap.append(len(pos))
                pos.append(rec.POS - 1)
                refs.append(ref.encode())
                alts.append(alt.encode())
            alt_maps.append(amap)
            gt = rec.genotype if n_samples else None
            if n_samples and gt is None:
                raise InputFileError(
                    f"VCF {self.path}, record {contig}:{rec.POS} has no GT field; every record needs "
                    "genotypes. Fix: drop it or add GT (`bcftools view -i 'FMT/GT!=\"\"'`)."
                )
            arr = gt.array() if gt is not None else np.zeros((0, 3), np.int16)
            if arr.shape[1] - 1 != self.ploidy:
                raise InputFileError(
                    f"VCF {self.path}, record {contig}:{rec.POS}: ploidy {arr.shape[1] - 1} "
                    "is not supported; only diploid genotypes are. Fix: write haploid contigs "
                    "separately, or recode calls as homozygous diploid."
                )
            if self._columns is not None:
                arr = arr[self._columns]
            check_haploid(self.path, contig, rec.POS, arr, self.samples)
            alleles = arr[:, : self.ploidy]
            if not self.allow_unphased:
                self._check_phased(arr, contig, rec.POS)
            gts.append(alleles.astype(np.int8))
        width = max((len(m) for m in alt_maps), default=1)
        alt_map = np.full((len(alt_maps), width), -1, np.int64)
        for i, m in enumerate(alt_maps):
            alt_map[i, : len(m)] = m
        genotypes = np.stack(gts) if gts else np.zeros((0, n_samples, self.ploidy), np.int8)
        # cyvcf2 pads absent alleles with -2; both missing forms read as reference.
        genotypes[genotypes < 0] = -1
        return VariantBlock(
            record_pos=np.asarray(rec_pos, np.int64),
            record_ref_len=np.asarray(rec_ref_len, np.int64),
            pos=np.asarray(pos, np.int64),
            ref=refs,
            alt=alts,
            record_first_variant=np.asarray(first, np.int64),
            record_alt_map=alt_map,
            genotypes=genotypes,
        )

    @property
    def n_symbolic_skipped(self) -> int:
        """Distinct symbolic ALT alleles met so far (each reads as reference)."""
        return len(self._symbolic)

    def _check_phased(self, arr: np.ndarray, contig: str, pos: int) -> None:
        a, b, phased = arr[:, 0], arr[:, 1], arr[:, 2]
        bad = np.flatnonzero((phased == 0) & (a >= 0) & (b >= 0) & (a != b))
        if bad.size:
            sample = self.samples[int(bad[0])]
            raise UnphasedGenotypeError(
                f"VCF {self.path}, record {contig}:{pos}, sample {sample}: heterozygous "
                f"genotype is unphased ({bad.size} such sample(s) in this record), so its "
                "haplotypes are undefined. Fix: phase the VCF (e.g. SHAPEIT, Beagle) or pass "
                "allow_unphased=True to read alleles in the order written."
            )
