"""Adding tracks to an existing dataset: `update(path, bigwigs=..., annot_bigwigs=...)`.

Each new track is written under a temporary name (`tracks/_partial-<name>-<id>`), which the
dataset does not list, then moved onto `tracks/<name>`; only then is the root `zarr.json`
rewritten (to a temporary file, then `os.replace`) to list the new tracks. Until that last
rename the dataset reads exactly as before, so an update that fails or is killed leaves it
unchanged; the next update removes what a killed one left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import schema
from ._annotation import ANNOTATION, annotation_info, annotation_tracks
from ._store import consolidate
from .errors import DatasetExistsError, InputFileError, MissingFileError
from .readers.bigwig import BigWigs
from .write import _write_track

PARTIAL_PREFIX = "_partial-"


def update(
    path: Any,
    bigwigs: BigWigs | Sequence[BigWigs] | None = None,
    *,
    annot_bigwigs: Mapping[str, str | os.PathLike] | None = None,
    progress: bool = True,
) -> None:
    """Add tracks to the dataset at `path` (a local folder, or an open `Dataset` of one).

    Args:
        bigwigs: one or more `BigWigs`, each with a file for exactly the dataset's samples
            (none missing, none extra, any order), as GenVarLoader's `update` requires.
        annot_bigwigs: sample-independent tracks `{name: BigWig path}`, stored once per region.
        progress: show progress bars.

    Track names must be new; the intervals cover each region's stored span (`max_jitter`
    included), as tracks written by `write` do. Datasets already open keep their track list;
    open the dataset again to read the new tracks.
    """
    from .dataset import Dataset

    if isinstance(path, Dataset):
        path = path._data.location
    if not isinstance(path, (str, os.PathLike)) or "://" in os.fspath(path):
        raise InputFileError(f"update works on a local dataset folder; got {path!r}. Copy the dataset locally first.")
    root_dir = Path(os.fspath(path))
    if not (root_dir / "zarr.json").is_file():
        raise MissingFileError(
            f"no gvl_zarr dataset at {root_dir} (update works on a local dataset folder written by gvl.write)."
        )
    tracks = [bigwigs] if isinstance(bigwigs, BigWigs) else list(bigwigs or [])
    annotations = annotation_tracks(annot_bigwigs)
    if not tracks and not annotations:
        raise InputFileError("update needs bigwigs= or annot_bigwigs= with at least one track.")
    root = zarr.open_group(zarr.storage.LocalStore(root_dir), mode="r+", zarr_format=3)
    schema.validate(root, str(root_dir))
    attrs = dict(root.attrs)
    samples = root["samples"][:].tolist()
    _check_new_tracks(tracks + annotations, list(attrs.get("tracks", [])), root_dir)
    _check_samples(tracks, samples, root_dir)
    _remove_leftovers(root_dir, attrs)

    contigs = attrs["contigs"]
    contig_idx = root["regions/contig"][:]
    lo = root["regions/start"][:] - int(attrs["max_jitter"])
    fetch_end = root["regions/fetch_end"][:]
    written: dict[str, str] = {}  # final name -> temporary name
    try:
        for track, columns in [(t, samples) for t in tracks] + [(t, [ANNOTATION]) for t in annotations]:
            tmp = f"{PARTIAL_PREFIX}{track.name}-{uuid.uuid4().hex[:8]}"
            written[track.name] = tmp
            staged = BigWigs(tmp, {s: track.paths[s] for s in columns})
            try:
                _write_track(root, staged, contigs, contig_idx, lo, fetch_end, columns, progress)
            finally:
                staged.close()
        for name, tmp in written.items():
            os.replace(root_dir / "tracks" / tmp, root_dir / "tracks" / name)
            written[name] = name
    except BaseException:  # unlisted folders: the dataset reads as before
        for tmp in written.values():
            shutil.rmtree(root_dir / "tracks" / tmp, ignore_errors=True)
        raise
    finally:
        for track in tracks + annotations:
            track.close()
    info = dict(attrs.get("track_info", {}))
    mj = int(attrs["max_jitter"])
    info.update({t.name: {"source": "bigwig", "max_jitter": mj} for t in tracks})
    info.update({t.name: annotation_info(t, mj) for t in annotations})
    consolidate(root_dir)  # the new arrays' metadata first (still unlisted), then one root replace lists them
    commit_attrs(root_dir, {"tracks": [*attrs.get("tracks", []), *written], "track_info": info})


def _check_new_tracks(new: list[BigWigs], existing: list[str], where: Path) -> None:
    names = [t.name for t in new]
    if len(set(names)) != len(names):
        raise InputFileError(f"track names must be unique, got {names}.")
    for name in names:
        if name in existing:
            raise DatasetExistsError(
                f"track {name!r} already exists in {where} (tracks: {existing}); choose another name, "
                "or write a new dataset to replace it."
            )
        if name.startswith(PARTIAL_PREFIX):
            raise InputFileError(f"track name {name!r} may not start with {PARTIAL_PREFIX!r} (used for staging).")


def _check_samples(tracks: list[BigWigs], samples: list[str], where: Path) -> None:
    for track in tracks:
        lacking = [s for s in samples if s not in track.paths]
        sample_set = set(samples)
        extra = [s for s in track.paths if s not in sample_set]
        if extra:
            raise InputFileError(
                f"track {track.name!r} names {len(extra)} sample(s) that {where} lacks, e.g. {extra[:5]}. "
                "Fix: drop those rows from the BigWig table (update adds a track for the dataset's samples only)."
            )
        if lacking:
            raise InputFileError(
                f"track {track.name!r} has no BigWig for {len(lacking)} sample(s) of {where}, e.g. {lacking[:5]}; "
                f"the dataset's samples are {samples[:5]}{' …' if len(samples) > 5 else ''}. Fix: add a row "
                "per dataset sample to the BigWig table, or pass the track as annot_bigwigs if it is the same "
                "for every sample."
            )


def _remove_leftovers(root_dir: Path, attrs: dict) -> None:
    """Remove staging folders, and track folders no attribute lists, left by a killed update."""
    tracks_dir = root_dir / "tracks"
    if not tracks_dir.is_dir():
        return
    listed = set(attrs.get("tracks", []))
    for child in tracks_dir.iterdir():
        if child.is_dir() and child.name not in listed:
            shutil.rmtree(child)


def commit_attrs(root_dir: Path, changes: dict[str, Any]) -> None:
    """Rewrite the root group's attributes with `changes` in one atomic file replace."""
    meta_path = root_dir / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta.setdefault("attributes", {}).update(_jsonable(changes))
    tmp = meta_path.with_name(f"zarr.json.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, meta_path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
