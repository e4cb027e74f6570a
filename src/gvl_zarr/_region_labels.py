"""Extra BED columns kept beside the regions, and region lookup by one of them.

`write` stores every BED column other than chrom, chromStart, chromEnd and strand (a file's
name and score, any column of a table) as a string array `regions/columns/<column>`; the
root attribute `region_columns` lists them. `Dataset.open(..., region_names="name")` then
lets a region be chosen by its value in that column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from . import schema
from ._arrays import create
from .errors import DatasetIndexError, SettingsError

COORDINATE_COLUMNS = ("chrom", "chromStart", "chromEnd", "strand")


def write_columns(root: Any, bed: pl.DataFrame) -> list[str]:
    """Store the BED's extra columns; returns their names."""
    names = [c for c in bed.columns if c not in COORDINATE_COLUMNS and "/" not in c]
    for name in names:
        values = bed[name].cast(pl.Utf8).fill_null("").to_numpy().astype(str)
        spec = schema.ArraySpec(f"regions/columns/{name}", ("region",), "str", f"BED column {name!r}.")
        create(root, spec, values, sharded=False)
    return names


def read_column(group: Any, attrs: dict, column: str, where: str, setting: str = "region_names") -> np.ndarray:
    """The stored values of BED column `column`, one per store region (`setting` names the
    option that asked for it, for the message)."""
    available = list(attrs.get("region_columns", []))
    if column not in available:
        raise SettingsError(
            f"{setting}={column!r}: {where} has no such BED column; stored columns: {available}. "
            "Fix: pick one of them, or re-write the dataset from a BED that has the column."
        )
    return np.asarray(group[f"regions/columns/{column}"][:].tolist(), dtype=str)


class NameIndex:
    """Unique region names → row positions."""

    def __init__(self, names: np.ndarray, column: str) -> None:
        self.column = column
        self._lookup: dict[str, int] = {}
        for i, name in enumerate(names.tolist()):
            if name in self._lookup:
                raise SettingsError(
                    f"region_names={column!r}: value {name!r} names more than one region (rows "
                    f"{self._lookup[name]} and {i}); choose a column whose values are unique."
                )
            self._lookup[name] = i

    def positions(self, names: str | Sequence[str] | np.ndarray) -> np.ndarray | int:
        """Row positions of `names` (an int for a single name)."""
        single = isinstance(names, str)
        wanted = [names] if single else [str(n) for n in np.asarray(names).ravel()]
        unknown = [n for n in wanted if n not in self._lookup]
        if unknown:
            raise DatasetIndexError(
                f"region name(s) {unknown[:5]} are not in column {self.column!r} of this dataset; "
                "check the spelling, or index by position."
            )
        pos = np.fromiter((self._lookup[n] for n in wanted), np.int64, len(wanted))
        return int(pos[0]) if single else pos.reshape(np.shape(names))


def is_names(key: Any) -> bool:
    """Whether an index key is a region/sample name or an array of names."""
    if isinstance(key, str):
        return True
    if isinstance(key, (list, tuple, np.ndarray)):
        arr = np.asarray(key)
        return arr.size > 0 and arr.dtype.kind in "US"
    return False
