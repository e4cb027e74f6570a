"""pyBigWig vs pybigtools for the writer's per-region track query (a micro-measure of one file).

The writer asks each BigWig for the intervals over one merged span per group of nearby
regions and turns them into (starts, ends, values) arrays (readers/bigwig.py). This times
exactly that for both libraries on the kit STAT1 track and checks they return the same
intervals. Light enough for a shared machine (a few seconds):

    .venv/bin/python benchmarks/bigwig_readers.py [BIGWIG] [BED] [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np

from gvl_zarr.readers.bed import read_bed

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def _clipped(ivs, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals as arrays clipped to [lo, hi), as the writer stores them."""
    arr = np.fromiter(itertools.chain.from_iterable(ivs), np.float64, count=3 * len(ivs)).reshape(-1, 3)
    starts = np.maximum(arr[:, 0].astype(np.int64), lo)
    return starts, np.minimum(arr[:, 1].astype(np.int64), hi), arr[:, 2].astype(np.float32)


def pybigwig_query(bw, contig: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _clipped(bw.intervals(contig, lo, hi) or (), lo, hi)


def pybigtools_query(bw, contig: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # pybigtools clips the edge intervals to the query itself; pyBigWig returns them whole
    return _clipped(list(bw.records(contig, lo, hi)), lo, hi)


def measure(name: str, open_file, query, spans, repeats: int) -> tuple[float, list]:
    """Best-of-`repeats` seconds to open the file and run every span's query once."""
    best, out = float("inf"), []
    for _ in range(repeats):
        t0 = time.perf_counter()
        bw = open_file()
        out = [query(bw, c, lo, hi) for c, lo, hi in spans]
        bw.close()
        best = min(best, time.perf_counter() - t0)
    n = sum(len(o[0]) for o in out)
    print(f"{name:10s} {best * 1e3:8.2f} ms for {len(spans)} spans ({n} intervals), best of {repeats}")
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bigwig", nargs="?", default=str(DATA / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"))
    parser.add_argument("bed", nargs="?", default=str(DATA / "tss_windows_16384.grch37.chr22_16.05-22Mb.bed"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import pybigtools
    import pyBigWig

    bed = read_bed(args.bed)
    spans = list(zip(bed["chrom"], bed["chromStart"], bed["chromEnd"], strict=True))
    a, ra = measure("pyBigWig", lambda: pyBigWig.open(args.bigwig), pybigwig_query, spans, args.repeats)
    b, rb = measure("pybigtools", lambda: pybigtools.open(args.bigwig), pybigtools_query, spans, args.repeats)
    for x, y in zip(ra, rb, strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)
    print(f"same intervals; pybigtools / pyBigWig time: {b / a:.2f}")


if __name__ == "__main__":
    main()
