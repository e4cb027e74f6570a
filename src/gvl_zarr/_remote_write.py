"""Writing a dataset to object storage (s3://, gs://, …), which has no atomic rename.

The dataset is written to a local temporary folder by the ordinary `write`, then uploaded:

1. a root `zarr.json` *without* the completion attribute, so the prefix is marked as an
   unfinished dataset from the first object on (open raises `IncompleteDatasetError`);
2. every array's metadata and shard objects, concurrently;
3. last, the real root `zarr.json`: completion attribute and consolidated metadata in one
   object, whose PUT is atomic on object stores.

A killed upload therefore never leaves a store that opens as whole. Overwriting first
replaces the old root `zarr.json` by the unfinished marker, then deletes the old objects.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import schema
from ._remote_errors import translate
from ._store import require_protocol
from .errors import DatasetExistsError, GvlError


def _filesystem(url: str, storage_options: dict[str, Any] | None):
    import fsspec

    require_protocol(url)
    fs, path = fsspec.url_to_fs(url, **(storage_options or {}))
    return fs, path.rstrip("/")


def write_remote(
    url: str, storage_options: dict[str, Any] | None, overwrite: bool, write_local: Callable[[str], None]
) -> None:
    """Write with `write_local(folder)` into a temporary folder, then upload to `url`."""
    try:
        fs, root = _filesystem(url, storage_options)
        _check_bucket(fs, root, url)
        exists = fs.exists(f"{root}/zarr.json")
    except GvlError:
        raise
    except Exception as exc:
        raise translate(exc, url) or exc from None
    if exists and not overwrite:
        raise DatasetExistsError(f"{url} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    with tempfile.TemporaryDirectory(prefix="gvl_zarr-upload-") as tmp:
        local = Path(tmp) / "dataset.gvl"
        write_local(str(local))
        try:
            upload(fs, local, root, replace=exists)
        except GvlError:
            raise
        except Exception as exc:
            raise translate(exc, url) or exc from None


def _check_bucket(fs: Any, root: str, url: str) -> None:
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    if "s3" in protocols and not fs.exists(root.split("/", 1)[0]):
        from .errors import MissingFileError

        raise MissingFileError(
            f"bucket {root.split('/', 1)[0]!r} of {url} does not exist; create it first "
            "(e.g. `aws s3 mb`) or fix the bucket name."
        )


def unfinished_marker(root_json: bytes) -> bytes:
    """The root `zarr.json` without the completion attribute and consolidated metadata."""
    meta = json.loads(root_json)
    meta.get("attributes", {}).pop(schema.COMPLETE_ATTR, None)
    meta.pop("consolidated_metadata", None)
    return json.dumps(meta).encode()


def upload(fs: Any, local: Path, root: str, *, replace: bool) -> None:
    """Upload the finished local store `local` to `root` of `fs`, root `zarr.json` last."""
    for _ in upload_steps(fs, local, root, replace=replace):
        pass


def upload_steps(fs: Any, local: Path, root: str, *, replace: bool) -> Iterator[str]:
    """`upload`, one step at a time; yields the name of each step once it is done."""
    final = (local / "zarr.json").read_bytes()
    fs.pipe_file(f"{root}/zarr.json", unfinished_marker(final))
    yield "marker"
    if replace:
        old = [p for p in fs.find(root) if p.rstrip("/") != f"{root}/zarr.json"]
        if old:
            fs.rm(old)
        yield "removed old objects"
    files = sorted(p for p in local.rglob("*") if p.is_file() and p != local / "zarr.json")
    if files:
        fs.put([os.fspath(p) for p in files], [f"{root}/{p.relative_to(local).as_posix()}" for p in files])
    yield "data"
    fs.pipe_file(f"{root}/zarr.json", final)
    yield "complete"
