"""Diploid GT calls parsed from a VCF record's text (write time)."""

from __future__ import annotations

from ._jit import kernel

_TAB, _COLON, _BAR, _SLASH, _DOT, _ZERO = 9, 58, 124, 47, 46, 48


@kernel
def _allele(line, at, end):
    """(allele code or -1 for '.', position after it), or (-9, at) when it is not one."""
    if at < end and line[at] == _DOT:
        return -1, at + 1
    code = -9
    while at < end and _ZERO <= line[at] <= _ZERO + 9:
        code = (0 if code < 0 else code * 10) + (line[at] - _ZERO)
        if code > 127:  # stored as int8
            return -9, at
        at += 1
    return code, at


@kernel
def parse_gt(line, at, genotypes, phased):
    """Fill genotypes[s, 0:2] (int8, -1 missing) and phased[s] from the sample columns of
    `line` (uint8) that start at `at`; GT must be each column's first field.

    Returns False, leaving the rest to the caller's general reader, at anything but a
    diploid call `a|b`, `a/b` (alleles: digits or '.') or a lone '.', or a column count
    other than genotypes.shape[0].
    """
    end = line.shape[0]
    n = genotypes.shape[0]
    for s in range(n):
        if at >= end:
            return False
        a, at = _allele(line, at, end)
        if a == -9:
            return False
        if at < end and (line[at] == _BAR or line[at] == _SLASH):
            phased[s] = line[at] == _BAR
            b, at = _allele(line, at + 1, end)
            if b == -9:
                return False
        elif a == -1:  # '.': a missing call of either ploidy
            b = -1
            phased[s] = True
        else:
            return False  # haploid or unexpected: the general reader raises or reads it
        if at < end and line[at] != _TAB and line[at] != _COLON:
            return False  # a third allele, or a malformed call
        genotypes[s, 0] = a
        genotypes[s, 1] = b
        while at < end and line[at] != _TAB:  # the column's other FORMAT fields
            at += 1
        if at < end:
            at += 1  # the tab
        elif s != n - 1:
            return False
    return at >= end
