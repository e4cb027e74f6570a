"""The write-time memory budget (`write(..., max_mem=)`) and how it is shared out."""

from __future__ import annotations

from ._cache import parse_bytes
from .errors import SettingsError

DEFAULT_MAX_MEM = 2 << 30
"""Default `max_mem` of a write: 2 GiB."""

MIN_MAX_MEM = 16 << 20
"""Smallest accepted budget: below it the fixed buffers (two shards per streamed array) dominate."""


def resolve_max_mem(max_mem: int | float | str | None) -> int:
    """`max_mem` as bytes (None: the default), or a `SettingsError` naming the value."""
    if max_mem is None:
        return DEFAULT_MAX_MEM
    try:
        budget = parse_bytes(max_mem)
    except (ValueError, OverflowError):
        budget = -1
    if budget < MIN_MAX_MEM:
        raise SettingsError(
            f"max_mem={max_mem!r} is not a byte count of at least {MIN_MAX_MEM >> 20} MiB; use e.g. 512MiB or 2GB."
        )
    return budget
