"""A write in three steps for batch schedulers (HPC array jobs), as bio2zarr's `dencode-*`:

1. `write_init` checks the inputs, plans the partitions (region blocks × sample blocks) and
   records the plan in `<out>.partial-staged/`; it returns the number of partitions;
2. `write_partition(out, k)` writes partition `k` (any order, any host that sees the folder
   and the inputs; rerunning one is safe);
3. `write_finalise(out)` names any partition not yet written, else builds the store and
   publishes it at `out` with the completion attribute last, as `write` does.

`gvl-zarr write-init`, `write-partition` and `write-finalise` call these.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import zarr

from . import _plan
from ._args import WriteArgs
from ._finalise import finalise
from ._partial import check_replaceable
from ._partition import run_partition
from ._store import is_remote
from .errors import IncompleteDatasetError, SettingsError
from .readers.variants import VariantInput


def write_init(
    path: str | os.PathLike,
    bed: Any,
    variants: VariantInput | None = None,
    bigwigs: Any = None,
    length: int | None = None,
    max_jitter: int = 0,
    samples: Sequence[str] | None = None,
    overwrite: bool = False,
    *,
    reference: str | os.PathLike | None = None,
    allow_unphased: bool = False,
    annot_bigwigs: Mapping[str, str | os.PathLike] | None = None,
    max_mem: int | str | None = None,
    regions_per_partition: int | None = None,
    samples_per_partition: int | None = None,
    var_fields: Sequence[str] | None = None,
    dosage_field: str = "DS",
) -> int:
    """Plan a write of `path` (arguments as `gvl_zarr.write`); returns its number of partitions.

    An earlier staged write to `path` is discarded."""
    out = _local(path)
    from .write import _prepare

    plan, inputs, regions = _prepare(out, WriteArgs.of(locals()))
    inputs.close()
    tmp = _plan.staged_path(out)
    shutil.rmtree(tmp, ignore_errors=True)
    zarr.open_group(zarr.storage.LocalStore(tmp), mode="w", zarr_format=3)
    _plan.save(tmp, plan, *regions)
    return plan.n_partitions


def write_partition(path: str | os.PathLike, k: int) -> None:
    """Write partition `k` of the staged write of `path` (rerunning it replaces its part)."""
    run_partition(_staged(path), int(k))


def write_finalise(path: str | os.PathLike, client: Any = None) -> None:
    """Build and publish the staged write of `path`; names any partition not yet written."""
    out = _local(path)
    tmp = _staged(out)
    plan = _plan.load(tmp)
    check_replaceable(out, plan.overwrite)
    finalise(tmp, client, out=out, command=f"gvl-zarr write-finalise {out}")
    from .write import publish

    publish(tmp, out)


def _local(path: str | os.PathLike) -> str:
    out = os.fspath(path)
    if is_remote(out):
        raise SettingsError(
            f"staged writes (write-init/write-partition/write-finalise) need a folder every job can see, not {out}. "
            "Fix: stage to a shared local path and upload it, or use gvl.write(url, ..., client=client)."
        )
    return out


def _staged(path: str | os.PathLike) -> str:
    out = _local(path)
    tmp = _plan.staged_path(out)
    if not os.path.isdir(tmp):
        raise IncompleteDatasetError(
            f"no staged write of {out} ({tmp} does not exist). Fix: run `gvl-zarr write-init {out} BED ...` first."
        )
    return tmp
