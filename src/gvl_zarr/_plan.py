"""The partition plan of a write: region blocks × sample blocks, and the inputs it was made from.

`write` (and `gvl-zarr write-init`) records the plan under `<partial>/_plan/`: `plan.json`
(settings, chosen samples, input paths with their sizes and modification times) and the
resized regions (`regions.npz`, `bed.arrow`). A partition run in another process or on
another host (`gvl-zarr write-partition`, a dask task) re-opens the inputs from it and first
checks they are unchanged, so every partition reads the same files.

Partition `k` covers region block `k // n_sample_blocks` and sample block
`k % n_sample_blocks`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import schema
from .errors import InputFileError, SettingsError

PLAN = "_plan"
STAGED_SUFFIX = ".partial-staged"
"""The partial folder of a write staged by `gvl-zarr write-init` (a fixed name, so
`write-partition` and `write-finalise` find it from the output path alone)."""


@dataclass
class Plan:
    """Everything a partition needs besides the region arrays (`plan.json`)."""

    n_regions: int
    n_samples: int
    regions_per_partition: int
    samples_per_partition: int
    samples: list[str]
    contigs: list[str]
    length: int
    max_jitter: int
    ploidy: int
    max_mem: int
    allow_unphased: bool
    bed_source: str
    variants: Any = None
    reference: str | None = None
    tracks: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: dict[str, list[int]] = field(default_factory=dict)
    out: str = ""
    overwrite: bool = False
    var_fields: list[str] | None = None  # as asked (re-resolved on each reader a partition opens)
    dosage_field: str = "DS"
    field_specs: list[dict[str, Any]] = field(default_factory=list)  # resolved (_variant_fields.FieldSpec)

    @property
    def n_region_blocks(self) -> int:
        return max(1, -(-self.n_regions // self.regions_per_partition))

    @property
    def n_sample_blocks(self) -> int:
        return max(1, -(-self.n_samples // self.samples_per_partition))

    @property
    def n_partitions(self) -> int:
        return self.n_region_blocks * self.n_sample_blocks

    def blocks(self, k: int) -> tuple[int, int, int, int, int, int]:
        """(region block, sample block, r0, r1, s0, s1) of partition `k`."""
        if not 0 <= k < self.n_partitions:
            raise SettingsError(
                f"partition {k} does not exist; this write has partitions 0 to {self.n_partitions - 1}."
            )
        i, j = divmod(k, self.n_sample_blocks)
        r0, s0 = i * self.regions_per_partition, j * self.samples_per_partition
        return (
            i,
            j,
            r0,
            min(r0 + self.regions_per_partition, self.n_regions),
            s0,
            min(s0 + self.samples_per_partition, self.n_samples),
        )


def partition_sizes(
    n_regions: int,
    n_samples: int,
    ploidy: int,
    max_mem: int,
    regions_per_partition: int | None,
    samples_per_partition: int | None,
) -> tuple[int, int]:
    """Regions and samples per partition: as given, else the largest blocks whose offsets grid
    (int64 `[start, end)` per haplotype) fits a quarter of `max_mem`, in whole grid shards
    (`schema.GRID_SHARD`) once the whole grid does not fit. One partition when it all fits,
    which is a write straight into the final arrays."""
    for name, value in (
        ("regions_per_partition", regions_per_partition),
        ("samples_per_partition", samples_per_partition),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise SettingsError(f"{name} must be a positive whole number, got {value!r}.")
    cell = 16 * max(ploidy, 1)  # bytes of offsets per (region, sample): genotypes, the larger grid
    budget = max(max_mem // 4, 1)
    n_r, n_s = max(n_regions, 1), max(n_samples, 1)
    if samples_per_partition is None:
        if regions_per_partition is not None:
            fit = budget // (cell * min(regions_per_partition, n_r))
            samples_per_partition = n_s if fit >= n_s else _whole(fit, schema.GRID_SHARD[1])
        elif n_r * n_s * cell <= budget:
            return n_r, n_s
        else:
            rows = min(n_r, schema.GRID_SHARD[0])
            fit = budget // (cell * rows)
            samples_per_partition = n_s if fit >= n_s else _whole(fit, schema.GRID_SHARD[1])
    if regions_per_partition is None:
        fit = budget // (cell * min(samples_per_partition, n_s))
        regions_per_partition = n_r if fit >= n_r else _whole(fit, schema.GRID_SHARD[0])
    return int(min(regions_per_partition, n_r)), int(min(samples_per_partition, n_s))


def _whole(n: int, unit: int) -> int:
    return max(unit, (n // unit) * unit)


def fingerprint(paths: list[str]) -> dict[str, list[int]]:
    """(size, modification time in ns) of each input file (a folder: its own entry)."""
    out = {}
    for p in paths:
        st = os.stat(p)
        out[p] = [int(st.st_size), int(st.st_mtime_ns)]
    return out


def input_paths(plan: Plan) -> list[str]:
    """Every local input file the partitions read."""
    paths: list[str] = []
    if plan.bed_source and os.path.isfile(plan.bed_source):
        paths.append(plan.bed_source)
    variants = plan.variants
    for v in [variants] if isinstance(variants, str) else list(variants or []):
        if "://" not in v and os.path.exists(v):
            paths.append(v)
    if plan.reference is not None:
        paths.append(plan.reference)
    for track in plan.tracks + plan.annotations:
        paths.extend(sorted(set(track["paths"].values())))
    return list(dict.fromkeys(paths))


def check_inputs(plan: Plan, where: str) -> None:
    """Raise `InputFileError` naming every input changed since the plan was recorded."""
    changed = []
    for path, (size, mtime) in plan.fingerprints.items():
        try:
            st = os.stat(path)
        except OSError:
            changed.append(f"{path} (missing)")
            continue
        if st.st_size != size or st.st_mtime_ns != mtime:
            changed.append(
                f"{path} (size {size:,} → {st.st_size:,} bytes)" if st.st_size != size else f"{path} (modified)"
            )
    if changed:
        raise InputFileError(
            f"input(s) changed since the write of {plan.out or where} was planned: {', '.join(changed[:5])}"
            f"{' …' if len(changed) > 5 else ''}. Partitions written from different inputs cannot be combined. "
            "Fix: restore the inputs, or plan the write again (`gvl-zarr write-init ... --overwrite`, or gvl.write)."
        )


def save(tmp: str | os.PathLike, plan: Plan, bed: pl.DataFrame, contig_idx, start, end) -> None:
    folder = Path(tmp) / PLAN
    folder.mkdir(parents=True, exist_ok=True)
    bed.write_ipc(folder / "bed.arrow")
    np.savez(folder / "regions.npz", contig_idx=contig_idx, start=start, end=end)
    with open(folder / "plan.json", "w") as fh:
        json.dump(asdict(plan), fh)


def load(tmp: str | os.PathLike) -> Plan:
    path = Path(tmp) / PLAN / "plan.json"
    try:
        with open(path) as fh:
            return Plan(**json.load(fh))
    except FileNotFoundError:
        raise InputFileError(
            f"{tmp} holds no write plan ({path} is missing); run `gvl-zarr write-init` first."
        ) from None


def load_regions(tmp: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(Path(tmp) / PLAN / "regions.npz") as z:
        return z["contig_idx"], z["start"], z["end"]


def load_bed(tmp: str | os.PathLike) -> pl.DataFrame:
    return pl.read_ipc(Path(tmp) / PLAN / "bed.arrow")


def staged_path(out: str | os.PathLike) -> str:
    return f"{os.fspath(out).rstrip('/')}{STAGED_SUFFIX}"
