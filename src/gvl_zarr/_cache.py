"""One byte-budgeted LRU cache for every decoded chunk a `Dataset` reads.

A reader's private memory is this budget plus what one batch needs, whatever the size of
the store: decoded chunks are evicted least-recently-used first once the budget is full.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
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

    A background prefetcher (`_prefetch.py`) `claim`s the chunks it is about to fetch and
    `fulfil`s them: a batch that needs a claimed chunk waits for it instead of requesting it
    a second time; claiming evicts first, so that the chunks held plus those in flight stay
    within the budget (`peak` records the most ever held so). Prefetched chunks not yet read
    are evicted after the chunks that were read: otherwise the next window, fetched while
    the current one is read, is evicted before use in favour of the current window's chunks,
    which its reads keep refreshing (measured: most of every third window fetched twice).
    Unread prefetched chunks of tasks no longer ahead (`stale_before`: a DataLoader worker
    reads only its own batches of a window) become the least recently used ones.

    Chunks of paged arrays (`_paged.py`) are entries like any other, whose arrays are views
    of the array's buffer; evicting one retires it, and its pages are released once no batch
    is `reading` (the readers' count and the retired chunks live here, under the one lock).
    """

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self.reserved = 0
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.bytes_decoded = 0
        self.waits = 0
        self.inflight = 0
        self.peak = 0
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._fresh: OrderedDict[Hashable, tuple[int, np.ndarray]] = OrderedDict()  # prefetched, unread
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.disk: Any = None
        """A `DiskChunkCache` of raw remote byte ranges under this cache, or None."""
        self._paged: dict[int, Any] = {}  # array id -> its `Pages`
        self._retired: list[tuple[Hashable, Any, int]] = []  # (key, Pages, chunk): pages to release
        self._readers = 0
        self._here = threading.local()
        self.tick = 0
        _CACHES.add(self)

    def _after_fork(self) -> None:
        """In a forked child: fresh lock and LRU. A thread of the parent (the preloader) may
        have held the lock or been mid-update at the fork; it does not exist in the child."""
        self._lock = threading.Lock()
        self._items = OrderedDict()
        self._fresh = OrderedDict()
        self._pending = {}
        self.nbytes = self.inflight = 0
        self._retired, self._readers = [], 0
        self._here = threading.local()
        for pages in self._paged.values():
            pages.forget()

    # ------------------------------------------------------------- paged arrays
    def add_paged(self, array_id: int, pages: Any) -> None:
        """Count the chunks of `pages` (a `_paged.Pages`) under keys (array_id, (chunk,))."""
        with self._lock:
            self._paged[array_id] = pages

    def next_tick(self) -> int:
        """A new read time for `Pages.read_tick` (races between threads only blur recency)."""
        self.tick += 1
        return self.tick

    @property
    def reading_here(self) -> bool:
        """Whether this thread is inside `reading()`: paged rows may be used in place."""
        return getattr(self._here, "depth", 0) > 0

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """`_reading()`, or nothing to do when no array is paged (~1.5 µs a batch saved)."""
        return self._reading() if self._paged else contextlib.nullcontext()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Paged chunks read in place inside this block keep their rows until every thread
        reading has left it: pages of chunks evicted meanwhile are released then (between
        batches, for a DataLoader). Entering never waits: a reader's helper threads (`_chunks.
        together`) enter while it waits on them."""
        depth = getattr(self._here, "depth", 0)
        with self._lock:
            self._readers += 1
        self._here.depth = depth + 1
        try:
            yield
        finally:
            self._here.depth = depth
            with self._lock:
                self._readers -= 1
                if self._readers == 0 and self._retired:
                    self._release()

    def _paged_chunk(self, key: Hashable) -> tuple[Any, int] | None:
        """(Pages, chunk) when `key` is a paged array's chunk."""
        if not self._paged or type(key) is not tuple or len(key) != 2 or type(key[1]) is not tuple:
            return None
        pages = self._paged.get(key[0])
        return None if pages is None else (pages, key[1][0])

    def _retire(self, key: Hashable) -> None:
        """A paged chunk left the cache (or was written and not kept): mark it not loaded
        and release its pages when no batch reads (under the lock)."""
        found = self._paged_chunk(key)
        if found is not None:
            pages, chunk = found
            pages.loaded[chunk] = False
            self._retired.append((key, pages, chunk))

    def _release(self) -> None:
        """Release the pages of retired chunks not loaded or being written again (no thread
        is inside `reading`; under the lock)."""
        by_pages: dict[int, tuple[Any, list[int]]] = {}
        for key, pages, chunk in self._retired:
            if key not in self._pending:  # being written by a fetch: loaded or retired after
                by_pages.setdefault(id(pages), (pages, []))[1].append(chunk)
        self._retired = []
        for pages, chunks in by_pages.values():
            unique = np.unique(np.array(chunks, np.int64))
            pages.release(unique[~pages.loaded[unique]])

    def __len__(self) -> int:
        return len(self._items) + len(self._fresh)

    def _get(self, key: Hashable) -> np.ndarray | None:
        """The chunk at `key`, now the most recently used (under the lock)."""
        arr = self._items.get(key)
        if arr is not None:
            self._items.move_to_end(key)
            return arr
        entry = self._fresh.pop(key, None)
        if entry is None:
            return None
        self._items[key] = entry[1]
        return entry[1]

    def get_many(self, keys: list[Hashable], load: Callable[[list[Hashable]], list[np.ndarray]]) -> list[np.ndarray]:
        """The arrays for `keys`, calling `load(missing_keys)` once for those not cached."""
        out: list[np.ndarray | None] = [None] * len(keys)
        missing: list[int] = []
        waiting: list[tuple[int, threading.Event]] = []
        mine = threading.Event()  # one for all the keys this call loads (an Event is ~3 µs)
        with self._lock:
            for i, key in enumerate(keys):
                arr = self._get(key)
                if arr is not None:
                    out[i] = arr
                elif key in self._pending:
                    waiting.append((i, self._pending[key]))
                else:
                    missing.append(i)
                    self._pending[key] = mine  # a prefetch skips what a batch fetches
            self.hits += len(keys) - len(missing) - len(waiting)
            self.misses += len(missing)
            self.waits += len(waiting)
        if missing:
            self._load_into(out, keys, missing, load)
        if waiting:
            again = []
            for i, event in waiting:
                event.wait()
                with self._lock:
                    arr = self._get(keys[i])
                    if arr is None and keys[i] not in self._pending:
                        self._pending[keys[i]] = threading.Event()
                        again.append(i)  # the fetch failed, or its chunk was evicted at once
                    elif arr is None:  # fetched again by another batch meanwhile
                        waiting.append((i, self._pending[keys[i]]))
                out[i] = arr
            if again:
                self._load_into(out, keys, again, load)
        return out  # type: ignore[return-value]

    def _load_into(self, out: list, keys: list[Hashable], which: list[int], load: Callable) -> None:
        """Load keys[which] into `out` and the cache; they were marked pending by the caller
        (the lock held), and are released whatever happens."""
        try:
            loaded = load([keys[i] for i in which])
            with self._lock:
                for i, arr in zip(which, loaded, strict=True):
                    out[i] = arr
                    self.bytes_decoded += arr.nbytes
                    self._put(keys[i], arr)
        finally:
            with self._lock:
                for i in which:
                    event = self._pending.pop(keys[i], None)
                    if event is not None:
                        event.set()
                    if out[i] is None:  # failed: a paged chunk's rows may be half written
                        self._retire(keys[i])

    # ------------------------------------------------------------ prefetch
    def cached(self, key: Hashable) -> bool:
        """Whether `key` is held or being fetched (no LRU update)."""
        return key in self._items or key in self._fresh or key in self._pending

    def holds(self, keys: list[Hashable]) -> bool:
        """Whether every key is held now (no LRU update)."""
        with self._lock:
            return all(k in self._items or k in self._fresh for k in keys)

    @property
    def capacity(self) -> int:
        """Bytes the LRU may hold: the budget less what whole arrays reserved."""
        return max(0, self.budget - self.reserved)

    def claim(self, keys: list[Hashable], nbytes: int) -> list[Hashable]:
        """Of `keys`, those neither held nor being fetched, now marked as being fetched by
        the caller, who must `fulfil` them. Room is made for `nbytes` decoded bytes (LRU
        entries evicted), counted in flight until fulfilled."""
        with self._lock:
            mine = [k for k in dict.fromkeys(keys) if not self.cached(k)]
            event = threading.Event()  # one for the claim: its keys are fulfilled together
            for key in mine:
                self._pending[key] = event
            if mine:
                self.inflight += nbytes
                self._evict()
                self.peak = max(self.peak, self.nbytes + self.reserved + self.inflight)
            return mine

    def fulfil(self, keys: list[Hashable], arrays: list[np.ndarray] | None, nbytes: int, task: int = 0) -> None:
        """Store the claimed chunks (None: the fetch failed), fetched for prefetch task number
        `task`, and wake batches waiting on them."""
        with self._lock:
            self.inflight = max(0, self.inflight - nbytes)
            for i, key in enumerate(keys):
                if arrays is not None:
                    self.bytes_decoded += arrays[i].nbytes
                    self._put(key, arrays[i], fresh=task)
                else:
                    self._retire(key)
                event = self._pending.pop(key, None)
                if event is not None:
                    event.set()

    def refresh(self, keys: list[Hashable], task: int) -> None:
        """Held chunks that prefetch task number `task` needs count as fetched by it (a
        chunk shared by two blocks, read with the first, must last until the second)."""
        with self._lock:
            for key in keys:
                arr = self._items.pop(key, None)
                if arr is None:
                    entry = self._fresh.pop(key, None)
                    arr = entry[1] if entry is not None else None
                if arr is not None:
                    self._fresh[key] = (task, arr)

    def stale_before(self, task: int) -> None:
        """Prefetched chunks of tasks numbered below `task` that were never read become the
        least recently used chunks."""
        with self._lock:
            while self._fresh:
                key, (number, arr) = next(iter(self._fresh.items()))
                if number >= task:
                    break
                del self._fresh[key]
                self._items[key] = arr
                self._items.move_to_end(key, last=False)

    def _put(self, key: Hashable, arr: np.ndarray, fresh: int | None = None) -> None:
        self._pop(key)
        if arr.nbytes > self.budget - self.reserved:
            self._retire(key)
            return
        if fresh is not None:
            self._fresh[key] = (fresh, arr)
        else:
            self._items[key] = arr
        self.nbytes += arr.nbytes
        found = self._paged_chunk(key)
        if found is not None:
            pages, chunk = found
            pages.loaded[chunk] = True
            pages.placed_tick[chunk] = self.tick
        self._evict()
        self.peak = max(self.peak, self.nbytes + self.reserved + self.inflight)

    def _evict(self) -> None:
        while self.nbytes + self.inflight > self.capacity and (self._items or self._fresh):
            key = next(iter(self._items or self._fresh))
            found = self._paged_chunk(key)
            if found is not None:
                pages, chunk = found
                if pages.read_tick[chunk] > pages.placed_tick[chunk]:  # read in place since placed
                    pages.placed_tick[chunk] = self.tick
                    arr = self._items.pop(key, None)
                    self._items[key] = self._fresh.pop(key)[1] if arr is None else arr
                    continue
            self._pop(key)
        if self._retired and self._readers == 0:
            self._release()

    def _pop(self, key: Hashable) -> None:
        old = self._items.pop(key, None)
        if old is None:
            entry = self._fresh.pop(key, None)
            old = entry[1] if entry is not None else None
        if old is not None:
            self.nbytes -= old.nbytes
            self._retire(key)

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
            for key in [k for k in (*self._items, *self._fresh) if isinstance(k, tuple) and k[0] == prefix]:
                self._pop(key)
            self._paged.pop(prefix, None)  # type: ignore[call-overload]

    def stats(self) -> dict[str, int]:
        """Budget, bytes reserved for whole arrays, bytes of chunks held, chunks held, hits,
        misses, waits (chunks a batch took from a prefetch in flight), bytes decoded so far,
        and the peak of reserved + held + in-flight prefetch bytes."""
        return {
            "budget": self.budget,
            "reserved": self.reserved,
            "nbytes": self.nbytes,
            "chunks": len(self),
            "hits": self.hits,
            "misses": self.misses,
            "waits": self.waits,
            "bytes_decoded": self.bytes_decoded,
            "peak": self.peak,
        }


def _reset_after_fork() -> None:
    for cache in list(_CACHES):
        cache._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
