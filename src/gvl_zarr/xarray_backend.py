"""The `gvl_zarr` xarray engine: `xr.open_dataset("data.gvl", engine="gvl_zarr", reference=...)`.

Registered in pyproject.toml under `[project.entry-points."xarray.backends"]`. Variables
are the same lazy arrays as `Dataset.to_xarray` (xarray_view.py), wrapped in xarray's
lazy indexing: with `chunks=None` a selection reads only its instances, with one outer
read; with `chunks={}` dask blocks follow the store's (region, sample) chunks.
"""

from __future__ import annotations

import json
import os
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from . import schema


class GvlZarrBackendEntrypoint(BackendEntrypoint):
    """Open a gvl_zarr store as a lazy xarray.Dataset of all its regions and samples."""

    description = "Personal haplotypes and realigned tracks of a gvl_zarr store"
    url = "docs/xarray.md"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "reference",
        "cache_bytes",
        "jitter",
        "return_sequences",
        "rc_neg",
        "seed",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Any = None,
        reference: str | os.PathLike | None = None,
        cache_bytes: int | str | None = None,
        jitter: int | None = None,
        return_sequences: bool | str | None = None,
        rc_neg: bool | None = None,
        seed: int | None = None,
    ) -> xr.Dataset:
        """The view of every region and sample of the store; settings as `Dataset.with_settings`
        (`return_sequences="reference"` gives tracks in reference coordinates)."""
        from .dataset import Dataset
        from .xarray_view import to_lazy_xarray

        settings = {
            k: v
            for k, v in (("jitter", jitter), ("return_sequences", return_sequences), ("rc_neg", rc_neg), ("seed", seed))
            if v is not None
        }
        ds = Dataset.open(filename_or_obj, reference=reference, cache_bytes=cache_bytes, **settings)
        return to_lazy_xarray(ds, drop_variables)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for a local folder holding a complete gvl_zarr store."""
        try:
            path = os.fspath(filename_or_obj)
        except TypeError:
            return False
        meta = os.path.join(path, "zarr.json")
        if not os.path.isfile(meta):
            return False
        try:
            with open(meta) as fh:
                attrs = json.load(fh).get("attributes", {})
        except (OSError, ValueError):
            return False
        return bool(attrs.get(schema.COMPLETE_ATTR))
