"""VCF/BCF genotypes through cyvcf2."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np

from .._variant_fields import INT_MISSING, FieldSpec, per_alt
from .._vcf_checks import check_alleles, check_bgzf, check_haploid, check_sorted, check_tabix, header_problem
from ..errors import InputFileError, MissingFileError
from ._records import is_symbolic, to_block
from .base import RecordBatch, VariantBlock
from .vcf_sites import READ_ERRORS, VcfSites
from .vcf_text import read_text

_BLOCK_BYTES = 8 << 20
"""Calls are gathered in blocks of about this many bytes (int8 allele codes + phase flags)."""


def _format_ids(vcf) -> set[str]:
    return {h.info().get("ID") for h in vcf.header_iter() if h.type == "FORMAT"}


class VcfReader:
    """Reads phased genotypes of indexed VCF/BCF files."""

    kind = "VCF"

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
            known = set(all_samples)
            missing = [s for s in samples if s not in known]
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
        # the text reader's columns: each chosen sample's position among the file's
        self._n_file_samples = len(all_samples)
        index = {s: i for i, s in enumerate(all_samples)}
        self._file_columns = None if samples is None else np.array([index[s] for s in samples], np.int64)
        self._sites = VcfSites.open(self.path) if len(set(all_samples)) == len(all_samples) else None
        try:
            self.contig_lengths = dict(zip(self.contigs, self._vcf.seqlens, strict=False))
        except (AttributeError, ValueError):
            self.contig_lengths = {}
        self.ploidy = 2
        self.allow_unphased = allow_unphased
        self._symbolic: set[tuple[str, int, str]] = set()
        self._index_checked: set[str] = set()
        self.fields: list[FieldSpec] = []  # INFO/FORMAT fields to read (`_variant_fields.resolve`)

    def header_fields(self) -> dict[tuple[str, str], tuple[str, str]]:
        """{(INFO or FORMAT, ID): (Number, Type)} of the header's declarations."""
        out = {}
        for h in self._vcf.header_iter():
            if h.type in ("INFO", "FORMAT"):
                info = h.info()
                out[(h.type, info.get("ID"))] = (str(info.get("Number")), str(info.get("Type")))
        return out

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Records overlapping [start, end) on `contig` (0-based), multiallelics split."""
        n_samples = len(self.samples)
        self.check_index(contig)
        if self._sites is not None and not self.fields:  # INFO/FORMAT fields come through cyvcf2
            try:
                batch = read_text(self._sites, contig, start, end, self._n_file_samples, self._file_columns)
            except READ_ERRORS:
                batch = None  # a damaged record or block: cyvcf2 reads the span and names the problem
            if batch is not None:
                return to_block(batch, self)
        # Records stream into blocks of int8 calls (the stored allele codes): holding cyvcf2's
        # records until the end kept each one's decoded FORMAT data too (the kit's 6,109
        # records × 2,504 samples: ~120 MB of records beside 61 MB of int16 calls).
        pos: list[int] = []
        refs: list[str] = []
        alts: list[list[str]] = []
        gt_blocks: list[np.ndarray] = []
        ph_blocks: list[np.ndarray] = []
        values: dict[str, list[tuple[int, np.ndarray]]] = {f.name: [] for f in self.fields}
        block = max(1, _BLOCK_BYTES // max(1, (self.ploidy + 1) * n_samples))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no intervals found")  # an empty span is fine
            for rec in self._vcf(f"{contig}:{max(start, 0) + 1}-{max(end, 1)}"):
                i = len(pos) % block
                if i == 0:
                    gt_blocks.append(np.zeros((block, n_samples, self.ploidy), np.int8))
                    ph_blocks.append(np.ones((block, n_samples), bool))
                pos.append(rec.POS)
                refs.append(rec.REF)
                alts.append(list(rec.ALT))
                check_alleles(self.path, contig, rec.POS, rec.REF, [a for a in rec.ALT if not is_symbolic(a)])
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
                gt_blocks[-1][i] = np.maximum(arr[:, : self.ploidy], -1)  # int8 as stored; every missing form is -1
                ph_blocks[-1][i] = arr[:, self.ploidy] != 0
                for f in self.fields:
                    values[f.name].append(self._field_values(rec, f, n_samples))
        check_sorted(self.path, contig, pos)
        n_rec = len(pos)
        gts = np.concatenate(gt_blocks)[:n_rec] if gt_blocks else np.zeros((0, n_samples, self.ploidy), np.int8)
        del gt_blocks
        phased = np.concatenate(ph_blocks)[:n_rec] if ph_blocks else np.ones((0, n_samples), bool)
        del ph_blocks
        width = max((len(a) for a in alts), default=0)
        info, fmt = {}, {}
        for f in self.fields:
            shape = (n_rec, width) if f.source == "INFO" else (n_rec, n_samples, width)
            out = np.full(shape, f.missing, f.dtype)
            for r, (n_alt, v) in enumerate(values.pop(f.name)):
                per_alt(v, f.number, n_alt, out[r])
            (info if f.source == "INFO" else fmt)[f.name] = out
        batch = RecordBatch(
            contig=contig,
            pos=np.asarray(pos, np.int64) - 1,
            ref=refs,
            alts=alts,
            genotypes=gts,
            phased=phased,
            info=info,
            format=fmt,
        )
        return to_block(batch, self)

    def _field_values(self, rec, f: FieldSpec, n_samples: int) -> tuple[int, np.ndarray | None]:
        """(ALT count, the record's raw values of `f`) — FORMAT values with samples in
        `self.samples` order; None when the record lacks the field."""
        n_alt = len(rec.ALT)
        if f.source == "INFO":
            v = rec.INFO.get(f.key)
            if v is None:
                return n_alt, None
            arr = np.array(v if isinstance(v, tuple) else [v], dtype=object)
            arr[arr == None] = np.nan if f.dtype == "float32" else INT_MISSING  # noqa: E711 (elementwise)
            return n_alt, arr.astype(f.dtype)
        v = rec.format(f.key) if n_samples else None
        if v is None:
            return n_alt, None
        v = np.asarray(v)
        if f.dtype == "int32":
            v = np.where(v == INT_MISSING + 1, INT_MISSING, v)  # htslib's vector end: missing too
        if self._columns is not None:
            v = v[self._columns]
        return n_alt, v.astype(f.dtype)

    def site_reader(self) -> VcfSites | None:
        """A reader of record sites from the VCF text (None for BCF), checked like `read`'s index."""
        return self._sites

    def check_index(self, contig: str) -> None:
        """Check the index of `contig` once (`read` does it before the first query)."""
        if contig not in self._index_checked:
            check_tabix(self.path, [contig])
            self._index_checked.add(contig)

    @property
    def n_symbolic_skipped(self) -> int:
        """Distinct symbolic ALT alleles met so far (each reads as reference)."""
        return len(self._symbolic)

    def data_contigs(self) -> list[str]:
        """Contigs that hold at least one record (the header may list many more)."""
        found = []
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no intervals found")
            for c in self.contigs:
                if next(iter(self._vcf(c)), None) is not None:
                    found.append(c)
        return found
