"""Validation of the output-length and insertion-fill settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SettingsError
from .fill import as_fill

if TYPE_CHECKING:
    from ._query import StoreData
    from ._settings import Settings


def output_length(value: Any) -> int | str | None:
    """None, a positive int, "ragged" or "variable"."""
    if value is None or value in ("ragged", "variable"):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise SettingsError(
        f"output length must be 'ragged', 'variable' or a positive int, got {value!r}; "
        "e.g. ds.with_len('ragged') or ds.with_len(1000)."
    )


def insertion_fill(value: Any, tracks: list[str]) -> tuple[tuple[str, Any], ...]:
    """(track, InsertionFill) pairs from one fill (every track) or a {track: fill} mapping."""
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in tracks]
        if unknown:
            raise SettingsError(f"insertion fill for tracks {unknown} that are not in the dataset; tracks: {tracks}.")
        return tuple((name, as_fill(fill, name)) for name, fill in value.items())
    fill = as_fill(value)
    return tuple((name, fill) for name in tracks)


def check_length(s: Settings, data: StoreData) -> None:
    """An int output length must fit the stored data: the windows hold region_length +
    max_jitter bases from the unjittered start (GenVarLoader's limit, L + 2 * jitter <=
    region length + 2 * max_jitter, reads further right than a store keeps)."""
    length = s.output_length
    if not isinstance(length, int):
        return
    limits = [("the dataset", data.max_jitter)]
    limits += [(f"track {name!r}", data.tracks[name].max_jitter) for name in s.return_tracks]
    for what, max_jitter in limits:
        longest = data.length + max_jitter - s.jitter
        if length > longest:
            raise SettingsError(
                f"output length {length} with jitter={s.jitter} reads past the data {what} stores "
                f"(region_length {data.length} + max_jitter {max_jitter}); use with_len(<= {longest}), "
                "less jitter, or re-write the dataset with a larger length or max_jitter."
            )
