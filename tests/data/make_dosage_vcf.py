"""Write dosages.chr22_16.049-16.140Mb.6s.vcf.gz: the normalised kit VCF over
22:16,049,000-16,140,000 for the six test samples (records with an ALT call among them),
with a FORMAT/DS dosage added to every call.

The kit has no dosages, so they are made from the genotype: DS = (ALT alleles called)
- 0.05 * (ALT alleles called) + 0.01 * ((POS + sample index) % 7), rounded to 3 decimals,
and missing ('.') on every 11th record for the third sample, so both values that differ from
the genotype and missing values are exercised. Run from the repository root:

    python tests/data/make_dosage_vcf.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz"
OUT = HERE / "dosages.chr22_16.049-16.140Mb.6s.vcf.gz"
SAMPLES = ["NA12878", "HG00096", "HG00097", "NA18486", "NA19238", "HG01595"]
DS_HEADER = (
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Alternate allele dosage (made from GT, see make_dosage_vcf.py)">'
)


def dosage(gt: str, pos: int, s: int, record: int) -> str:
    if s == 2 and record % 11 == 0:
        return "."
    n_alt = sum(a not in ("0", ".") for a in gt.replace("/", "|").split("|"))
    return f"{n_alt - 0.05 * n_alt + 0.01 * ((pos + s) % 7):.3f}"


def main() -> None:
    text = subprocess.run(
        ["bcftools", "view", "-s", ",".join(SAMPLES), "-r", "22:16049000-16140000", "-c", "1", str(SOURCE)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = []
    record = 0
    for line in text.splitlines():
        if line.startswith("##"):
            if not line.startswith("##bcftools"):
                lines.append(line)
            continue
        if line.startswith("#"):
            lines.append(DS_HEADER)
            lines.append(line)
            continue
        cols = line.split("\t")
        pos = int(cols[1])
        cols[8] = "GT:DS"
        cols[9:] = [f"{gt}:{dosage(gt, pos, s, record)}" for s, gt in enumerate(cols[9:])]
        lines.append("\t".join(cols))
        record += 1
    plain = OUT.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(OUT)], check=True)


if __name__ == "__main__":
    main()
