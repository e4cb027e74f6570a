"""What a store was written from and with: recorded as the root attribute `provenance`."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from typing import Any

_PACKAGES = ("gvl-zarr", "zarr", "numpy", "numba", "cyvcf2", "pyBigWig", "pyfaidx", "polars")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _file(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    info: dict[str, Any] = {"path": os.path.abspath(path)}
    try:
        st = os.stat(path)
        info["bytes"] = st.st_size
        info["modified"] = datetime.datetime.fromtimestamp(st.st_mtime, datetime.UTC).isoformat()
    except OSError:
        pass
    return info


def provenance(bed: str, variants: Any, reference: str | None, tracks: list[Any], n_samples: int) -> dict:
    """Inputs (paths, sizes, modification times), package versions and the write's date."""
    return {
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:2000],
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in _PACKAGES},
        "inputs": {
            "bed": _file(bed) if os.path.exists(bed) else {"path": bed},
            "variants": [_file(os.fspath(v)) for v in variants]
            if isinstance(variants, (list, tuple))
            else _file(os.fspath(variants) if variants is not None else None),
            "reference": _file(reference),
            "tracks": {
                t.name: {"table": getattr(t, "source", None), "n_files": len(set(t.paths.values()))} for t in tracks
            },
        },
        "n_samples": n_samples,
    }
