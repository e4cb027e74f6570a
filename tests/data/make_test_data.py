"""Populate ``tests/data/`` from the GRCh37 chr22 real-data kit.

Run from anywhere::

    python tests/data/make_test_data.py [--kit DIR] [--force]

The script is idempotent: a copied file whose MD5 already matches the kit is left
alone, and the one derived file is rebuilt only when missing (or with ``--force``).
See ``README.md`` in this folder for where every file comes from.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
DEFAULT_KIT = Path("/work/shared/data/real/grch37_chr22")

# (path inside the kit, MD5 recorded in the kit's MANIFEST.tsv). Copies are flat:
# each file keeps its basename directly under tests/data/.
KIT_FILES: tuple[tuple[str, str], ...] = (
    ("ref/grch37.chr22_1-22000000.fa.bgz", "fa382cfd76b6874714ea6fdf5667e123"),
    ("ref/grch37.chr22_1-22000000.fa.bgz.fai", "f2fc1ed8807e38db3ccf02345c6e0e03"),
    ("ref/grch37.chr22_1-22000000.fa.bgz.gzi", "bcfa9527993abf1d45938491437ed084"),
    ("vcf/1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz", "190f1ed0c13d1d2d5a54d7d9710db4a7"),
    ("vcf/1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz.tbi", "3a12ce7b15d2cde4f1cbeb1c91a5b0f0"),
    (
        "vcf/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz",
        "acb5f48762921377b1bfe1ff8277e4a2",
    ),
    (
        "vcf/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz.tbi",
        "a45b3f70dd20127ff12f585e343dde17",
    ),
    ("bigwig/GM12878_STAT1.ENCODE_SYDH.grch37_22.bw", "4f8b8bfdacd6d7bc8608a146d827402c"),
    ("bigwig/NA24385_WGS_coverage_500bp.grch37_22.bw", "ac030f96ab0f7dfc8c72e7529c180c4e"),
    (
        "bed/GM12878_CTCF_ChIA-PET_Tang2015_anchors.grch37.chr22_16.05-22Mb.bed",
        "aa5ff535725d0b0a0a6a9ff14a659882",
    ),
    ("bed/genes.grch37.chr22_16.05-22Mb.spliceai_gencode.bed", "7582ed086767bd7d4b2fa0211e5779d5"),
    ("bed/tiles_16384.grch37.chr22_vcf_span.bed", "479e53bfa01fc32cc2fc26e5519492e2"),
    ("bed/tss_windows_16384.grch37.chr22_16.05-22Mb.bed", "3acaea7070421b1019bb37d054e74698"),
    ("pgen/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.pgen", "dbd5db545257f937d3793285ed145b18"),
    ("pgen/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.pvar", "b41b5995b457630b201a052c366be4a0"),
    ("pgen/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.psam", "1b13baa92c7d956083ced07db1759bc8"),
    # the multiallelic chr21 PGEN sits in a sibling folder of the kit
    ("../grch37_chr21_pgen/chr21_phase3_start.pgen", "a95479855985b7b380088996761df108"),
    ("../grch37_chr21_pgen/chr21_phase3_start.pvar.zst", "d7781c56ab72f5a1dfa3f65d20875c88"),
    ("../grch37_chr21_pgen/chr21_phase3_start.psam", "1b13baa92c7d956083ced07db1759bc8"),
)

# Derived file: the untouched `chr22`-named STAT1 track, cut down to the VCF span.
CHR22_SOURCE = "bigwig/GM12878_STAT1.ENCODE_SYDH.hg19.chr22_1-30000000.orig.bw"
CHR22_SOURCE_MD5 = "5dd23a868bfe428ddaba75e1e32fb81c"
CHR22_SUBSET = "STAT1.chr22_named.subset.bw"
CHR22_CONTIG = "chr22"
CHR22_SUBSET_START = 16_000_000  # 0-based, inclusive
CHR22_SUBSET_END = 16_600_000  # 0-based, exclusive


def md5sum(path: Path) -> str:
    """Return the hex MD5 digest of a file."""
    digest = hashlib.md5()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_kit_files(kit: Path, out: Path) -> None:
    """Copy every file in ``KIT_FILES`` unless an identical copy is already there."""
    for rel, expected in KIT_FILES:
        src = kit / rel
        dst = out / Path(rel).name
        if dst.exists() and md5sum(dst) == expected:
            continue
        if not src.exists():
            raise FileNotFoundError(f"{src} is missing from the data kit {kit}")
        found = md5sum(src)
        if found != expected:
            raise ValueError(f"{src}: MD5 {found} does not match the kit manifest {expected}")
        shutil.copyfile(src, dst)
        print(f"copied {rel} -> {dst.name}")


def make_chr22_subset(kit: Path, out: Path, *, force: bool = False) -> Path:
    """Write the ``chr22``-named STAT1 BigWig restricted to chr22:16.0-16.6 Mb.

    Every interval of the original track that overlaps [16,000,000, 16,600,000) is
    kept, clipped to that window, with its value unchanged. The header keeps the
    original contig name ``chr22`` and the original (hg19) length 51,304,566, so the
    file differs from the FASTA/VCF only in the contig name, as intended for
    contig-name-matching tests.
    """
    import pyBigWig

    dst = out / CHR22_SUBSET
    if dst.exists() and not force:
        return dst
    src = kit / CHR22_SOURCE
    found = md5sum(src)
    if found != CHR22_SOURCE_MD5:
        raise ValueError(f"{src}: MD5 {found} does not match the kit manifest {CHR22_SOURCE_MD5}")

    reader = pyBigWig.open(str(src))
    try:
        chrom_len = reader.chroms()[CHR22_CONTIG]
        intervals = reader.intervals(CHR22_CONTIG, CHR22_SUBSET_START, CHR22_SUBSET_END) or ()
    finally:
        reader.close()

    starts = [max(s, CHR22_SUBSET_START) for s, _, _ in intervals]
    ends = [min(e, CHR22_SUBSET_END) for _, e, _ in intervals]
    values = [float(v) for _, _, v in intervals]

    tmp = dst.with_suffix(".tmp.bw")
    writer = pyBigWig.open(str(tmp), "w")
    try:
        writer.addHeader([(CHR22_CONTIG, chrom_len)], maxZooms=10)
        writer.addEntries([CHR22_CONTIG] * len(starts), starts, ends=ends, values=values)
    finally:
        writer.close()
    os.replace(tmp, dst)
    print(f"wrote {dst.name}: {len(starts)} intervals on {CHR22_CONTIG}")
    return dst


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kit",
        type=Path,
        default=Path(os.environ.get("GVL_REAL_DATA_KIT", DEFAULT_KIT)),
        help="the grch37_chr22 folder of the real-data kit (default: %(default)s)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild derived files")
    args = parser.parse_args(argv)

    copy_kit_files(args.kit, DATA_DIR)
    make_chr22_subset(args.kit, DATA_DIR, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
