"""The main job on the bundled real data: write a dataset, stream it into PyTorch.

Writes the 28 tiles of 16,384 bp over the 1000 Genomes chr22 VCF span for all 2,504
samples (the GM12878 STAT1 BigWig stands in for every sample's track), then streams
shuffled batches of haplotypes + realigned tracks through a DataLoader and prints
throughput.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cyvcf2
import polars as pl

import gvl_zarr as gvl

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
VCF = DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz"
FASTA = DATA / "grch37.chr22_1-22000000.fa.bgz"
BED = DATA / "tiles_16384.grch37.chr22_vcf_span.bed"
BIGWIG = DATA / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="dataset path (default: a temporary folder)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--num-workers", type=int, default=0)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    out = Path(args.out or Path(tmp.name) / "demo.gvl")
    table = Path(tmp.name) / "bigwigs.csv"
    samples = cyvcf2.VCF(str(VCF)).samples
    pl.DataFrame({"sample": samples, "path": [str(BIGWIG)] * len(samples)}).write_csv(table)

    t0 = time.perf_counter()
    gvl.write(
        out,
        BED,
        variants=VCF,
        bigwigs=gvl.BigWigs.from_table("bigwig", table),
        length=16384,
        max_jitter=128,
        reference=FASTA,
        overwrite=True,
    )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out}: {time.perf_counter() - t0:.1f} s, {size / 1e6:.1f} MB")

    ds = gvl.Dataset.open(out)  # the reference is stored in the dataset
    print(ds)
    loader = ds.to_dataloader(batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers)
    it = iter(loader)
    haps, tracks = next(it)  # first batch: includes kernel compilation (cached on disk)
    print(f"batch: haplotypes {tuple(haps.shape)} {haps.dtype}, tracks {tuple(tracks.shape)} {tracks.dtype}")
    n, t0 = 0, time.perf_counter()
    for i, (haps, _tracks) in enumerate(it):
        n += haps.shape[0]
        if i + 1 >= args.batches:
            break
    dt = time.perf_counter() - t0
    print(
        f"streamed {n} instances in {dt:.2f} s: {n / dt:,.0f} instances/s "
        f"({n * haps[0].numel() / dt / 1e9:.2f} G bases/s)"
    )


if __name__ == "__main__":
    main()
