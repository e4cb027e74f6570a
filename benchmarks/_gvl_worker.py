"""GenVarLoader side of the benchmark; runs inside ``benchmarks/.venv-gvl``.

Usage: ``python _gvl_worker.py TASK.json`` (see ``_common.run_worker``).
"""

from __future__ import annotations

import time
from typing import Any

from _common import (
    TRACK,
    Fetch,
    dir_bytes,
    load_batches,
    measure_iterable,
    read_modes,
    remap_samples,
    run_worker,
    time_call,
)

SEQS = {"haps": "haplotypes", "haps+tracks": "haplotypes", "tracks": None, "ref": "reference"}


def configure(ds: Any, mode: str, jitter: int, seed: int) -> Any:
    """The dataset set to return `mode` with `jitter`."""
    tracks = TRACK if "tracks" in mode else False
    return ds.with_seqs(SEQS[mode]).with_tracks(tracks).with_settings(jitter=jitter, rng=seed)


def open_dataset(task: dict[str, Any]) -> Any:
    """Open the dataset at its fixed output length."""
    import genvarloader as gvl

    ds = gvl.Dataset.open(task["dataset"], reference=task["reference"])
    return ds.with_len(task["length"])


def fetcher(ds: Any, mode: str, jitter: int, seed: int) -> Fetch:
    """A function of (region_idx, sample_idx) returning one batch."""
    configured = configure(ds, mode, jitter, seed)
    return lambda r, s: configured[r, s]


def write(task: dict[str, Any]) -> dict[str, Any]:
    """Write the dataset from raw inputs (this includes GenVarLoader building its VCF index)."""
    import genvarloader as gvl
    from genoray import VCF

    def run() -> None:
        gvl.write(
            task["dataset"],
            gvl.read_bedlike(task["bed"]),
            variants=VCF(task["vcf"]),
            tracks=gvl.BigWigs.from_table(TRACK, task["bigwig_csv"]),
            max_jitter=task["max_jitter"],
            overwrite=True,
        )

    _, write_s = time_call(run)
    return {"write_s": write_s, "disk_bytes": dir_bytes(task["dataset"])}


def start(task: dict[str, Any]) -> dict[str, Any]:
    """Import, open and read one batch in a fresh process."""
    t0 = time.perf_counter()
    import genvarloader  # noqa: F401

    import_s = time.perf_counter() - t0
    ds, open_s = time_call(lambda: open_dataset(task))
    regions, samples, names = load_batches(task["batches"])
    samples = remap_samples(samples, names, list(ds.samples))
    fetch = fetcher(ds, task["mode"], 0, task["seed"])
    _, first_s = time_call(lambda: fetch(regions[0], samples[0]))
    return {"import_s": import_s, "open_s": open_s, "first_batch_s": first_s}


def read(task: dict[str, Any]) -> dict[str, Any]:
    """Throughput for every mode and jitter on the shared batches."""
    ds = open_dataset(task)
    regions, samples, names = load_batches(task["batches"])
    samples = remap_samples(samples, names, list(ds.samples))
    return read_modes(task, regions, samples, lambda m, j: fetcher(ds, m, j, task["seed"]))


def loader(task: dict[str, Any]) -> dict[str, Any]:
    """Throughput through ``to_dataloader(shuffle=True)``."""
    import torch

    torch.manual_seed(task["seed"])
    ds = configure(open_dataset(task), task["mode"], task["jitter"], task["seed"])

    def make() -> Any:
        return ds.to_dataloader(batch_size=task["batch_size"], shuffle=True, num_workers=0)

    return measure_iterable(
        make, budget_s=task["budget_s"], repeats=task["repeats"], warmup_batches=1
    )


if __name__ == "__main__":
    run_worker({"write": write, "start": start, "read": read, "loader": loader})
