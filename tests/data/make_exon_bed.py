"""Derive the exon BED of the 79 test genes from the spliceai 1.3.1 GENCODE annotation.

    pip download spliceai==1.3.1 --no-deps -d /tmp/spliceai
    unzip -o /tmp/spliceai/spliceai-1.3.1-py2.py3-none-any.whl 'spliceai/annotations/grch37.txt' -d /tmp/spliceai
    python tests/data/make_exon_bed.py /tmp/spliceai/spliceai/annotations/grch37.txt

`annotations/grch37.txt` (GENCODE-derived, GPLv3, one transcript per gene) has columns
#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END, exon bounds as comma-terminated
0-based starts and exclusive ends (TX_START/TX_END equal the first exon start and last exon
end, and the kit's genes BED uses them as BED coordinates). For each gene of
genes.grch37.chr22_16.05-22Mb.spliceai_gencode.bed one row per exon is written:
chrom, chromStart, chromEnd, name (<gene>_exon<k>), score 0, strand, transcript_id (the
gene), exon_number (k, 1 at the transcript's 5' end: lowest start on '+', highest on '-'),
under a `#chrom…` header naming the columns.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENES = HERE / "genes.grch37.chr22_16.05-22Mb.spliceai_gencode.bed"
OUT = HERE / "exons.grch37.chr22_16.05-22Mb.spliceai_gencode.bed"
HEADER = ["chrom", "chromStart", "chromEnd", "name", "score", "strand", "transcript_id", "exon_number"]


def main(annotation: str) -> None:
    genes = {}
    for line in GENES.read_text().splitlines():
        chrom, start, end, name, _, strand = line.split("\t")
        genes[name] = (chrom, int(start), int(end), strand)
    rows = []
    found = set()
    for line in Path(annotation).read_text().splitlines():
        if line.startswith("#"):
            continue
        name, chrom, strand, tx_start, tx_end, ex_starts, ex_ends = line.split("\t")
        if name not in genes or genes[name] != (chrom, int(tx_start), int(tx_end), strand):
            continue
        found.add(name)
        starts = [int(x) for x in ex_starts.rstrip(",").split(",")]
        ends = [int(x) for x in ex_ends.rstrip(",").split(",")]
        exons = sorted(zip(starts, ends, strict=True))
        if strand == "-":
            exons = exons[::-1]
        for k, (s, e) in enumerate(exons, start=1):
            rows.append((chrom, s, e, f"{name}_exon{k}", 0, strand, name, k))
    missing = set(genes) - found
    if missing:
        raise SystemExit(f"genes not in {annotation}: {sorted(missing)}")
    rows.sort(key=lambda r: (r[1], r[2]))
    with open(OUT, "w") as fh:
        fh.write("#" + "\t".join(HEADER) + "\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")
    print(f"wrote {len(rows)} exons of {len(found)} genes to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
