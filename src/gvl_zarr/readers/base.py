"""The small interfaces every input reader implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class VariantBlock:
    """Variants read from one contig span, multiallelic records split into one row per ALT.

    `genotypes` holds allele codes per record (0 = REF, k = k-th ALT, -1 = missing);
    ALT k of record i is variant row `record_first_variant[i] + k - 1`, or no row
    when `record_alt_skipped` marks it (symbolic alleles).
    """

    record_pos: np.ndarray  # (record,) int64, 0-based POS of every record, in file order
    record_ref_len: np.ndarray  # (record,) int64, len(REF) of every record
    pos: np.ndarray  # (variant,) int64, 0-based
    ref: list[bytes]  # (variant,)
    alt: list[bytes]  # (variant,)
    record_first_variant: np.ndarray  # (record,) int64
    record_alt_map: np.ndarray  # (record, max_alleles) int64: allele code -> variant row, -1 none
    genotypes: np.ndarray  # (record, sample, ploidy) int8
    info: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (variant,) requested INFO values
    format: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (record, sample, max ALTs)


@dataclass(frozen=True)
class RecordBatch:
    """Records of one contig span as a format reads them, before multiallelics are split.

    Every variant format (VCF, PGEN, VCF Zarr) reads into this one shape and
    `readers._records.to_block` turns it into the writer's `VariantBlock`, so the
    splitting, symbolic-allele and phasing rules are shared by all formats.
    """

    contig: str
    pos: np.ndarray  # (record,) int64, 0-based POS, in file order
    ref: list[str]  # (record,)
    alts: list[list[str]]  # (record,) ALT alleles of each record (allele code k = alts[k - 1])
    genotypes: np.ndarray  # (record, sample, ploidy) integer allele codes, negative = missing
    phased: np.ndarray | None  # (record, sample) bool; None when every call is phased
    info: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (record, max ALTs), ALT k at k - 1
    format: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (record, sample, max ALTs)


class VariantReader(Protocol):
    """Genotype source: VCF/BCF, PGEN, VCF Zarr, or several of them split by contig."""

    kind: str  # the format's name in messages ("VCF", "PGEN", "VCF Zarr")
    path: str
    samples: list[str]
    contigs: list[str]
    contig_lengths: dict[str, int]
    ploidy: int
    n_symbolic_skipped: int

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Variants overlapping the 0-based half-open span, for every sample."""
        ...


class TrackReader(Protocol):
    """Per-sample signal source (BigWig now)."""

    name: str
    samples: list[str]
    paths: dict[str, str]

    def contigs(self, sample: str) -> dict[str, int]:
        """Contig lengths of the sample's file."""
        ...

    def intervals(self, sample: str, contig: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, values) of the sample's intervals overlapping the span, clipped to it."""
        ...

    def release(self, path: str) -> None:
        """Close one file (the writer is done with it)."""
        ...

    def close(self) -> None:
        """Release open files."""
        ...
