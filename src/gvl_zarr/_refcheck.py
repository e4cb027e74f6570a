"""Checking VCF REF alleles against the reference FASTA."""

from __future__ import annotations

import numpy as np

from .errors import ReferenceMismatchError
from .readers.fasta import FastaReader


def check_ref_alleles(
    fasta: FastaReader,
    contig_names: list[str],
    v_contig: np.ndarray,
    v_pos: np.ndarray,
    ref_offsets: np.ndarray,
    ref_bytes: np.ndarray,
    *,
    vcf: str,
    gap: int = 100_000,
) -> None:
    """Raise `ReferenceMismatchError` at the first variant whose REF differs from the FASTA.

    Variants are read in clusters (gaps under `gap` bp) so each FASTA span is read once.
    """
    if v_pos.size == 0:
        return
    ref_len = np.diff(ref_offsets)
    order = np.lexsort((v_pos, v_contig))
    breaks = np.flatnonzero((np.diff(v_contig[order]) != 0) | (np.diff(v_pos[order]) > gap)) + 1
    for cluster in np.split(order, breaks):
        contig = contig_names[int(v_contig[cluster[0]])]
        lo = int(v_pos[cluster].min())
        hi = int((v_pos[cluster] + ref_len[cluster]).max())
        window = fasta.window(contig, lo, hi)
        for v in cluster:
            a = int(v_pos[v]) - lo
            expected = window[a : a + int(ref_len[v])]
            found = ref_bytes[ref_offsets[v] : ref_offsets[v + 1]]
            if expected.tobytes() != found.tobytes().upper():
                raise ReferenceMismatchError(
                    f"VCF {vcf}, record {contig}:{int(v_pos[v]) + 1}: REF "
                    f"{found.tobytes().decode()!r} disagrees with reference {fasta.path}, which has "
                    f"{expected.tobytes().decode()!r} there. The VCF and FASTA are probably from "
                    "different builds; use the FASTA the VCF was called against."
                )
