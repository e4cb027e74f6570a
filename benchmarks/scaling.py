"""How gvl_zarr's read cost grows with samples, regions, length and batch size.

    python benchmarks/scaling.py [--budget 1.0]

gvl_zarr only (the side-by-side comparison is `run.py`): datasets are written from the kit
(normalised VCF, STAT1 BigWig for every sample) for each (regions, samples, length) case,
then haplotypes + realigned tracks are read in random batches of several sizes. Prints a
markdown table: instances/s (median of 5 × budget seconds) and write time/size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl

import gvl_zarr as gvl

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
VCF = DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz"
FASTA = DATA / "grch37.chr22_1-22000000.fa.bgz"
BIGWIG = DATA / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"
SPAN = (16_050_000, 16_500_000)


def regions_bed(path: Path, n_regions: int, length: int) -> Path:
    """n evenly spaced windows across the VCF span (overlapping when n is large)."""
    starts = np.linspace(SPAN[0], SPAN[1] - length, n_regions).astype(np.int64)
    pl.DataFrame({"chrom": ["22"] * n_regions, "chromStart": starts, "chromEnd": starts + length}).write_csv(
        path, separator="\t", include_header=False
    )
    return path


def throughput(ds: gvl.Dataset, batch: int, budget: float, rng: np.random.Generator) -> float:
    """Median instances/s of 5 repeats of `budget` seconds (after one warm-up batch)."""
    ds[rng.integers(0, ds.n_regions, batch), rng.integers(0, ds.n_samples, batch)]
    rates = []
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget:
            ds[rng.integers(0, ds.n_regions, batch), rng.integers(0, ds.n_samples, batch)]
            n += batch
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per repeat")
    args = parser.parse_args()
    all_samples = cyvcf2.VCF(str(VCF)).samples
    rng = np.random.default_rng(0)
    cases = [
        (28, 2504, 16384),
        (28, 250, 16384),
        (28, 25, 16384),
        (200, 2504, 16384),
        (1000, 2504, 16384),
        (28, 2504, 1000),
        (28, 2504, 131072),
    ]
    batches = (8, 32, 128)
    print(f"| regions | samples | length | write s | disk MB | {' | '.join(f'batch {b} inst/s' for b in batches)} |")
    print("|---|---|---|---|---|" + "---|" * len(batches))
    with tempfile.TemporaryDirectory() as tmp:
        for n_regions, n_samples, length in cases:
            samples = all_samples[:n_samples]
            table = Path(tmp) / "bw.csv"
            pl.DataFrame({"sample": samples, "path": [str(BIGWIG)] * n_samples}).write_csv(table)
            bed = regions_bed(Path(tmp) / "regions.bed", n_regions, min(length, SPAN[1] - SPAN[0]))
            out = Path(tmp) / "case.gvl"
            t0 = time.perf_counter()
            gvl.write(
                out,
                bed,
                variants=VCF,
                bigwigs=gvl.BigWigs.from_table("bigwig", table),
                length=length,
                max_jitter=128,
                samples=samples,
                overwrite=True,
                progress=False,
            )
            write_s = time.perf_counter() - t0
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
            ds = gvl.Dataset.open(out, reference=FASTA, jitter=128, fixed_jitter=True)
            rates = [throughput(ds, b, args.budget, rng) for b in batches]
            print(
                f"| {n_regions:,} | {n_samples:,} | {length:,} | {write_s:.2f} | {size:.2f} | "
                + " | ".join(f"{r:,.0f}" for r in rates)
                + " |",
                flush=True,
            )


if __name__ == "__main__":
    os.environ.setdefault("GVL_ZARR_THREADS", str(len(os.sched_getaffinity(0))))
    main()
