"""Malformed inputs made from the real kit files (bgzipped and indexed with htslib through pysam)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pysam

from conftest import VCF

REGION = ("22", 16_100_000, 16_104_096)
"""A 4096-bp window inside the kit VCF, used by most bad-input cases."""


def small_bed(tmp: Path, rows=(f"{REGION[0]}\t{REGION[1]}\t{REGION[2]}",), name: str = "r.bed") -> str:
    bed = tmp / name
    bed.write_text("\n".join(rows) + "\n")
    return str(bed)


def kit_lines() -> tuple[list[str], list[str]]:
    """Header lines and record lines of the kit VCF."""
    with gzip.open(VCF, "rt") as fh:
        lines = fh.read().splitlines()
    return [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")]


def bgzip(tmp: Path, name: str, lines: list[str], index: bool = True) -> str:
    """Write `lines` as a bgzipped VCF (and a fresh tabix index)."""
    plain = tmp / name.removesuffix(".gz")
    plain.write_text("\n".join(lines) + "\n")
    out = str(plain) + ".gz"
    pysam.tabix_compress(str(plain), out, force=True)
    plain.unlink()
    if index:
        tabix_index(out)
    return out


def tabix_index(path: str, csi: bool = False) -> None:
    """`tabix -f [-C] -p vcf path` (htslib through pysam)."""
    pysam.tabix_index(path, preset="vcf", force=True, csi=csi)


def edit_record(
    records: list[str], header: list[str], pos_min: int, edit: Callable[[list[str], list[str]], bool | None]
) -> tuple[list[str], int]:
    """Apply `edit(fields, samples)` to the first simple record at or after `pos_min` for which
    it does not return False; return the records and the edited POS."""
    samples = header[-1].split("\t")[9:]
    for i, line in enumerate(records):
        fields = line.split("\t")
        if int(fields[1]) >= pos_min and "," not in fields[4] and not fields[4].startswith("<"):
            if edit(fields, samples) is False:
                continue
            return [*records[:i], "\t".join(fields), *records[i + 1 :]], int(fields[1])
    raise AssertionError("no record to edit")


def edited_vcf(tmp: Path, name: str, edit, pos_min: int = REGION[1] + 500) -> tuple[str, int]:
    header, records = kit_lines()
    records, pos = edit_record(records, header, pos_min, edit)
    return bgzip(tmp, name, header + records), pos
