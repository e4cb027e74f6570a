"""Instances/s of one output after a long warm-up, in one process (no other system).

    .venv/bin/python benchmarks/steady_state.py STORE tracks --batch-size 128 --warmup 15

Random (region, sample) batches, jitter 0, outputs as run.py reads them; prints three timed runs
of `--batches` batches after `--warmup` seconds (the background verification of mapped
shards and the resident-array preload are done by then), and with `--profile` a cProfile of
one more run. run.py's `--quick` repeats measure a fresh process's first seconds instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np
from _gvlz import SEQUENCES, GvlZarr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("mode", choices=list(SEQUENCES))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of batches before timing")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    import gvl_zarr as gvl

    ds = GvlZarr().configure(gvl.Dataset.open(args.store), args.mode, jitter=0, seed=0)  # as run.py reads
    rng = np.random.default_rng(0)
    regions = rng.integers(0, ds.n_regions, (args.batches, args.batch_size))
    samples = rng.integers(0, ds.n_samples, (args.batches, args.batch_size))
    t0, i = time.perf_counter(), 0
    while time.perf_counter() - t0 < args.warmup:
        ds[regions[i % args.batches], samples[i % args.batches]]
        i += 1
    for _ in range(3):
        t0 = time.perf_counter()
        for j in range(args.batches):
            ds[regions[j], samples[j]]
        dt = time.perf_counter() - t0
        print(f"{args.mode} {args.batch_size}: {args.batches * args.batch_size / dt:,.0f} instances/s")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for j in range(args.batches):
            ds[regions[j], samples[j]]
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
