"""Genotype codes read from a variant file: packed into stored int8 calls, phasing checked (one pass each)."""

from __future__ import annotations

from ._jit import kernel


@kernel
def pack_calls(alleles, phasepresent, gts, phased):
    """gts[r, s, p] = alleles[r, 2s + p] as int8 (every missing code, e.g. pgenlib's -9, as
    -1); phased[r, s] = the call is homozygous or pgenlib marks its phase present (pgenlib
    leaves phasepresent unset for homozygous calls: only heterozygous ones carry phase).

    Was three numpy passes over int32 (n, samples, 2) arrays plus an int8 conversion:
    ~0.5 s of a 1.8 s write of 4,443 records × 20,000 samples."""
    for r in range(alleles.shape[0]):
        for s in range(gts.shape[1]):
            a = alleles[r, 2 * s]
            b = alleles[r, 2 * s + 1]
            gts[r, s, 0] = a if a >= 0 else -1
            gts[r, s, 1] = b if b >= 0 else -1
            phased[r, s] = a == b or phasepresent[r, s] != 0


@kernel
def first_unphased(gts, phased):
    """(record, sample) of the first heterozygous call with both alleles present that is not
    phased, or (-1, -1); one pass instead of four numpy passes over the calls."""
    for r in range(gts.shape[0]):
        for s in range(gts.shape[1]):
            if not phased[r, s]:
                a = gts[r, s, 0]
                b = gts[r, s, 1]
                if a >= 0 and b >= 0 and a != b:
                    return r, s
    return -1, -1
