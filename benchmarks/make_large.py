"""Make a larger benchmark case from the kit by tiling the VCF span with overlapping windows.

    python benchmarks/make_large.py [--regions 1000] [--length 16384]
    python benchmarks/run.py --bed benchmarks/work/large/regions_1000.bed --label large-1000

How it is derived: the kit's VCF covers only 22:16,050,075-16,499,957 (450 kb), so more
regions that hold variants can only come from overlapping windows. The span is taken from the
kit's VCF tiles BED (its first start to its last end); `--regions` windows of `--length` bp
are placed with starts evenly spaced across it. For 1,000 × 16,384 bp the stride is about
434 bp, so neighbouring windows overlap by about 97%. The samples stay the kit's 2,504, the
variants and reference are the kit's own, unchanged, and the tracks are the same one-BigWig-
per-sample files as for the kit (``make_bigwigs.py``, written by ``run.py`` if missing; their
span 22:16,000,000-16,550,000 holds every window with its 1,000 or 16,384 bp resize and
jitter). Every window holds real variants, but each variant is stored in many windows, as it
would be in any dataset of overlapping windows. ``run.py`` then resizes each window around its
midpoint for the 1,000 bp shape.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from run import KIT_FILES, REPO, WORK, locate_kit, read_regions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", type=int, default=1000, help="number of windows")
    parser.add_argument("--length", type=int, default=16384, help="window length, bp")
    args = parser.parse_args()
    tiles = read_regions(locate_kit() / KIT_FILES["bed"])
    out = WORK / "large" / f"regions_{args.regions}.bed"
    write_windows(out, tiles[0][0], tiles[0][1], tiles[-1][2], args.regions, args.length)
    print(f"Wrote {args.regions} windows of {args.length:,} bp to {out.relative_to(REPO)}")
    print(f"Run: python benchmarks/run.py --bed {out.relative_to(REPO)} --label large-{args.regions}")


def write_windows(path: Path, chrom: str, lo: int, hi: int, n: int, length: int) -> None:
    """Write `n` windows of `length` with starts evenly spaced in [lo, hi - length]."""
    starts = np.linspace(lo, hi - length, n).round().astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{chrom}\t{s}\t{s + length}\tw{i}\n" for i, s in enumerate(starts)))


if __name__ == "__main__":
    main()
