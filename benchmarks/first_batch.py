"""Time `Dataset.open` and the first batch in this fresh process.

    .venv/bin/python benchmarks/first_batch.py STORE haps+tracks            # batch straight after open
    .venv/bin/python benchmarks/first_batch.py STORE haps+tracks --gap 0.3  # 0.3 s between them

Outputs as in run.py (haps, haps+tracks, tracks, ref) with its track name `bigwig`, jitter 0,
one random 32-instance batch. Run it several times per row: each run is one process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SEQUENCES = {"haps": True, "haps+tracks": True, "tracks": False, "ref": "reference"}


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
    ds = gvl.Dataset.open(args.store).with_settings(
        jitter=0,
        return_sequences=SEQUENCES[args.mode],
        return_tracks="bigwig" if "tracks" in args.mode else False,
        fixed_jitter=True,
    )
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
