"""One byte-budgeted LRU cache for every decoded chunk a `Dataset` reads.

A reader's private memory is this budget plus what one batch needs, whatever the size of
the store: decoded chunks are evicted least-recently-used first once the budget is full.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .errors import SettingsError

DEFAULT_CACHE_BYTES = 1 << 30
"""Default budget: 1 GiB. Override with `Dataset.open(..., cache_bytes=N)` or the
environment variable `GVL_ZARR_CACHE_BYTES`."""

CACHE_ENV = "GVL_ZARR_CACHE_BYTES"


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(value: int | float | str) -> int:
    """A byte count from a number or a string such as "512MiB", "2GB", "1e9"."""
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        number = text.rstrip("kmgib")
        unit = text[len(number) :]
        if unit not in _UNITS:
            raise ValueError(value)
        return int(float(number) * _UNITS[unit])
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(value)
    return int(value)


def resolve_budget(cache_bytes: int | float | str | None) -> int:
    """The budget to use: the argument, else $GVL_ZARR_CACHE_BYTES, else 1 GiB."""
    source = "cache_bytes"
    if cache_bytes is None:
        cache_bytes = os.environ.get(CACHE_ENV, "").strip() or DEFAULT_CACHE_BYTES
        source = f"${CACHE_ENV}"
    try:
        budget = parse_bytes(cache_bytes)
    except (ValueError, OverflowError):
        budget = -1
    if budget < 0:
        raise SettingsError(f"{source}={cache_bytes!r} is not a number of bytes; use e.g. 268435456, 256MiB or 2GB.")
    return budget


RESIDENT_SHARE = 0.5
"""Share of the budget that whole arrays may reserve (see `ChunkCache.reserve`)."""


_CACHES: weakref.WeakSet[ChunkCache] = weakref.WeakSet()


class ChunkCache:
    """Decoded chunks keyed by (array, chunk), evicted least-recently-used over the budget.

    Part of the budget (at most `RESIDENT_SHARE`) can be reserved by arrays small enough to
    be decoded whole into one buffer (`reserve`): kernels then read them with no per-batch
    gathering. The LRU holds the rest: `budget - reserved` bytes.

    `get_many` returns the cached chunks and decodes the missing ones with one call to a
    loader, so a batch's misses are fetched together (concurrently on remote stores).
    Arrays a batch holds stay alive in the batch even if evicted meanwhile.
    """

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self.reserved = 0
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.bytes_decoded = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.disk: Any = None
        """A `DiskChunkCache` of raw remote byte ranges under this cache, or None."""
        _CACHES.add(self)

    def _after_fork(self) -> None:
        """In a forked child: fresh lock and LRU. A thread of the parent (the preloader) may
        have held the lock or been mid-update at the fork; it does not exist in the child."""
        self._lock = threading.Lock()
        self._items = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: list[Hashable], load: Callable[[list[Hashable]], list[np.ndarray]]) -> list[np.ndarray]:
        """The arrays for `keys`, calling `load(missing_keys)` once for those not cached."""
        out: list[np.ndarray | None] = [None] * len(keys)
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                arr = self._items.get(key)
                if arr is None:
                    missing.append(i)
                else:
                    self._items.move_to_end(key)
                    out[i] = arr
            self.hits += len(keys) - len(missing)
            self.misses += len(missing)
        if missing:
            loaded = load([keys[i] for i in missing])
            with self._lock:
                for i, arr in zip(missing, loaded, strict=True):
                    out[i] = arr
                    self.bytes_decoded += arr.nbytes
                    self._put(keys[i], arr)
        return out  # type: ignore[return-value]

    def _put(self, key: Hashable, arr: np.ndarray) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        if arr.nbytes > self.budget - self.reserved:
            return
        self._items[key] = arr
        self.nbytes += arr.nbytes
        self._evict()

    def _evict(self) -> None:
        while self.nbytes > self.budget - self.reserved:
            _, evicted = self._items.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def reserve(self, nbytes: int) -> bool:
        """Set aside `nbytes` of the budget for an array decoded whole; False when the
        reservable share is used up (the array is then read chunk by chunk)."""
        with self._lock:
            if self.reserved + nbytes > self.budget * RESIDENT_SHARE:
                return False
            self.reserved += int(nbytes)
            self._evict()
            return True

    def release(self, nbytes: int) -> None:
        """Give back a reservation (an array that was closed)."""
        with self._lock:
            self.reserved = max(0, self.reserved - int(nbytes))

    def drop(self, prefix: Hashable) -> None:
        """Forget every chunk whose key starts with `prefix` (an array that was rewritten)."""
        with self._lock:
            for key in [k for k in self._items if isinstance(k, tuple) and k[0] == prefix]:
                self.nbytes -= self._items.pop(key).nbytes

    def stats(self) -> dict[str, int]:
        """Budget, bytes reserved for whole arrays, bytes of chunks held, chunks held, hits,
        misses and bytes decoded so far."""
        return {
            "budget": self.budget,
            "reserved": self.reserved,
            "nbytes": self.nbytes,
            "chunks": len(self._items),
            "hits": self.hits,
            "misses": self.misses,
            "bytes_decoded": self.bytes_decoded,
        }


def _reset_after_fork() -> None:
    for cache in list(_CACHES):
        cache._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
