"""Writing a track computed from another one into an existing store.

In a local store the new track streams into `tracks/_partial-<name>-<id>` (intervals chunk by
chunk, as `write` streams tracks) and is moved onto `tracks/<name>` only when whole; the root
attributes list it last. A call killed at any moment leaves the dataset reading as before
(an unlisted staging folder, removed by the next `update`); overwriting swaps folders with two
renames. A remote store (no rename) gets the arrays written in place, then listed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from tqdm.auto import tqdm

from . import schema
from ._arrays import appender, create, create_track
from ._kernels.tracks import run_length_encode, tracks_reference
from ._query import track_rows
from ._remote_errors import open_root
from ._store import as_store, consolidate
from .errors import DatasetExistsError, InputFileError
from .ragged import Ragged

if TYPE_CHECKING:
    from collections.abc import Callable

    from .dataset import Dataset


def write_transformed_track(
    ds: Dataset, new_name: str, existing_name: str, transform: Callable[..., Any], *, overwrite: bool, progress: bool
) -> None:
    """See `Dataset.write_transformed_track`. The new track is listed in the store's
    attributes only once all its arrays are written, so an interrupted call leaves no
    half track that opens."""
    data = ds._data
    if existing_name not in data.tracks:
        raise InputFileError(f"no track {existing_name!r} in {data.name}; tracks: {list(data.tracks)}.")
    if not new_name or "/" in new_name:
        raise InputFileError(f"track name {new_name!r} must be non-empty and contain no '/'.")
    store = as_store(data.location, read_only=False, storage_options=data.storage_options)
    root = open_root(store, data.name, None, mode="r+")
    names = list(root.attrs.get("tracks", []))
    if new_name in names and not overwrite:
        raise DatasetExistsError(f"track {new_name!r} already exists in {data.name}; pass overwrite=True.")
    n_store_regions, n_store_samples = len(data.r_start), len(data.samples)
    offsets = np.zeros((n_store_regions, n_store_samples, 2), np.int64)
    local = Path(store.root) if isinstance(store, zarr.storage.LocalStore) else None
    stage = f"_partial-{new_name}-{uuid.uuid4().hex[:8]}" if local is not None else new_name
    rows = appender(root, schema.track_specs(stage)[1:]) if local is not None else None
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # remote: written whole at the end
    n = 0
    samples = ds._samples
    for r_local, region in enumerate(tqdm(ds._regions, desc=f"track {new_name}", disable=not progress)):
        origin = int(data.ref_starts[region])
        span = int(data.ref_offsets[region + 1] - data.ref_offsets[region])
        dense = np.empty((len(samples), span), np.float32)
        tracks_reference(
            *track_rows(data, existing_name, np.full(len(samples), region), samples),
            np.full(len(samples), origin, np.int64),
            dense,
            0,
            len(samples),
        )
        row_offsets = np.arange(len(samples) + 1, dtype=np.int64) * span
        tracks = Ragged.from_offsets(dense.ravel(), (len(samples),), row_offsets)
        s_local = np.arange(len(samples))
        r_idx = np.full(len(samples), r_local)
        result = transform(r_idx * ds.n_samples + s_local, r_idx, s_local, tracks)
        values = _check_result(result, row_offsets, new_name).reshape(len(samples), span)
        origins = np.full(len(samples), origin, np.int64)
        counts = np.zeros(len(samples), np.int64)
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float32)
        run_length_encode(values, origins, counts, empty_i, empty_i, empty_f, False)
        total = int(counts.sum())
        starts, ends, vals = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float32)
        run_length_encode(values, origins, counts, starts, ends, vals, True)
        if rows is not None:
            n = rows.append(starts, ends, vals)
        else:
            parts.append((starts, ends, vals))
        bounds = n + np.concatenate([[0], np.cumsum(counts)])
        offsets[region, samples, 0] = bounds[:-1]
        offsets[region, samples, 1] = bounds[1:]
        n = int(bounds[-1])

    if local is None:
        if new_name in root.get("tracks", {}):
            del root[f"tracks/{new_name}"]
        create_track(root, new_name, offsets, parts)
    else:
        try:
            rows.close()
            create(root, schema.track_specs(stage)[0], offsets)
        except BaseException:
            shutil.rmtree(local / "tracks" / stage, ignore_errors=True)
            raise
        _swap_in(local / "tracks", stage, new_name)
    # the new arrays go into the consolidated metadata first, then one root update lists the
    # track: a reader never sees the track listed without its arrays' metadata
    consolidate(store)
    root = open_root(store, data.name, None, mode="r+")
    info = dict(root.attrs.get("track_info", {}))
    info[new_name] = {"source": f"transform of {existing_name}", "max_jitter": data.max_jitter}
    root.update_attributes({"track_info": info, "tracks": names if new_name in names else [*names, new_name]})


def _swap_in(tracks_dir: Path, stage: str, name: str) -> None:
    """Move the finished `stage` folder onto `name` (the replaced folder is removed after)."""
    final = tracks_dir / name
    old = None
    if final.exists():
        old = tracks_dir / f"_partial-old-{name}-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    os.replace(tracks_dir / stage, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_result(result: Any, row_offsets: np.ndarray, name: str) -> np.ndarray:
    if isinstance(result, Ragged):
        if not np.array_equal(result.offsets, row_offsets):
            raise InputFileError(f"transform for track {name!r} must keep the input's offsets (row lengths).")
        return np.asarray(result.data, np.float32)
    arr = np.asarray(result, np.float32)
    if arr.size != row_offsets[-1]:
        raise InputFileError(
            f"transform for track {name!r} returned {arr.size} values; expected {row_offsets[-1]} "
            "(a Ragged with the input's offsets)."
        )
    return arr.ravel()
