"""Ragged and annotated haplotype reads: gvl_zarr against GenVarLoader 0.43.1, in one run.

Reads the 16,384 bp stores of the last `run.py` case (kit: 28 tiles, or `--bed` large: 1,000
regions; × 2,504 samples, distinct per-sample BigWigs, max_jitter 128) with each library in its own interpreter:
random 32-instance batches (jitter 0, one seed for both) for `--seconds` after 5 warm-up
batches, per output kind, systems alternating. Prints a table and writes
`benchmarks/results/output_kinds/<time>.json`.

    .venv/bin/python benchmarks/run.py --quick          # once: writes the two stores
    .venv/bin/python benchmarks/output_kinds.py --seconds 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CASES = ROOT / "work" / "cases"
KINDS = [("haplotypes", "16384"), ("haplotypes", "ragged"), ("annotated", "16384"), ("annotated", "ragged")]

READER = """
import json, sys, time
import numpy as np
system, store, reference, seqs, length, seconds, seed = sys.argv[1:8]
length = int(length) if length.isdigit() else length
if system == "gvl_zarr":
    import gvl_zarr as gvl
    ds = gvl.Dataset.open(store, jitter=0).with_tracks(False).with_seqs(seqs).with_len(length)
else:
    import genvarloader as gvl
    ds = gvl.Dataset.open(store, reference=reference).with_tracks(False).with_seqs(seqs).with_len(length)
    ds = ds.with_settings(jitter=0)
rng = np.random.default_rng(int(seed))
nr, ns = ds.n_regions, ds.n_samples
batch = lambda: ds[rng.integers(0, nr, 32), rng.integers(0, ns, 32)]
for _ in range(5):
    batch()
done, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < float(seconds):
    batch()
    done += 32
print(json.dumps({"instances_per_s": done / (time.perf_counter() - t0), "n_regions": nr, "n_samples": ns}))
"""


def run(python: str, system: str, store: Path, reference: Path, kind: tuple[str, str], seconds: float) -> dict:
    args = [python, "-c", READER, system, str(store), str(reference), *kind, str(seconds), "20240601"]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{system} {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gvl_case = CASES / "genvarloader_L16384"
    systems = {
        "gvl_zarr": (sys.executable, CASES / "gvl_zarr_L16384" / "dataset.zarr"),
        "genvarloader": (str(ROOT / ".venv-gvl" / "bin" / "python"), gvl_case / "dataset.gvl"),
    }
    reference = gvl_case / "inputs" / "grch37.chr22_1-22000000.fa.bgz"
    for _, (_, store) in systems.items():
        if not store.exists():
            raise SystemExit(f"{store} is missing: run `benchmarks/run.py --quick` first.")
    figures: dict[str, dict[str, list[float]]] = {f"{s} {k}": {} for s, k in KINDS}
    shape = (0, 0)
    for _ in range(args.repeats):
        for kind in KINDS:
            for system, (python, store) in systems.items():
                got = run(python, system, store, reference, kind, args.seconds)
                shape = (got["n_regions"], got["n_samples"])
                figures[f"{kind[0]} {kind[1]}"].setdefault(system, []).append(got["instances_per_s"])
    print(f"{shape[0]} regions x {shape[1]} samples, jitter 0, median of {args.repeats}")
    print("| output | gvl_zarr inst/s | GenVarLoader inst/s | ratio |\n|---|---|---|---|")
    for key, by_system in figures.items():
        a, b = statistics.median(by_system["gvl_zarr"]), statistics.median(by_system["genvarloader"])
        print(f"| {key}, 32 × 16 kb | {a:,.0f} | {b:,.0f} | {a / b:.2f}× |")
    out = ROOT / "results" / "output_kinds" / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "figures": figures}, indent=1))
    print(f"raw figures: {out}")


if __name__ == "__main__":
    main()
