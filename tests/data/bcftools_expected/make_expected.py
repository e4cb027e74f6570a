"""Regenerate ``haplotypes.tsv.gz``: the ``bcftools consensus`` windows the oracle tests compare against.

Usage (needs ``bcftools`` on PATH; about a minute)::

    python tests/data/bcftools_expected/make_expected.py

The windows are :func:`test_oracle_bcftools.committed_queries` (chosen from the kit
VCFs with cyvcf2), each run through :class:`_oracle.BcftoolsOracle` exactly as the
live tests do. The table's header records the bcftools and htslib versions and this
command; rows are sorted and the gzip stream has no timestamp, so an unchanged
bcftools gives the same bytes. ``test_committed_outputs_match_live_bcftools`` fails
when the stored rows and the installed bcftools disagree.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
sys.path.insert(0, str(TESTS))

from _oracle import (  # noqa: E402
    CONTIG,
    EXPECTED_HAPLOTYPES,
    FASTA,
    VCF,
    VCF_NORM,
    BcftoolsOracle,
    run_bcftools,
    write_expected,
)
from test_oracle_bcftools import LENGTH, choose_windows, committed_queries, load_vcf  # noqa: E402


def main() -> None:
    kit_norm, kit_orig = load_vcf(VCF_NORM), load_vcf(VCF)
    windows = choose_windows(kit_norm, kit_orig)
    queries = committed_queries(kit_norm, windows)
    paths = {p.name: p for p in (VCF_NORM, VCF, FASTA)}
    version = run_bcftools("--version").stdout.decode().splitlines()[:2]
    with tempfile.TemporaryDirectory(prefix="gvl_expected_") as tmp:
        oracle = BcftoolsOracle(tmp)
        for vcf in (VCF_NORM, VCF):
            samples = sorted({q[5] for q in queries if q[0] == vcf.name})
            starts = sorted({(q[3], LENGTH) for q in queries if q[0] == vcf.name})
            oracle.prefetch(vcf, FASTA, samples, CONTIG, starts)
        rows = {q: oracle.haplotype(paths[q[0]], paths[q[1]], q[5], q[6], q[2], q[3], q[4]) for q in queries}
    header = [
        "bcftools consensus windows for tests/test_oracle_bcftools.py (plus strand, upper case, 0-based start)",
        f"{version[0]} ({version[1]})",
        "command per window: bcftools consensus --exclude 'ALT~\"<.*>\"' --sample S --haplotype H"
        " --fasta-ref REGION.fa --chain C, cut with the chain (tests/_oracle.py)",
        "regenerate: python tests/data/bcftools_expected/make_expected.py",
    ]
    write_expected(EXPECTED_HAPLOTYPES, header, rows)
    print(f"wrote {len(rows)} windows to {EXPECTED_HAPLOTYPES} ({EXPECTED_HAPLOTYPES.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
