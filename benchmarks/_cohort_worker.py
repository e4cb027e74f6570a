"""One cohort write in its own process; runs in the project's venv or GenVarLoader's.

Usage: ``python _cohort_worker.py TASK.json`` (see ``_common.run_worker``). The task's
``action`` is the system: ``gvl_zarr`` (serially, or on a ``distributed.LocalCluster`` when
``workers`` > 0) or ``genvarloader``. Only the chosen system is imported.
"""

from __future__ import annotations

import inspect
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import MEMORY, dir_bytes, run_worker


def _timed_write(task: dict[str, Any], write: Any) -> dict[str, Any]:
    """Time `write()` while sampling this process's memory every 20 ms."""
    MEMORY.mark("before_write")
    stop = MEMORY.every(0.02)
    t0 = time.perf_counter()
    write()
    write_s = time.perf_counter() - t0
    stop.set()
    MEMORY.mark("after_write")
    return {"write_s": write_s, "disk_bytes": dir_bytes(task["dataset"])}


def save_check(task: dict[str, Any], samples: list[str], haplotypes: Callable[[int, int], Any]) -> None:
    """Save the haplotypes of the task's check regions × samples (by name) for the agreement check."""
    index = {name: i for i, name in enumerate(samples)}
    haps = [np.asarray(haplotypes(r, index[s])) for r in task["check_regions"] for s in task["check_samples"]]
    np.save(task["check"], np.stack(haps))


def _worker_peak_rss_mb() -> float:
    """Peak RSS of the calling dask worker process, MiB (run on each worker by `Client.run`)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gvl_zarr_write(task: dict[str, Any]) -> dict[str, Any]:
    import gvl_zarr as gvl

    kwargs = {"variants": task["variants"], "overwrite": True, "progress": False, "max_mem": task["max_mem"]}
    if task["workers"] == 0:
        result = _timed_write(task, lambda: gvl.write(task["dataset"], task["bed"], **kwargs))
    else:
        result = _gvl_zarr_dask_write(task, kwargs)
    if "write_s" in result:
        ds = gvl.Dataset.open(task["dataset"], reference=task["reference"])
        save_check(task, list(ds.samples), lambda r, s: ds[r, s])
    return result


def _gvl_zarr_dask_write(task: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    import gvl_zarr as gvl

    if "client" not in inspect.signature(gvl.write).parameters:
        return {"unavailable": "this gvl_zarr's write() has no client= keyword (distributed writes not installed)"}
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=task["workers"], threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        start_s = time.perf_counter() - t0
        result = _timed_write(task, lambda: gvl.write(task["dataset"], task["bed"], client=client, **kwargs))
        peaks = client.run(_worker_peak_rss_mb)
        pids = client.run(os.getpid)
    result.update(
        cluster_start_s=start_s,
        worker_peak_rss_mb=sorted(peaks.values()),
        worker_pids=sorted(pids.values()),
    )
    return result


def genvarloader_write(task: dict[str, Any]) -> dict[str, Any]:
    import genvarloader as gvl
    from genoray import PGEN, VCF

    path = task["variants"]
    variants = PGEN(path) if path.endswith(".pgen") else VCF(path)
    result = _timed_write(
        task,
        lambda: gvl.write(
            task["dataset"], gvl.read_bedlike(task["bed"]), variants=variants, max_mem=task["max_mem"], overwrite=True
        ),
    )
    ds = gvl.Dataset.open(task["dataset"], reference=task["reference"]).with_seqs("haplotypes").with_tracks(False)
    save_check(task, list(ds.samples), lambda r, s: ds.with_len(task["length"])[r, s])
    return result


if __name__ == "__main__":
    run_worker({"gvl_zarr": gvl_zarr_write, "genvarloader": genvarloader_write})
