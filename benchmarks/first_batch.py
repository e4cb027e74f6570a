"""Time `Dataset.open` and the first batch in this fresh process.

    .venv/bin/python benchmarks/first_batch.py STORE haps+tracks            # batch straight after open
    .venv/bin/python benchmarks/first_batch.py STORE haps+tracks --gap 0.3  # 0.3 s between them

Outputs as run.py reads them (haps, haps+tracks, tracks, ref; `_gvlz.GvlZarr.configure`), jitter 0,
one random 32-instance batch. Run it several times per row: each run is one process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _gvlz import SEQUENCES, GvlZarr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("mode", choices=list(SEQUENCES))
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between open and the first batch")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    t_import = time.perf_counter()
    import gvl_zarr as gvl

    t0 = time.perf_counter()
    ds = GvlZarr().configure(gvl.Dataset.open(args.store), args.mode, jitter=0, seed=0)  # as run.py reads
    t1 = time.perf_counter()
    time.sleep(args.gap)
    rng = np.random.default_rng(1)
    regions, samples = rng.integers(0, ds.n_regions, args.batch_size), rng.integers(0, ds.n_samples, args.batch_size)
    t2 = time.perf_counter()
    ds[regions, samples]
    t3 = time.perf_counter()
    print(
        f"{args.mode}: import {t0 - t_import:.3f} s, open {t1 - t0:.3f} s, gap {args.gap:g} s, "
        f"first batch {t3 - t2:.3f} s"
    )


if __name__ == "__main__":
    main()
