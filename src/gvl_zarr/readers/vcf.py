"""VCF/BCF genotypes through cyvcf2."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import InputFileError, MissingFileError
from ._records import to_block
from .base import RecordBatch, VariantBlock


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
        self._vcf = cyvcf2.VCF(self.path, lazy=True, threads=1)
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

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Records overlapping [start, end) on `contig` (0-based), multiallelics split."""
        n_samples = len(self.samples)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no intervals found")  # an empty span is fine
            records = list(self._vcf(f"{contig}:{max(start, 0) + 1}-{max(end, 1)}"))
        gts = np.zeros((len(records), n_samples, self.ploidy), np.int16)
        phased = np.ones((len(records), n_samples), bool)
        for i, rec in enumerate(records):
            arr = rec.genotype.array() if n_samples else np.zeros((0, 3), np.int16)
            if arr.shape[1] - 1 != self.ploidy:
                raise InputFileError(
                    f"VCF {self.path}, record {contig}:{rec.POS}: ploidy {arr.shape[1] - 1} "
                    f"is not supported; only diploid genotypes are."
                )
            if self._columns is not None:
                arr = arr[self._columns]
            gts[i] = arr[:, : self.ploidy]
            phased[i] = arr[:, self.ploidy] != 0
        batch = RecordBatch(
            contig=contig,
            pos=np.fromiter((r.POS - 1 for r in records), np.int64, len(records)),
            ref=[r.REF for r in records],
            alts=[list(r.ALT) for r in records],
            genotypes=gts,
            phased=phased,
        )
        return to_block(
            batch,
            kind=self.kind,
            path=self.path,
            samples=self.samples,
            ploidy=self.ploidy,
            allow_unphased=self.allow_unphased,
            symbolic=self._symbolic,
        )

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
