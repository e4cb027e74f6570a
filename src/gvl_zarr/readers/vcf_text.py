"""Genotypes of a bgzipped text VCF parsed from its text by a numba kernel, not cyvcf2.

cyvcf2 spent 1.1 s CPU on the kit's 6,135 records × 2,504 samples (htslib parses every
FORMAT field of every sample into a record, then `genotype.array()` copies the calls out);
this reader takes 0.22–0.36 s for the same records and identical arrays (`VcfReader.read`,
whole span, after a warm-up read; tests/test_vcf_text.py compares them). Only the plain case is
read here: records without INFO/END (so a record spans POS + len(REF), as tabix selects it),
GT as the first FORMAT field, every call diploid (`a|b`, `a/b`) or '.'. At anything else
`read_text` returns None and `VcfReader.read` reads the span with cyvcf2, which raises the
errors a bad record deserves (haploid or polyploid calls, no GT).
"""

from __future__ import annotations

import numpy as np

from .._kernels.gt_text import parse_gt
from .._vcf_checks import check_alleles, check_sorted
from ._records import is_symbolic
from .base import RecordBatch
from .vcf_sites import VcfSites

_BLOCK_BYTES = 8 << 20


def read_text(
    sites: VcfSites, contig: str, start: int, end: int, n_file_samples: int, columns: np.ndarray | None
) -> RecordBatch | None:
    """Records of [start, end) on `contig` with their calls (columns: the chosen samples'
    positions among the file's, or None for all), or None to read the span otherwise."""
    n_samples = n_file_samples if columns is None else len(columns)
    if n_samples == 0:
        return None
    pos: list[int] = []
    refs: list[str] = []
    alts: list[list[str]] = []
    gt_blocks: list[np.ndarray] = []
    ph_blocks: list[np.ndarray] = []
    block = max(1, _BLOCK_BYTES // (3 * n_samples))
    calls = np.empty((n_file_samples, 2), np.int8)
    phase = np.empty(n_file_samples, np.bool_)
    for line, t, p, _ in sites.records(contig, start, end):
        samples_at = line.find(b"\t", t[7] + 1) + 1
        fmt = line[t[7] + 1 : samples_at - 1] if samples_at else b""
        if b"END=" in line[t[6] + 1 : t[7]] or not (fmt == b"GT" or fmt.startswith(b"GT:")):
            return None  # INFO/END (the span tabix gives it is cyvcf2's to follow), or GT not first
        if not parse_gt(np.frombuffer(line, np.uint8), samples_at, calls, phase):
            return None
        i = len(pos) % block
        if i == 0:
            gt_blocks.append(np.empty((block, n_samples, 2), np.int8))
            ph_blocks.append(np.empty((block, n_samples), bool))
        ref = line[t[2] + 1 : t[3]].decode()
        alt_text = line[t[3] + 1 : t[4]].decode()
        rec_alts = [] if alt_text == "." else alt_text.split(",")  # as cyvcf2 gives them
        pos.append(p + 1)
        refs.append(ref)
        alts.append(rec_alts)
        check_alleles(sites.path, contig, p + 1, ref, [a for a in rec_alts if not is_symbolic(a)])
        gt_blocks[-1][i] = calls if columns is None else calls[columns]
        ph_blocks[-1][i] = phase if columns is None else phase[columns]
    n_rec = len(pos)
    gts = np.concatenate(gt_blocks)[:n_rec] if gt_blocks else np.zeros((0, n_samples, 2), np.int8)
    del gt_blocks
    phased = np.concatenate(ph_blocks)[:n_rec] if ph_blocks else np.ones((0, n_samples), bool)
    check_sorted(sites.path, contig, pos)
    return RecordBatch(
        contig=contig, pos=np.asarray(pos, np.int64) - 1, ref=refs, alts=alts, genotypes=gts, phased=phased
    )
