"""GenVarLoader side of the benchmark; runs inside ``benchmarks/.venv-gvl``.

Usage: ``python _gvl_worker.py TASK.json`` (see ``_common.run_worker``).
"""

from __future__ import annotations

from typing import Any

from _common import TRACK, dataset_handlers, run_worker

SEQS = {"haps": "haplotypes", "haps+tracks": "haplotypes", "tracks": None, "ref": "reference"}


class GenVarLoader:
    """GenVarLoader 0.43: regions come from the BED as given (already of the output length)."""

    def import_library(self) -> None:
        import genvarloader  # noqa: F401

    def write(self, task: dict[str, Any]) -> None:
        import genvarloader as gvl
        from genoray import VCF

        gvl.write(
            task["dataset"],
            gvl.read_bedlike(task["bed"]),
            variants=VCF(task["vcf"]),
            tracks=gvl.BigWigs.from_table(TRACK, task["bigwig_csv"]),
            max_jitter=task["max_jitter"],
            overwrite=True,
        )

    def open(self, task: dict[str, Any]) -> Any:
        import genvarloader as gvl

        ds = gvl.Dataset.open(task["dataset"], reference=task["reference"])
        return ds.with_len(task["length"])

    def configure(self, ds: Any, mode: str, jitter: int, seed: int) -> Any:
        tracks = TRACK if "tracks" in mode else False
        return ds.with_seqs(SEQS[mode]).with_tracks(tracks).with_settings(jitter=jitter, rng=seed)


if __name__ == "__main__":
    run_worker(dataset_handlers(GenVarLoader()))
