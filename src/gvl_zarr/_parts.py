"""Where one write partition puts its arrays: straight into the store, or into its own part folder.

A write is split into partitions of region blocks × sample blocks (`_plan`). A store of one
partition is written straight into its final arrays (`DirectSink`), as a serial write always
was. With several partitions the row positions of the flat arrays (calls, intervals, variant
table) depend on every earlier partition, so each partition writes its rows, with offsets local
to the partition, as plain little-endian files under `<partial>/_parts/<k>/` (`PartSink`),
and records their counts in `done.json`, written last; `_finalise` then copies them into the
store with global offsets.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import schema
from ._arrays import appender, create

PARTS = "_parts"
DONE = "done.json"


def part_dir(tmp: str | os.PathLike, k: int) -> Path:
    return Path(tmp) / PARTS / str(k)


def is_done(tmp: str | os.PathLike, k: int) -> bool:
    return (part_dir(tmp, k) / DONE).is_file()


def read_marker(tmp: str | os.PathLike, k: int) -> dict[str, Any]:
    with open(part_dir(tmp, k) / DONE) as fh:
        return json.load(fh)


def write_marker(folder: Path, marker: dict[str, Any]) -> None:
    """Write `done.json` last, by rename, so a half-written marker never counts."""
    tmp = folder / f"{DONE}.tmp"
    with open(tmp, "w") as fh:
        json.dump(marker, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / DONE)


def fresh_part(tmp: str | os.PathLike, k: int) -> Path:
    """An empty part folder for partition `k` (whatever an earlier, killed run left is removed)."""
    folder = part_dir(tmp, k)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class DirectSink:
    """Arrays go into the store `group` itself (a write of one partition)."""

    def __init__(self, group: zarr.Group) -> None:
        self.group = group
        self.counts: dict[str, int] = {}

    def rows(self, specs: tuple[schema.ArraySpec, ...]) -> Any:
        return _Counted(appender(self.group, specs), specs, self.counts)

    def array(self, spec: schema.ArraySpec, data: np.ndarray) -> None:
        create(self.group, spec, data)
        self.counts[spec.path] = int(data.shape[0])

    def remove(self, prefix: str) -> None:
        """Remove every array under `prefix` (a group path such as "tracks")."""
        shutil.rmtree(Path(self.group.store.root) / self.group.path / prefix, ignore_errors=True)
        _forget(self.counts, prefix)


class PartSink:
    """Arrays go to `<folder>/<array path>.bin` (streamed rows) or `.npy` (whole arrays)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.counts: dict[str, int] = {}

    def rows(self, specs: tuple[schema.ArraySpec, ...]) -> Any:
        return _Counted(BinAppender(self.folder, specs), specs, self.counts)

    def array(self, spec: schema.ArraySpec, data: np.ndarray) -> None:
        path = self.folder / f"{spec.path}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(data, spec.np_dtype.newbyteorder("<")))
        self.counts[spec.path] = int(data.shape[0])

    def remove(self, prefix: str) -> None:
        """Remove every array under `prefix` (a group path such as "tracks")."""
        shutil.rmtree(self.folder / prefix, ignore_errors=True)
        _forget(self.counts, prefix)


def _forget(counts: dict[str, int], prefix: str) -> None:
    for key in [k for k in counts if k.startswith(f"{prefix}/")]:
        del counts[key]


def sink_for(target: Any) -> DirectSink | PartSink:
    """A sink for `target`: a sink as is, or a zarr group (written directly)."""
    return target if isinstance(target, (DirectSink, PartSink)) else DirectSink(target)


class BinAppender:
    """Appends rows of parallel 1-D arrays to one file each (written as they arrive)."""

    def __init__(self, folder: Path, specs: tuple[schema.ArraySpec, ...]) -> None:
        self._specs = specs
        self._files = []
        for spec in specs:
            path = folder / f"{spec.path}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files.append(open(path, "wb"))  # noqa: SIM115 (closed in close)
        self.n_rows = 0

    def append(self, *parts: np.ndarray) -> int:
        first = self.n_rows
        for spec, fh, part in zip(self._specs, self._files, parts, strict=True):
            np.asarray(part, spec.np_dtype.newbyteorder("<")).tofile(fh)
        self.n_rows += len(parts[0])
        return first

    def close(self) -> None:
        for fh in self._files:
            fh.close()


class _Counted:
    """An appender that records its row count in `counts` when closed."""

    def __init__(self, inner: Any, specs: tuple[schema.ArraySpec, ...], counts: dict[str, int]) -> None:
        self._inner, self._specs, self._counts = inner, specs, counts

    @property
    def n_rows(self) -> int:
        return self._inner.n_rows

    def append(self, *parts: np.ndarray) -> int:
        return self._inner.append(*parts)

    def close(self) -> None:
        self._inner.close()
        for spec in self._specs:
            self._counts[spec.path] = self._inner.n_rows


def read_rows(folder: Path, spec_path: str, dtype: np.dtype, lo: int, hi: int) -> np.ndarray:
    """Rows [lo, hi) of a part's array, read through a memory map (no whole-array copy)."""
    if hi <= lo:
        return np.zeros(0, dtype)
    bin_path = folder / f"{spec_path}.bin"
    if bin_path.exists():
        data = np.memmap(bin_path, np.dtype(dtype).newbyteorder("<"), mode="r")
    else:
        data = np.load(folder / f"{spec_path}.npy", mmap_mode="r")
    return np.array(data[lo:hi], dtype)


def read_grid(folder: Path, spec_path: str) -> np.ndarray:
    """A part's offsets grid, memory-mapped."""
    return np.load(folder / f"{spec_path}.npy", mmap_mode="r")
