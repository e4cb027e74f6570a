"""gvl_zarr side of the benchmark; runs in the project's own environment.

Usage: ``python _gvlz.py TASK.json`` (see ``_common.run_worker``). Any failure, including
``import gvl_zarr`` failing, ends the worker with the error on stderr, which ``run.py``
reports in place of the figures.

Cache budget: ``run.py --cache-bytes N`` reaches gvl_zarr as the environment variable
``GVL_ZARR_CACHE_BYTES`` (unset: the library's default), not as ``Dataset.open(...,
cache_bytes=N)``, so this worker runs unchanged whether or not the installed gvl_zarr has
the keyword. The reference is passed on open even if the store holds its own copy.
"""

from __future__ import annotations

from typing import Any

from _common import TRACK, dataset_handlers, run_worker

SEQUENCES = {"haps": True, "haps+tracks": True, "tracks": False, "ref": "reference"}


class GvlZarr:
    """gvl_zarr: `length` resizes the BED regions around their midpoints (a no-op here,
    since the harness passes regions that already have the output length)."""

    def import_library(self) -> None:
        import gvl_zarr  # noqa: F401

    def write(self, task: dict[str, Any]) -> None:
        import gvl_zarr as gvl

        gvl.write(
            task["dataset"],
            task["bed"],
            variants=task["vcf"],
            bigwigs=gvl.BigWigs.from_table(TRACK, task["bigwig_csv"]),
            length=task["length"],
            max_jitter=task["max_jitter"],
            reference=task["reference"],  # stored in the dataset: open needs no FASTA
            overwrite=True,
        )

    def open(self, task: dict[str, Any]) -> Any:
        import gvl_zarr as gvl

        return gvl.Dataset.open(task["dataset"])

    def configure(self, ds: Any, mode: str, jitter: int, seed: int) -> Any:
        return ds.with_settings(
            jitter=jitter,
            return_sequences=SEQUENCES[mode],
            return_tracks=TRACK if "tracks" in mode else False,
            fixed_jitter=True,
            seed=seed,
        )


if __name__ == "__main__":
    run_worker(dataset_handlers(GvlZarr()))
