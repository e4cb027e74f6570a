"""Record batches of any variant format → the writer's `VariantBlock` (one rule set for all)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._kernels.genotype_codes import first_unphased
from ..errors import InputFileError, UnphasedGenotypeError
from .base import RecordBatch, VariantBlock


def is_symbolic(alt: str) -> bool:
    """Symbolic, breakend, spanning-deletion or missing ALT alleles (none has a sequence to apply)."""
    return alt.startswith("<") or "[" in alt or "]" in alt or alt in ("*", ".", "")


def to_block(batch: RecordBatch, reader: Any) -> VariantBlock:
    """Split multiallelic records into one variant row per ALT and check phasing.

    `reader` is the variant reader the batch came from (its `kind`, `path`, `samples`,
    `ploidy`, `allow_unphased`, and the set `_symbolic`, which collects the skipped
    symbolic ALTs: they get no row and their calls read as reference). Raises
    `UnphasedGenotypeError` at the first record with an unphased heterozygous call,
    unless `allow_unphased`.
    """
    kind, path, samples, ploidy = reader.kind, reader.path, reader.samples, reader.ploidy
    allow_unphased, symbolic = reader.allow_unphased, reader._symbolic
    n_rec = len(batch.pos)
    gts = np.asarray(batch.genotypes)
    if gts.shape != (n_rec, len(samples), ploidy):
        if n_rec and gts.ndim == 3 and gts.shape[2] != ploidy:
            raise InputFileError(
                f"{kind} {path}, record {batch.contig}:{int(batch.pos[0]) + 1}: ploidy {gts.shape[2]} "
                f"is not supported; only diploid genotypes are."
            )
        gts = gts.reshape(n_rec, len(samples), ploidy)
    if not allow_unphased and batch.phased is not None and n_rec:
        _check_phased(gts, batch, kind, path, samples)
    pos: list[int] = []
    refs: list[bytes] = []
    alts: list[bytes] = []
    first = np.zeros(n_rec, np.int64)
    width = max((len(a) + 1 for a in batch.alts), default=1)
    alt_map = np.full((n_rec, width), -1, np.int64)
    for i in range(n_rec):
        first[i] = len(pos)
        p = int(batch.pos[i])
        ref = batch.ref[i].encode()
        for k, alt in enumerate(batch.alts[i], start=1):
            if is_symbolic(alt):
                symbolic.add((batch.contig, p + 1, alt))
                continue
            alt_map[i, k] = len(pos)
            pos.append(p)
            refs.append(ref)
            alts.append(alt.encode())
    info = {}
    if batch.info:
        rec_idx, alt_k = np.nonzero(alt_map[:, 1:] >= 0)  # row order: record, then ALT
        info = {name: values[rec_idx, alt_k] for name, values in batch.info.items()}
    genotypes = gts.astype(np.int8, copy=False)  # readers may hand over int8 blocks (changed in place)
    genotypes[genotypes < 0] = -1  # every missing form (-1, -2 padding, -9) reads as reference
    return VariantBlock(
        record_pos=np.asarray(batch.pos, np.int64),
        record_ref_len=np.fromiter((len(r) for r in batch.ref), np.int64, n_rec),
        pos=np.asarray(pos, np.int64),
        ref=refs,
        alt=alts,
        record_first_variant=first,
        record_alt_map=alt_map,
        genotypes=genotypes,
        info=info,
        format=dict(batch.format),
    )


def _check_phased(gts: np.ndarray, batch: RecordBatch, kind: str, path: str, samples: list[str]) -> None:
    phased = np.ascontiguousarray(batch.phased, bool)
    r, _ = first_unphased(np.ascontiguousarray(gts), phased)
    if r < 0:
        return
    a, b = gts[r, :, 0], gts[r, :, 1]
    cols = np.flatnonzero(~phased[r] & (a >= 0) & (b >= 0) & (a != b))
    raise UnphasedGenotypeError(
        f"{kind} {path}, record {batch.contig}:{int(batch.pos[r]) + 1}, sample {samples[int(cols[0])]}: "
        f"heterozygous genotype is unphased ({cols.size} such sample(s) in this record), so its "
        "haplotypes are undefined. Fix: phase the genotypes (e.g. SHAPEIT, Beagle) or pass "
        "allow_unphased=True to read alleles in the order stored."
    )
