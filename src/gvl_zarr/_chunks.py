"""Random-access reads of the store's sharded arrays, through one `ChunkCache`.

Every data array is a Zarr v3 array with one `ShardingCodec`: big shard objects holding
small inner chunks, each `bytes → blosc → crc32c`, and a crc32c-checked index at the shard's
end (docs/format.md). A batch needs a few inner chunks per array, so they are read by byte
range and decoded here, with the shard index read once and cached:

- zarr 3.1's own `Array.__getitem__` re-reads the shard index and runs its async codec
  pipeline for every read: ~0.9-1.2 ms per 32 KiB inner chunk on this 2-core machine, also
  when many are gathered in one event-loop call, against ~0.05 ms for pread + blosc + crc32c
  here (measured with 200 random inner chunks of a 2²⁶-row int64 array);
- local stores are read with `os.pread`; other stores (fsspec: HTTP, S3, …) with the zarr
  Store API, every range of a batch requested concurrently in one event-loop call.

A missing shard or chunk, a short read or a checksum mismatch raises `DamagedStoreError`
naming the array and chunk: a damaged store never reads as zeros.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from typing import Any

import google_crc32c
import numpy as np
import zarr
from numcodecs import blosc
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec

from ._cache import ChunkCache
from ._kernels.gather import take_grid
from ._paged import Pages, lazy_map
from ._store import for_this_process
from .errors import DamagedStoreError, GvlError, IncompleteDatasetError

_EMPTY = np.uint64(2**64 - 1)
_ARRAYS: weakref.WeakSet[ShardedArray] = weakref.WeakSet()


def _reset_after_fork() -> None:
    """Forked children (DataLoader workers) get fresh locks: the parent's preload thread may
    have held one at the fork. Resident chunks marked loaded were fully written before."""
    for arr in list(_ARRAYS):
        arr._lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
_ids = count()


def _check_codecs(array: zarr.Array, where: str) -> ShardingCodec:
    codecs = array.metadata.codecs
    ok = (
        len(codecs) == 1
        and isinstance(codecs[0], ShardingCodec)
        and [type(c) for c in codecs[0].codecs] in ([BytesCodec, BloscCodec, Crc32cCodec], [BytesCodec, Crc32cCodec])
        and [type(c) for c in codecs[0].index_codecs] == [BytesCodec, Crc32cCodec]
        and codecs[0].index_location.value == "end"
    )
    if not ok:
        raise IncompleteDatasetError(
            f"{where}: array {array.path!r} is not laid out as this gvl_zarr writes it "
            "(sharded; blosc + crc32c or raw + crc32c inner chunks); re-write the dataset with this version."
        )
    return codecs[0]


def _lazy_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zero-filled array whose pages are committed only when first written, in 4 KiB pages.

    numpy asks for transparent huge pages on large arrays; a buffer filled chunk by chunk at
    random then zeroes a whole 2 MiB page for every 32 KiB chunk: measured 130 ms instead of
    ~2 ms for the first batch of a 370 MB interval buffer.

    The mapping is private: its pages are the process's own (RssAnon), as they are. mmap's
    default, a shared anonymous mapping, counts them as shared memory (RssShmem) instead, and a
    forked DataLoader worker writing a chunk would write into its parent's buffer too. Not
    reserved up front (MAP_NORESERVE): only the pages written count against overcommit."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes == 0:
        return np.zeros(shape, dtype)
    return np.frombuffer(lazy_map(nbytes), dtype).reshape(shape)


class ShardedArray:
    """Inner chunks of one sharded array, decoded on demand into the shared cache."""

    def __init__(self, array: zarr.Array, cache: ChunkCache, where: str) -> None:
        sharding = _check_codecs(array, where)
        self.raw = not any(isinstance(c, BloscCodec) for c in sharding.codecs)
        self.where = where
        self.path = array.path
        self.shape = tuple(int(n) for n in array.shape)
        self.dtype = np.dtype(array.dtype).newbyteorder("<")
        self.inner = tuple(int(c) for c in sharding.chunk_shape)
        self.shard = tuple(int(c) for c in array.metadata.chunk_grid.chunk_shape)
        self.per_shard = tuple(s // c for s, c in zip(self.shard, self.inner, strict=True))
        self.n_inner = int(np.prod(self.per_shard))
        self._inner_size = int(np.prod(self.inner))
        self._metadata = array.metadata
        self._store = array.store_path.store
        self._store_pid = os.getpid()
        self._prefix = array.store_path.path
        root = getattr(self._store, "root", None)
        self._local = os.fspath(root) if isinstance(self._store, zarr.storage.LocalStore) else None
        self.value_range: tuple[int, int] | None = None
        """Bounds every decoded value must lie in (offsets and indices into other arrays):
        checked once per chunk as it is decoded, so kernels never index out of bounds."""
        self._fds: dict[tuple[int, str], int] = {}
        self._keys: dict[tuple[int, ...], str] = {}
        self._cache = cache
        self._id = next(_ids)
        self.decoded_nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.resident = False
        self._buffer: np.ndarray | None = None
        self._loaded: np.ndarray | None = None
        self._complete = False
        self.pages: Pages | None = None
        """Set for a paged array (`FlatArray.make_paged`)."""
        self._lock = threading.Lock()
        self.on_first_use: Callable[[ShardedArray], None] | None = None
        self._used_pid = -1
        _ARRAYS.add(self)

    # ----------------------------------------------------------- residency
    def make_resident(self) -> None:
        """Decode into one whole-array buffer from now on (its size is reserved in the cache
        by the caller). Pages are committed as chunks are decoded into it, on first use."""
        self._buffer = _lazy_buffer(self.shape, self.dtype)
        grid = tuple(-(-n // c) for n, c in zip(self.shape, self.inner, strict=True))
        self._loaded = np.zeros(grid, bool)
        self._complete = self._loaded.size == 0
        self.resident = True

    def _store_chunk(self, c: np.ndarray, chunk: np.ndarray) -> None:
        """Copy decoded chunk `c` into the resident buffer."""
        assert self._buffer is not None
        sl = tuple(
            slice(int(i) * n, min((int(i) + 1) * n, dim)) for i, n, dim in zip(c, self.inner, self.shape, strict=True)
        )
        self._buffer[sl] = chunk[tuple(slice(0, x.stop - x.start) for x in sl)]

    @property
    def chunk_nbytes(self) -> int:
        """Decoded bytes of one inner chunk."""
        return self._inner_size * self.dtype.itemsize

    def _not_loaded(self, coords: np.ndarray) -> np.ndarray:
        """Of the inner-grid `coords`, those not yet in the resident buffer (unique)."""
        assert self._loaded is not None
        flat = np.ravel_multi_index(tuple(coords.T), self._loaded.shape)
        ids = np.unique(flat[~self._loaded.reshape(-1)[flat]])
        return np.stack(np.unravel_index(ids, self._loaded.shape), axis=1).astype(np.int64)

    def _keep(self, coords: np.ndarray, chunks: list[np.ndarray]) -> None:
        """Copy decoded chunks (fetched ahead of use) into the resident buffer; the caller
        holds the array's lock."""
        assert self._loaded is not None
        loaded = self._loaded.reshape(-1)
        for c, chunk in zip(coords, chunks, strict=True):
            flat = int(np.ravel_multi_index(tuple(int(x) for x in c), self._loaded.shape))
            if not loaded[flat]:
                self._store_chunk(c, chunk)
                loaded[flat] = True
        self._cache.bytes_decoded += len(chunks) * self.chunk_nbytes
        self._complete = bool(self._loaded.all())

    @property
    def complete(self) -> bool:
        """Whether every chunk is in the resident buffer."""
        return self._complete

    def read_indexes(self, limit: int = 8) -> None:
        """Read the shard indexes of the first `limit` shards into the cache, ahead of the
        chunk reads that need them (`_warm`: ~1.5 ms each in a first batch otherwise)."""
        grid = tuple(-(-n // s) for n, s in zip(self.shape, self.shard, strict=True))
        keys = [self._index_key(s) for s in itertools.islice(np.ndindex(*grid), limit)]  # none if empty
        if keys and self.shape:
            self._cache.get_many(keys, self._load_indexes)

    def chunk_steps(self, step: int):
        """Inner-grid coordinates of every chunk, `step` at a time ((k, ndim) arrays)."""
        grid = tuple(-(-n // c) for n, c in zip(self.shape, self.inner, strict=True))
        coords = np.indices(grid).reshape(len(grid), -1).T
        for i in range(0, len(coords), step):
            yield coords[i : i + step]

    def _ensure(self, coords: np.ndarray) -> np.ndarray:
        """Make the chunks at inner-grid `coords` ((k, ndim) ints) resident; the buffer."""
        assert self._buffer is not None and self._loaded is not None
        if self._used_pid != os.getpid():
            self._used_pid = os.getpid()
            if self.on_first_use is not None:
                self.on_first_use(self)
        if not self._complete and coords.size:
            flat = np.ravel_multi_index(tuple(coords.T), self._loaded.shape)
            loaded = self._loaded.reshape(-1)
            if not loaded[flat].all():
                with self._lock:
                    ids = np.unique(flat[~loaded[flat]])  # 1-D unique: np.unique(axis=0) imports numpy.ma
                    missing = np.stack(np.unravel_index(ids, self._loaded.shape), axis=1)
                    if missing.size:
                        keys = [(self._id, tuple(int(x) for x in c)) for c in missing]
                        for c, chunk in zip(missing, self._load(keys), strict=True):
                            self._store_chunk(c, chunk)
                        self._cache.bytes_decoded += len(keys) * self._inner_size * self.dtype.itemsize
                        loaded[ids] = True
                        self._complete = bool(self._loaded.all())
        return self._buffer

    # -------------------------------------------------------------- chunks
    def chunks(self, coords: list[tuple[int, ...]]) -> list[np.ndarray]:
        """Decoded inner chunks at inner-grid `coords` (each of shape `inner`), via the LRU."""
        return self._cache.get_many([(self._id, c) for c in coords], self._load)

    def _load(self, keys: list[Hashable], in_place: bool = True) -> list[np.ndarray]:
        """Decode chunks at `keys`' coordinates; a paged array's into its buffer (`in_place`),
        the caller having marked them pending in the cache."""
        coords = np.array([k[1] for k in keys], np.int64).reshape(len(keys), -1)  # type: ignore[index]
        shard_keys, local = self._shards_of(coords)
        wanted = sorted(set(shard_keys))
        indexes = dict(
            zip(wanted, self._cache.get_many([self._index_key(s) for s in wanted], self._load_indexes), strict=True)
        )
        return self._read_parsed(
            self._chunk_requests(coords, shard_keys, local, indexes),
            lambda blobs: [self._decode(b, k[1], in_place) for b, k in zip(blobs, keys, strict=True)],  # type: ignore[index]
        )

    def _shards_of(self, coords: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray]:
        """(shard of each inner chunk at `coords`, its position in its shard's index)."""
        per = np.array(self.per_shard, np.int64)
        local = np.ravel_multi_index(tuple((coords % per).T), self.per_shard)
        return list(map(tuple, (coords // per).tolist())), local

    def _index_key(self, shard: tuple[int, ...]) -> tuple:
        return (self._id, "index", shard)

    def _chunk_requests(
        self, coords: np.ndarray, shard_keys: list[tuple[int, ...]], local: np.ndarray, indexes: dict
    ) -> list[tuple[str, int, int]]:
        """The (key, offset, size) byte range of each inner chunk, from its shard's index."""
        requests = []
        for i, s in enumerate(shard_keys):
            off, n = indexes[s][local[i]]
            if off == _EMPTY:
                raise self._damaged(tuple(coords[i]), "has no entry in its shard index")
            requests.append((self._key(s), int(off), int(n)))
        return requests

    def _read_parsed(self, requests: list[tuple[str, int, int]], parse: Callable[[list[bytes]], list]) -> list:
        """`parse(self._read(requests))`; when a remote read came from the disk cache and fails
        its checks, the cached ranges are dropped and fetched from the store once more."""
        blobs = self._read(requests)
        try:
            return parse(blobs)
        except DamagedStoreError:
            if self._local is not None or self._cache.disk is None:
                raise
            for r in requests:
                self._cache.disk.discard(*r)
            return parse(self._read(requests))

    def read_uncached(self, coords: np.ndarray) -> list[np.ndarray]:
        """Decode the inner chunks at `coords` ((k, ndim) ints), checksums checked, without
        keeping them in the LRU (`gvl-zarr validate` reads every chunk once)."""
        return self._load([(self._id, c) for c in map(tuple, np.asarray(coords).tolist())], in_place=False)

    def _load_indexes(self, keys: list[Hashable]) -> list[np.ndarray]:
        shards = [k[2] for k in keys]  # type: ignore[index]
        return self._read_parsed(self._index_requests(shards), lambda blobs: self._parse_indexes(blobs, shards))

    def _index_requests(self, shards: list[tuple[int, ...]]) -> list[tuple[str, int, int]]:
        nbytes = self.n_inner * 16 + 4
        return [(self._key(s), -nbytes, nbytes) for s in shards]

    def _parse_indexes(self, blobs: list[bytes], shards: list[tuple[int, ...]]) -> list[np.ndarray]:
        nbytes = self.n_inner * 16 + 4
        out = []
        for blob, s in zip(blobs, shards, strict=True):
            if len(blob) != nbytes or google_crc32c.value(blob[:-4]) != int.from_bytes(blob[-4:], "little"):
                raise self._damaged(s, "shard index is truncated or fails its checksum", shard=True)
            out.append(np.frombuffer(blob, "<u8", count=self.n_inner * 2).reshape(-1, 2))
        return out

    def _decode(self, blob: bytes, coords: tuple[int, ...], in_place: bool = True) -> np.ndarray:
        """The chunk at `coords` from its stored bytes, checked; a paged array's is decoded
        into its rows of the buffer (`in_place`; see `_load`)."""
        if len(blob) < 4 or google_crc32c.value(blob[:-4]) != int.from_bytes(blob[-4:], "little"):
            raise self._damaged(coords, "fails its crc32c checksum")
        if self.pages is not None and in_place:
            out = self.pages.view(int(coords[0]))
        else:
            out = np.empty(self.inner, self.dtype)
        body = memoryview(blob)[:-4]
        if self.raw:
            if len(body) != out.nbytes:
                raise self._damaged(coords, f"holds {len(body)} bytes, expected {out.nbytes}")
            out.reshape(-1).view(np.uint8)[:] = np.frombuffer(body, np.uint8)
            return out
        try:
            # blosc header: version, versionlz, flags, typesize, then nbytes (uint32 LE)
            if len(body) < 16 or int.from_bytes(body[4:8], "little") != out.nbytes:
                raise ValueError("wrong decoded size in the blosc header")
            blosc.decompress(body, out)
        except (RuntimeError, ValueError) as exc:
            raise self._damaged(coords, f"does not decompress to {out.nbytes} bytes ({exc})") from None
        if self.value_range is not None and out.size:
            lo, hi = self.value_range
            if int(out.min()) < lo or int(out.max()) > hi:
                raise self._damaged(coords, f"holds values outside [{lo}, {hi}] (rows of another array it indexes)")
        return out

    def _key(self, shard: tuple[int, ...]) -> str:
        key = self._keys.get(shard)
        if key is None:
            key = self._metadata.encode_chunk_key(shard)
            key = self._keys[shard] = f"{self._prefix}/{key}" if self._prefix else key
        return key

    def _damaged(self, coords: tuple[int, ...], what: str, shard: bool = False) -> DamagedStoreError:
        kind = "shard" if shard else "chunk"
        return DamagedStoreError(
            f"{self.where}: {kind} {coords} of array {self.path!r} {what}; the store is damaged "
            "(an interrupted copy or a corrupted file). Copy it again or re-write the dataset."
        )

    # ----------------------------------------------------------------- I/O
    def _read(self, requests: list[tuple[str, int, int]]) -> list[bytes]:
        """Bytes [offset, offset + n) of each key (a negative offset counts from the end)."""
        if self._local is not None:
            return [self._pread(key, off, n) for key, off, n in requests]
        return fetch_remote([(self, requests)])[0]

    def _this_store(self) -> Any:
        """The store, reopened once in a forked process (see `_store.for_this_process`)."""
        if self._store_pid != os.getpid():
            self._store = for_this_process(self._store, self._store_pid)
            self._store_pid = os.getpid()
        return self._store

    def _pread(self, key: str, off: int, n: int) -> bytes:
        fd = self._fds.get((os.getpid(), key))
        if fd is None:
            try:
                fd = os.open(os.path.join(self._local, key), os.O_RDONLY)
            except FileNotFoundError:
                raise self._damaged_key(key, "is missing") from None
            self._fds[(os.getpid(), key)] = fd
        if off < 0:
            off = max(0, os.fstat(fd).st_size + off)
        data = os.pread(fd, n, off)
        if len(data) != n:
            raise self._damaged_key(key, f"is truncated (read {len(data)} of {n} bytes at {off})")
        return data

    async def _read_async(self, requests: list[tuple[str, int, int]]) -> list[bytes]:
        from zarr.abc.store import RangeByteRequest, SuffixByteRequest
        from zarr.core.buffer import default_buffer_prototype

        proto = default_buffer_prototype()
        store = self._this_store()

        async def one(key: str, off: int, n: int) -> bytes:
            rng = SuffixByteRequest(n) if off < 0 else RangeByteRequest(off, off + n)
            buf = await store.get(key, proto, rng)
            if buf is None:
                raise self._damaged_key(key, "is missing")
            data = buf.to_bytes()
            if len(data) > n:  # a server that ignores Range sends the whole object
                data = data[-n:] if off < 0 else data[off : off + n]
            if len(data) != n:
                raise self._damaged_key(key, f"is truncated (read {len(data)} of {n} bytes)")
            return data

        merged, where = coalesce(requests)
        blobs = await asyncio.gather(*(one(*r) for r in merged))
        return [blobs[m] if skip == 0 and n == len(blobs[m]) else blobs[m][skip : skip + n] for m, skip, n in where]

    def _damaged_key(self, key: str, what: str) -> DamagedStoreError:
        return DamagedStoreError(
            f"{self.where}: shard object {key!r} {what}; the store is damaged (an interrupted copy "
            "or a deleted file). Copy it again or re-write the dataset."
        )

    def close(self) -> None:
        for (pid, _), fd in list(self._fds.items()):
            if pid == os.getpid():
                os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()


COALESCE_GAP = 1 << 20
"""Byte ranges of one shard object at most this far apart are fetched as one request and
split. A range request costs a round trip and a server's per-request work whatever its size,
while 1 MiB more takes ~10 ms at 100 MB/s; a block's inner chunks lie back to back and a
window's blocks of one region within a few hundred kB. Measured on benchmarks/remote.py
(chunk-aware shuffle, prefetch): 27% of local throughput with 1 MiB against 14% with 64 KiB.
"""

COALESCE_MAX = 16 << 20
"""No merged request grows past this many bytes."""


def coalesce(requests: list[tuple[str, int, int]]) -> tuple[list[tuple[str, int, int]], list[tuple[int, int, int]]]:
    """(merged requests, and for each request (merged request, offset in it, size)).

    Like fsspec.utils.merge_offset_ranges, keeping where each request lies in its merged
    range. Suffix ranges (negative offsets: shard indexes) are left as they are."""
    merged: list[tuple[str, int, int]] = []
    where: list[tuple[int, int, int]] = [(0, 0, 0)] * len(requests)
    by_key: dict[str, list[int]] = {}
    for i, (key, off, n) in enumerate(requests):
        if off < 0:
            where[i] = (len(merged), 0, n)
            merged.append((key, off, n))
        else:
            by_key.setdefault(key, []).append(i)

    def flush(key: str, start: int, end: int, members: list[int]) -> None:
        for i in members:
            where[i] = (len(merged), requests[i][1] - start, requests[i][2])
        merged.append((key, start, end - start))

    for key, idx in by_key.items():
        idx.sort(key=lambda i: requests[i][1])
        start, end, members = requests[idx[0]][1], requests[idx[0]][1] + requests[idx[0]][2], [idx[0]]
        for i in idx[1:]:
            off, n = requests[i][1], requests[i][2]
            if off <= end + COALESCE_GAP and max(end, off + n) - start <= COALESCE_MAX:
                end = max(end, off + n)
                members.append(i)
            else:
                flush(key, start, end, members)
                start, end, members = off, off + n, [i]
        flush(key, start, end, members)
    return merged, where


def fetch_remote(reads: list[tuple[ShardedArray, list[tuple[str, int, int]]]]) -> list[list[bytes]]:
    """The byte ranges of each (array, requests) of one remote store, all in flight together
    (one round trip for all the arrays). Ranges held by the disk cache are read from it;
    fetched ones are kept there. Network failures are raised as gvl_zarr errors."""
    if not reads:
        return []
    first = reads[0][0]
    disk = first._cache.disk
    out: list[list[Any]] = []
    todo: list[tuple[int, ShardedArray, list[int]]] = []
    for r, (arr, requests) in enumerate(reads):
        blobs = [disk.get(*q) for q in requests] if disk is not None else [None] * len(requests)
        out.append(blobs)
        missing = [i for i, b in enumerate(blobs) if b is None]
        if missing:
            arr._this_store()
            todo.append((r, arr, missing))
    if not todo:
        return out

    async def gather() -> list[list[bytes]]:
        wanted = [arr._read_async([reads[r][1][i] for i in missing]) for r, arr, missing in todo]
        return list(await asyncio.gather(*wanted))

    try:
        fetched = zarr.core.sync.sync(gather())
    except GvlError:
        raise
    except Exception as exc:  # a network or object-store failure: name the store and the fix
        from ._remote_errors import translate

        error = translate(exc, first.where)
        if error is None:
            raise
        raise error from None
    for (r, _, missing), blobs in zip(todo, fetched, strict=True):
        for i, blob in zip(missing, blobs, strict=True):
            if disk is not None:
                disk.put(*reads[r][1][i], blob)
            out[r][i] = blob
    return out


def prefetch_chunks(items: list[tuple[ShardedArray, np.ndarray]], limit: int, task: int = 0) -> tuple[bool, int]:
    """Load inner chunks of arrays of one remote store ahead of use, in two concurrent waves.

    `items` are (array, coords ((k, ndim) inner-grid ints)); chunks not held yet go into the
    array's resident buffer or the LRU. Shard indexes not cached are fetched first, all in
    one wave; then every chunk of every array in one more, adjacent byte ranges of a shard
    merged (`coalesce`). LRU chunks are claimed in the cache while in flight, so a batch
    needing one waits for it instead of fetching it again; `task` numbers them for
    `ChunkCache.stale_before`. Returns (fetched, LRU bytes needed): nothing is fetched when
    those bytes exceed `limit`."""
    todo: list[tuple[ShardedArray, np.ndarray, list | None]] = []
    lru_bytes = 0
    for arr, coords in items:
        if not len(coords):  # (reshape(0, -1) cannot infer the width of no coordinates)
            continue
        coords = np.asarray(coords, np.int64).reshape(len(coords), -1)
        if arr.resident:
            missing, keys = arr._not_loaded(coords), None
        else:
            keys = [(arr._id, c) for c in dict.fromkeys(map(tuple, coords.tolist()))]
            arr._cache.refresh(keys, task)
            keys = [k for k in keys if not arr._cache.cached(k)]
            missing = np.array([k[1] for k in keys], np.int64).reshape(len(keys), len(arr.shape))
            lru_bytes += len(keys) * arr.chunk_nbytes
        if len(missing):
            todo.append((arr, missing, keys))
    if lru_bytes > limit:
        return False, lru_bytes
    if not todo:
        return True, 0
    cache = todo[0][0]._cache
    claims: list[tuple[list, int]] = []  # (claimed keys, bytes) of each LRU array
    with contextlib.ExitStack() as held:
        # resident arrays stay locked while their chunks are in flight: a batch needing one
        # waits for it (`_ensure` takes the lock) instead of fetching it a second time
        for arr, _, keys in sorted(todo, key=lambda t: t[0]._id):
            if keys is None:
                held.enter_context(arr._lock)
        todo = [(a, a._not_loaded(m) if k is None else m, k) for a, m, k in todo]
        try:
            shards = []
            for arr, missing, _ in todo:
                keys = [arr._index_key(s) for s in sorted(set(arr._shards_of(missing)[0]))]
                mine = cache.claim(keys, 0)
                claims.append((mine, 0))
                if mine:
                    shards.append((arr, mine))
            wanted = [(a, a._index_requests([k[2] for k in mine])) for a, mine in shards]
            for (arr, mine), blobs in zip(shards, fetch_remote(wanted), strict=True):
                claims.remove((mine, 0))
                cache.fulfil(mine, arr._parse_indexes(blobs, [k[2] for k in mine]), 0, task)
            reads = []
            for arr, missing, keys in todo:
                claim = None
                if keys is not None:
                    claim = (cache.claim(keys, len(keys) * arr.chunk_nbytes), len(keys) * arr.chunk_nbytes)
                    claims.append(claim)
                    missing = np.array([k[1] for k in claim[0]], np.int64).reshape(len(claim[0]), len(arr.shape))
                if not len(missing):
                    continue
                shard_keys, local = arr._shards_of(missing)
                shard_ids = sorted(set(shard_keys))
                indexes = cache.get_many([arr._index_key(s) for s in shard_ids], arr._load_indexes)
                requests = arr._chunk_requests(missing, shard_keys, local, dict(zip(shard_ids, indexes, strict=True)))
                reads.append((arr, missing, claim, requests))
            fetched = fetch_remote([(arr, requests) for arr, _, _, requests in reads])
            for (arr, missing, claim, _), blobs in zip(reads, fetched, strict=True):
                chunks = [arr._decode(b, c) for b, c in zip(blobs, map(tuple, missing.tolist()), strict=True)]
                if claim is None:
                    arr._keep(missing, chunks)
                else:
                    claims.remove(claim)
                    cache.fulfil(claim[0], chunks, claim[1], task)
        finally:
            for keys, nbytes in claims:  # a failed fetch: batches waiting on these fetch them themselves
                cache.fulfil(keys, None, nbytes)
    return True, lru_bytes


def range_index(lo: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices of the rows [lo[i], lo[i] + lengths[i]) of every i, back to back."""
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    return np.repeat(np.asarray(lo, np.int64) - np.cumsum(lengths) + lengths, lengths) + np.arange(total)


class FlatArray(ShardedArray):
    """A 1-D data array read by row ranges or row indices."""

    def plan(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sorted chunk ids covering rows [lo[i], hi[i]), each range's first row once those
        chunks are staged back to back). Empty ranges map to 0."""
        lengths = hi - lo
        nz = lengths > 0
        new_lo = np.zeros(len(lo), np.int64)
        if not nz.any():
            return np.zeros(0, np.int64), new_lo
        if int(hi.max()) > self.shape[0] or int(lo[nz].min()) < 0:
            raise self._damaged((int(hi.max()),), f"is referenced past the array's {self.shape[0]} rows")
        c = self.inner[0]
        first, last = lo[nz] // c, (hi[nz] - 1) // c
        n_per = last - first + 1
        if n_per.max() == 1:
            needed = np.unique(first)
        else:
            starts = np.repeat(first - np.cumsum(n_per) + n_per, n_per)
            needed = np.unique(starts + np.arange(int(n_per.sum())))
        new_lo[nz] = np.searchsorted(needed, first) * c + lo[nz] % c
        return needed, new_lo

    # ------------------------------------------------------------- paged
    def make_paged(self) -> bool:
        """Read cached chunks in place from a buffer of all rows (`_paged.py`) from now on;
        whether the array is paged (not where its chunks are not whole pages)."""
        if self.pages is None and not self.resident and self.shape[0] > 0 and Pages.usable(self.chunk_nbytes):
            self.pages = Pages(-(-self.shape[0] // self.inner[0]), self.inner[0], self.dtype)
            self._cache.add_paged(self._id, self.pages)
        return self.pages is not None

    def page_in(self, needed: np.ndarray) -> np.ndarray:
        """Paged arrays: load the chunks `needed` (sorted ids) not in the buffer; the buffer,
        valid while the caller is inside `ChunkCache.reading`."""
        pages = self.pages
        assert pages is not None
        loaded = pages.loaded[needed]
        if not loaded.all():
            self.chunks([(int(c),) for c in needed[~loaded]])
        pages.read_tick[needed] = self._cache.next_tick()
        return pages.buffer

    def held(self, needed: np.ndarray) -> bool:
        """Whether chunks `needed` (ids) are all in memory: resident, or in the LRU now."""
        if self.pages is not None:
            return bool(self.pages.loaded[needed].all())
        if self.resident:
            return self._complete or bool(self._loaded.reshape(-1)[needed].all())  # type: ignore[union-attr]
        return self._cache.holds([(self._id, (int(c),)) for c in needed])

    def ensure_rows(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Resident arrays: decode the chunks holding rows [lo[i], hi[i]); the buffer."""
        if self._complete:
            return self._buffer  # type: ignore[return-value]
        nz = hi > lo
        c = self.inner[0]
        first, last = lo[nz] // c, (hi[nz] - 1) // c
        if first.size and int((last - first).max()) <= 1:
            return self._ensure(np.concatenate([first, last])[:, None])
        return self._ensure(self.plan(lo, hi)[0][:, None])

    def staged(self, needed: np.ndarray) -> np.ndarray:
        """Chunks `needed` (sorted ids): the resident buffer, or the chunks concatenated."""
        if self.resident:
            return self._ensure(needed[:, None])
        if needed.size == 0:
            return np.zeros(0, self.dtype)
        if self.pages is not None:
            with self._cache.reading():
                self.page_in(needed)
                return self.pages.copy(needed)
        arrays = self.chunks([(int(c),) for c in needed])
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    def whole(self) -> np.ndarray:
        """Every row, decoded into the resident buffer (resident arrays only)."""
        assert self.resident
        if self._complete:  # the per-batch case: no index array to build
            return self._buffer  # type: ignore[return-value]
        return self._ensure(np.arange(-(-self.shape[0] // self.inner[0]))[:, None])

    def ranges(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(data, new_lo): rows [lo[i], hi[i]) are data[new_lo[i] : new_lo[i] + hi[i] - lo[i]].

        Resident arrays return their buffer and `lo` itself: nothing is copied."""
        lo = np.asarray(lo, np.int64).ravel()
        hi = np.asarray(hi, np.int64).ravel()
        if self.resident:
            return self.ensure_rows(lo, hi), lo
        needed, new_lo = self.plan(lo, hi)
        if self.pages is not None and self._cache.reading_here:
            return self.page_in(needed), lo
        return self.staged(needed), new_lo

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows at `index` (any shape)."""
        index = np.asarray(index, np.int64)
        if index.size == 0:
            return np.empty(index.shape, self.dtype)
        c = self.inner[0]
        flat = index.ravel()
        if int(flat.max()) >= self.shape[0] or int(flat.min()) < 0:
            raise self._damaged((int(flat.max()),), f"is referenced past the array's {self.shape[0]} rows")
        ids = flat // c
        needed = np.unique(ids)
        if self.resident:
            return self._ensure(needed[:, None])[index]
        if self.pages is not None:
            with self._cache.reading():
                return self.page_in(needed)[index]
        staged = self.staged(needed)
        return staged[np.searchsorted(needed, ids) * c + flat % c].reshape(index.shape)


class Table:
    """Flat arrays over one row dimension (same rows per inner chunk), read together: one
    plan, and one row numbering for all of them in what `ranges` returns. Raw arrays of a
    local store are read in place from their mapped shard (`_mapped.py`)."""

    def __init__(self, *arrays: FlatArray, background: bool = True) -> None:
        inner = {a.inner for a in arrays}
        if len(inner) != 1 or len({a.shape for a in arrays}) != 1:
            raise IncompleteDatasetError(
                f"{arrays[0].where}: arrays {[a.path for a in arrays]} must share rows and chunking; "
                "re-write the dataset."
            )
        self.arrays = arrays
        self.decoded_nbytes = sum(a.decoded_nbytes for a in arrays)
        from ._mapped import MappedArray

        usable = all(MappedArray.usable(a) for a in arrays)
        self.mapped = [MappedArray(a, background) for a in arrays] if usable else None
        self._row_offs: np.ndarray | None = None

    @property
    def resident(self) -> bool:
        return self.arrays[0].resident

    def make_resident(self) -> None:
        for a in self.arrays:
            a.make_resident()

    def make_paged(self) -> bool:
        """Page every array (`FlatArray.make_paged`), or none; whether they are."""
        if all(a.pages is None and Pages.usable(a.chunk_nbytes) for a in self.arrays):
            for a in self.arrays:
                a.make_paged()
        return all(a.pages is not None for a in self.arrays)

    def _paged_ranges(self, lo: np.ndarray, hi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """`ranges` of paged arrays: in place inside `ChunkCache.reading`, else copied."""
        first = self.arrays[0]
        cache = first._cache
        needed, new_lo = first.plan(lo, hi)
        in_place = cache.reading_here  # the caller's reading() outlives this call
        with cache.reading():
            if all(a.held(needed) for a in self.arrays):
                bufs = [a.page_in(needed) for a in self.arrays]
            else:  # remote: the arrays' fetches in flight together
                bufs = _each(self.arrays, lambda a: a.page_in(needed))
            if in_place:
                return bufs, lo
            return [a.pages.copy(needed) for a in self.arrays], new_lo  # type: ignore[union-attr]

    def rows_in_place(self, lo: np.ndarray, hi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, int] | None:
        """(typed views of the arrays' mapped shards, (n_arrays, n_chunks) element offsets of
        their chunks, rows per chunk) to read rows [lo[i], hi[i]) in place with no copy, or
        None when the arrays are not mapped (`_mapped.mapped_rows`)."""
        if self.mapped is None:
            return None
        from ._mapped import mapped_rows, row_offsets

        views = mapped_rows(self.mapped, lo, hi)
        if views is None:
            return None
        if self._row_offs is None:  # (~1 MB for a 1 kb store's 37k chunks: once, not per batch)
            self._row_offs = row_offsets(self.mapped)
        return views, self._row_offs, self.arrays[0].inner[0]

    def ranges(self, lo: np.ndarray, hi: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """([data of each array], new_lo), as `FlatArray.ranges`."""
        lo = np.asarray(lo, np.int64).ravel()
        hi = np.asarray(hi, np.int64).ravel()
        if self.mapped is not None:
            from ._mapped import mapped_ranges

            return mapped_ranges(self.mapped, lo, hi)
        first = self.arrays[0]
        if first.pages is not None:
            return self._paged_ranges(lo, hi)
        if self.resident:
            if first._local is not None or all(a.complete for a in self.arrays):
                return [a.ensure_rows(lo, hi) for a in self.arrays], lo
            needed = first.plan(lo, hi)[0]
            if all(a.held(needed) for a in self.arrays):
                return [a.ensure_rows(lo, hi) for a in self.arrays], lo
            return _each(self.arrays, lambda a: a.ensure_rows(lo, hi)), lo
        needed, new_lo = first.plan(lo, hi)
        if first._local is not None or all(a.held(needed) for a in self.arrays):
            # all held (prefetched): reading them in threads only adds hand-offs and GIL
            # contention (measured 2.2 of 3.4 s of a chunk-aware epoch's batch time waiting on
            # the threads, benchmarks/remote.py); the threads pay when a round trip is due
            return [a.staged(needed) for a in self.arrays], new_lo
        return _each(self.arrays, lambda a: a.staged(needed)), new_lo


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _each(arrays: tuple[ShardedArray, ...], fn: Callable[[ShardedArray], np.ndarray]) -> list[np.ndarray]:
    """`[fn(a) for a in arrays]`, concurrently for a remote store (see `together`)."""
    return together(arrays[0], [lambda a=a: fn(a) for a in arrays])


def together(array: ShardedArray, calls: list[Callable[[], Any]]) -> list[Any]:
    """`[c() for c in calls]`; when `array`'s store is remote, in threads, so the byte ranges
    of independent reads (a track's starts, ends and values) are in flight together: one
    round trip, not one each. Each thread's requests still go through zarr's one event loop.
    One pool per process (a forked child has none of its parent's threads)."""
    if array._local is not None or len(calls) == 1:
        return [c() for c in calls]
    pool = _POOLS.get(os.getpid())
    if pool is None:
        pool = _POOLS[os.getpid()] = ThreadPoolExecutor(4, thread_name_prefix="gvl_zarr-fetch")
    return [f.result() for f in [pool.submit(c) for c in calls]]


class GridArray(ShardedArray):
    """A (region, sample, ...) array: values of (region, sample) pairs.

    Resident grids are held chunk-major, (region block, sample block, 8, 32, ...), so a
    decoded chunk is one contiguous 8 KiB copy: row-major, its 8 rows sat 80 KB apart (2,504
    samples) and each chunk's first copy faulted in 8 pages (~110 µs a chunk measured)."""

    def make_resident(self) -> None:
        super().make_resident()
        grid = self._loaded.shape[:2]  # type: ignore[union-attr]
        self._buffer = _lazy_buffer((*grid, *self.inner), self.dtype)
        per_pair = int(np.prod(self.inner[2:], dtype=np.int64))
        self._blocks = self._buffer.reshape(*grid, self.inner[0] * self.inner[1], per_pair)

    def _store_chunk(self, c: np.ndarray, chunk: np.ndarray) -> None:
        self._buffer[int(c[0]), int(c[1])] = chunk  # type: ignore[index]

    def take(self, regions: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """array[regions[i], samples[i]] for every i, shape (n, *rest)."""
        regions = np.asarray(regions, np.int64)
        samples = np.asarray(samples, np.int64)
        cr, cs = self.inner[0], self.inner[1]
        rest = self.shape[2:]
        if regions.size == 0:
            return np.empty((0, *rest), self.dtype)
        if self.resident:
            if not self._complete:
                zeros = np.zeros((len(regions), len(rest)), np.int64)
                self._ensure(np.concatenate([(regions // cr)[:, None], (samples // cs)[:, None], zeros], axis=1))
            out = np.empty((len(regions), self._blocks.shape[3]), self.dtype)
            take_grid(self._blocks, regions, samples, cr, cs, out)  # ~1 µs; fancy indexing ~12
            return out.reshape(len(regions), *rest)
        n_cs = -(-self.shape[1] // cs)
        code = (regions // cr) * n_cs + samples // cs
        needed, which = np.unique(code, return_inverse=True)
        zeros_t = (0,) * len(rest)
        arrays = self.chunks([(int(k // n_cs), int(k % n_cs), *zeros_t) for k in needed])
        staged = arrays[0][None] if len(arrays) == 1 else np.stack(arrays)
        return staged[which.ravel(), regions % cr, samples % cs]
