"""An on-disk cache of a remote store's raw chunk bytes, bounded in size.

Remote reads fetch byte ranges of shard objects (`ShardedArray._read`); with a disk cache
each range is kept as one file, so later epochs (and other processes: DataLoader workers,
later runs) read it from local disk instead of the network. Files are still the stored,
checksummed bytes: they are decoded and crc32c-checked like a fresh fetch, and a cached file
that fails is fetched again.

Entries live under `<directory>/<store id>/`, the store id hashing the store's name and its
root metadata (attributes and consolidated array metadata), so a dataset written again with
other contents does not read stale chunks. Files are written to a temporary name and renamed,
so processes sharing the directory never read half a file. When the files of this process's
view pass `max_bytes`, the least recently used (by modification time, refreshed on each hit)
are deleted down to 90 % of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import uuid
from pathlib import Path


class DiskChunkCache:
    """Raw byte ranges of one store, as files under `directory`, at most `max_bytes`."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int, store_id: str) -> None:
        self.root = Path(directory) / hashlib.sha256(store_id.encode()).hexdigest()[:24]
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._nbytes = sum(e.stat().st_size for e in os.scandir(self.root) if e.is_file())

    def _path(self, key: str, off: int, n: int) -> Path:
        return self.root / hashlib.sha256(f"{key}\0{off}\0{n}".encode()).hexdigest()[:32]

    def get(self, key: str, off: int, n: int) -> bytes | None:
        path = self._path(key, off, n)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        if len(data) != n:
            self.discard(key, off, n)
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        self.hits += 1
        return data

    def put(self, key: str, off: int, n: int, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        path = self._path(key, off, n)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        with self._lock:
            self._nbytes += len(data)
            if self._nbytes > self.max_bytes:
                self._evict()

    def discard(self, key: str, off: int, n: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key, off, n).unlink()

    def _evict(self) -> None:
        entries = []
        for e in os.scandir(self.root):
            with contextlib.suppress(FileNotFoundError):
                st = e.stat()
                entries.append((st.st_mtime_ns, st.st_size, e.path))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * 0.9)
        for _, size, path in entries:
            if total <= target:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                total -= size
        self._nbytes = total

    @property
    def nbytes(self) -> int:
        """Bytes held on disk (as of the last eviction plus this process's writes since)."""
        return self._nbytes
