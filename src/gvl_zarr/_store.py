"""Turn a path, URL, fsspec mapper or zarr Store into a zarr Store, once."""

from __future__ import annotations

import os
from typing import Any

import zarr
from zarr.abc.store import Store


def as_store(location: Any, *, read_only: bool = True) -> Store:
    """A zarr Store for a local path, an fsspec URL (http://, s3://, …), a mapper or a Store."""
    if isinstance(location, Store):
        return location
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, str):
        if "://" in location and not location.startswith("file://"):
            from zarr.storage import FsspecStore

            return FsspecStore.from_url(location, read_only=read_only)
        return zarr.storage.LocalStore(location.removeprefix("file://"), read_only=read_only)
    if hasattr(location, "fs") and hasattr(location, "root"):  # fsspec FSMap
        from zarr.storage import FsspecStore

        return FsspecStore.from_mapper(location, read_only=read_only)
    raise TypeError(
        f"cannot open a dataset from {type(location).__name__}; pass a path, a URL, an fsspec mapper or a zarr Store."
    )


def describe(location: Any) -> str:
    """A short human name of a location, for messages."""
    if isinstance(location, (str, os.PathLike)):
        return os.fspath(location)
    return repr(location)
