"""Turn a path, URL, fsspec mapper or zarr Store into a zarr Store, once."""

from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

import zarr
from zarr.abc.store import Store

from .errors import MissingDependencyError, SettingsError

_PROTOCOL_PACKAGES = {"s3": ("s3fs",), "s3a": ("s3fs",), "http": ("aiohttp",), "https": ("aiohttp",)}
"""Packages fsspec needs for a protocol, all installed by the `gvl-zarr[remote]` extra."""


def is_remote(location: Any) -> bool:
    """Whether `location` is a URL other than file:// (so not a local folder)."""
    if isinstance(location, os.PathLike):
        return False
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def protocol(url: str) -> str:
    return url.split("://", 1)[0].split("::")[-1].lower()


def require_protocol(url: str) -> None:
    """Raise `MissingDependencyError` naming the extra when `url`'s protocol lacks its package."""
    for package in _PROTOCOL_PACKAGES.get(protocol(url), ()):
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise MissingDependencyError(
                f"opening {url} needs the Python package {package!r}, which is not installed; "
                "install the remote extra: pip install 'gvl-zarr[remote]'."
            ) from exc


S3_CONNECTIONS = 64
"""Connections an S3 filesystem may hold open at once, unless `storage_options` set
`config_kwargs={"max_pool_connections": n}`. botocore's default of 10 lets a prefetch wave of
a hundred byte ranges through ten at a time, one round trip each."""


def _s3_options(options: dict[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    config = dict(options.get("config_kwargs") or {})
    config.setdefault("max_pool_connections", S3_CONNECTIONS)
    options["config_kwargs"] = config
    return options


def as_store(location: Any, *, read_only: bool = True, storage_options: dict[str, Any] | None = None) -> Store:
    """A zarr Store for a local path, an fsspec URL (http://, s3://, …), a mapper or a Store.

    `storage_options` go to the fsspec filesystem of a URL (credentials, endpoint, …)."""
    if isinstance(location, Store):
        return location
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if isinstance(location, str):
        if is_remote(location):
            require_protocol(location)
            from zarr.storage import FsspecStore

            if protocol(location) in ("s3", "s3a"):
                storage_options = _s3_options(storage_options)

            return FsspecStore.from_url(location, storage_options=storage_options, read_only=read_only)
        return zarr.storage.LocalStore(location.removeprefix("file://"), read_only=read_only)
    if hasattr(location, "fs") and hasattr(location, "root"):  # fsspec FSMap
        from zarr.storage import FsspecStore

        return FsspecStore.from_mapper(location, read_only=read_only)
    raise TypeError(
        f"cannot open a dataset from {type(location).__name__}; pass a path, a URL, an fsspec mapper or a zarr Store."
    )


_OBSTORE_SCHEMES = {"S3Store": "s3", "GCSStore": "gs", "AzureStore": "az", "MemoryStore": "memory"}


def is_object_store(store: Any) -> bool:
    """Whether `store` is zarr's `ObjectStore` (obstore, Rust). Its tokio runtime is shared by
    the process and does not survive fork(): a forked child's first request never returns."""
    from zarr.storage import ObjectStore

    return isinstance(store, ObjectStore)


def over_network(store: Any) -> bool:
    """Whether reading `store` makes network requests (not a local folder or memory)."""
    if isinstance(store, (zarr.storage.LocalStore, zarr.storage.MemoryStore)):
        return False
    if is_object_store(store):
        return type(store.store).__name__ not in ("LocalStore", "MemoryStore")
    fs = getattr(store, "fs", None)
    if fs is None:
        return True
    fs = getattr(fs, "sync_fs", fs)  # fsspec's AsyncFileSystemWrapper around a sync filesystem
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return not set(protocols) & {"file", "local", "memory"}


def _describe_object_store(store: Any) -> str:
    """`s3://bucket/prefix` (etc.) for an obstore-backed zarr store."""
    inner = store.store
    kind = type(inner).__name__
    prefix = str(getattr(inner, "prefix", None) or "").strip("/")
    config = getattr(inner, "config", None) or {}
    if kind == "HTTPStore":
        return str(getattr(inner, "url", repr(inner))).rstrip("/") + (f"/{prefix}" if prefix else "")
    if kind == "LocalStore":
        return f"file://{prefix}"
    root = config.get("bucket") or config.get("container_name") or ""
    scheme = _OBSTORE_SCHEMES.get(kind)
    if scheme is None:
        return repr(inner)
    return f"{scheme}://" + "/".join(p for p in (root, prefix) if p)


def describe(location: Any) -> str:
    """A short human name of a location, for messages."""
    if isinstance(location, (str, os.PathLike)):
        return os.fspath(location)
    if is_object_store(location):
        return _describe_object_store(location)
    fs, root = getattr(location, "fs", None), getattr(location, "root", None) or getattr(location, "path", None)
    if fs is not None and root is not None:  # fsspec mapper or FsspecStore
        proto = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        return f"{proto}://{root}"
    return repr(location)


_FRESH: dict[tuple[int, int], Store] = {}


def for_this_process(store: Store, opened_in: int) -> Store:
    """`store` (opened in process `opened_in`), or in a forked child an equivalent
    FsspecStore on a fresh filesystem instance, one per store and process.

    aiohttp sessions (s3fs, HTTP) belong to the event loop of the process that made them, and
    a forked DataLoader worker runs a new loop (zarr and fsspec reset theirs after a fork);
    so each process reopens the filesystem from its `storage_options` instead of reusing the
    parent's connections. An obstore-backed store cannot be reopened in a forked child (its
    runtime is gone there and a request would wait forever): that raises `SettingsError`."""
    from zarr.storage import FsspecStore

    if opened_in == os.getpid():
        return store
    if is_object_store(store):
        raise SettingsError(
            f"{describe(store)} is read through obstore, whose runtime does not survive fork(): a "
            "forked process (a DataLoader worker started with fork) cannot read it. Use "
            "ds.to_dataloader(..., num_workers=n), which starts workers with 'spawn' for such "
            "stores, or pass multiprocessing_context='spawn' (or 'forkserver') to your DataLoader."
        )
    if not isinstance(store, FsspecStore) or not getattr(store.fs, "async_impl", False):
        return store
    if hasattr(store.fs, "sync_fs"):  # fsspec's AsyncFileSystemWrapper (file:// mappers): it
        return store  # runs a sync filesystem in threads and holds no connection of a loop
    key = (id(store), os.getpid())
    fresh = _FRESH.get(key)
    if fresh is None:
        fs = store.fs
        new_fs = type(fs)(**{**fs.storage_options, "asynchronous": True, "skip_instance_cache": True})
        fresh = _FRESH[key] = FsspecStore(fs=new_fs, path=store.path, read_only=store.read_only)
    return fresh


def consolidate(location: Any) -> None:
    """Write the metadata of every array into the root `zarr.json` (zarr's consolidated
    metadata), so opening a remote store is one request instead of one per array. zarr warns
    that v3 consolidated metadata is not yet in the spec; zarr-python reads and writes it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        zarr.consolidate_metadata(as_store(location, read_only=False), zarr_format=3)
