"""Diploid GT calls parsed from a VCF record's text (write time)."""

from __future__ import annotations

from ._jit import kernel

_TAB, _COLON, _BAR, _SLASH, _DOT, _ZERO = 9, 58, 124, 47, 46, 48


@kernel
def parse_gt(line, at, genotypes, phased):
    """Fill genotypes[s, 0:2] (int8, -1 missing) and phased[s] from the sample columns of
    `line` (uint8) that start at `at`; GT must be each column's first field.

    Returns False, leaving the rest to the caller's general reader, at anything but a
    diploid call `a|b`, `a/b` (alleles: digits or '.') or a lone '.', or a column count
    other than genotypes.shape[0]. Alleles are parsed inline, not by a helper returning a
    tuple: that cost 59 µs per kit record (10 kB), this 11.7 µs.
    """
    end = line.shape[0]
    n = genotypes.shape[0]
    for s in range(n):
        b = -1
        for k in range(2):
            if at >= end:
                return False
            c = line[at]
            if c == _DOT:
                code = -1
                at += 1
            elif _ZERO <= c <= _ZERO + 9:
                code = 0
                while at < end and _ZERO <= line[at] <= _ZERO + 9:
                    code = code * 10 + (line[at] - _ZERO)
                    if code > 127:  # stored as int8
                        return False
                    at += 1
            else:
                return False
            if k == 1:
                b = code
                break
            genotypes[s, 0] = code
            sep = line[at] if at < end else _TAB
            if sep == _BAR or sep == _SLASH:  # noqa: SIM109 (plain compares in the kernel)
                phased[s] = sep == _BAR
                at += 1
            elif code == -1:  # a lone '.': a missing call of either ploidy
                phased[s] = True
                break
            else:
                return False  # haploid: the general reader raises
        genotypes[s, 1] = b
        if at < end and line[at] != _TAB:
            if line[at] != _COLON:
                return False  # a third allele, or a malformed call
            while at < end and line[at] != _TAB:  # the column's other FORMAT fields
                at += 1
        if at < end:
            at += 1  # the tab
        elif s != n - 1:
            return False
    return at >= end
