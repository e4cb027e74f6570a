"""Opening a store's root group, with network and object-store failures turned into
gvl_zarr errors that name the URL and the fix (never a raw aiohttp/botocore traceback)."""

from __future__ import annotations

import asyncio
import re
import warnings
from typing import Any

import zarr

from ._store import as_store, is_object_store
from .errors import GvlError, IncompleteDatasetError, MissingFileError, RemoteAccessError, RemoteUnreachableError


def open_root(location: Any, name: str, storage_options: dict[str, Any] | None, *, mode: str = "r") -> zarr.Group:
    """The root group of a dataset (its consolidated metadata, when written with it, comes in
    the same request as the root attributes)."""
    store = None
    try:
        store = as_store(location, read_only=mode == "r", storage_options=storage_options)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            group = zarr.open_group(store, mode=mode, zarr_format=3)
            if not _consolidated_is_current(group):
                group = zarr.open_group(store, mode=mode, zarr_format=3, use_consolidated=False)
            return group
    except GvlError:
        raise
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as exc:
        raise (
            translate(exc, name)
            or _missing_bucket(store, name)
            or MissingFileError(
                f"no gvl_zarr dataset at {name} (no root zarr.json there); check the path or URL, "
                "or write one there with gvl.write."
            )
        ) from None
    except Exception as exc:
        error = translate(exc, name)
        if error is not None:
            raise error from None
        if isinstance(exc, (ValueError, KeyError, TypeError)):
            raise IncompleteDatasetError(
                f"{name} is not a gvl_zarr dataset ({exc}); open a folder or URL written by gvl.write."
            ) from None
        raise


def _consolidated_is_current(group: zarr.Group) -> bool:
    """False when the root lists a track whose arrays the consolidated metadata lacks: the
    track was added by code that did not consolidate again. The store is then read
    array by array (one request per array's metadata) instead of failing."""
    consolidated = group.metadata.consolidated_metadata
    if consolidated is None:
        return True
    keys = consolidated.flattened_metadata
    return all(f"tracks/{name}/offsets" in keys or f"tracks/{name}" in keys for name in group.attrs.get("tracks", []))


def _missing_bucket(store: Any, name: str) -> MissingFileError | None:
    """An error naming the bucket when an S3 store's bucket itself does not exist."""
    if is_object_store(store):
        return _missing_obstore_bucket(store, name)
    fs = getattr(store, "fs", None)
    if fs is None or "s3" not in (fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)):
        return None
    bucket = store.path.split("/", 1)[0]
    try:
        exists = zarr.core.sync.sync(fs._exists(bucket))
    except Exception:
        return None
    return None if exists else _bucket_error(name)


def _missing_obstore_bucket(store: Any, name: str) -> MissingFileError | None:
    """As `_missing_bucket`, for an obstore S3 store: listing a missing bucket answers
    NoSuchBucket, where a GET of a key in it only answered "not found"."""
    if type(store.store).__name__ != "S3Store":
        return None
    import obstore

    try:
        obstore.list(store.store, chunk_size=1).collect()
    except Exception as exc:
        if "NoSuchBucket" in str(exc):
            return _bucket_error(name)
    return None


def _bucket_error(name: str) -> MissingFileError:
    bucket = name.split("://", 1)[-1].split("/", 1)[0]
    return MissingFileError(
        f"bucket {bucket!r} of {name} does not exist; check the bucket name (and the endpoint), "
        "or create the bucket before writing to it."
    )


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and exc not in out:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return out


def translate(exc: BaseException, name: str) -> GvlError | None:
    """A gvl_zarr error for a failure of the network or the object store, else None.

    Classes are matched by name so none of aiohttp, botocore and obstore has to be installed."""
    if "://" not in name or name.startswith("file://") or name.startswith("LocalStore"):
        return None  # a local folder: its OSErrors speak for themselves
    for e in _chain(exc):
        cls = {c.__name__ for c in type(e).__mro__}
        text = str(e)
        rust = type(e).__module__.startswith("obstore")
        if (
            cls
            & {
                "ClientConnectorError",
                "ServerDisconnectedError",
                "EndpointConnectionError",
                "ConnectTimeoutError",
            }
            or (cls & {"ConnectionRefusedError", "ConnectionError", "TimeoutError"} and "Permission" not in text)
            or (rust and any(m in text for m in _OBSTORE_UNREACHABLE))
        ):
            endpoint = (
                "the endpoint given to the obstore store"
                if rust
                else "storage_options['client_kwargs']['endpoint_url']"
            )
            return RemoteUnreachableError(
                f"cannot reach the server of {name} ({type(e).__name__}: {_first_line(text)}); check the URL "
                f"(and {endpoint} for S3-compatible stores) and the network."
            )
        if isinstance(e, asyncio.TimeoutError):
            return RemoteUnreachableError(
                f"the server of {name} did not answer in time; check the URL and the network."
            )
        if (
            cls & {"NoCredentialsError", "PartialCredentialsError", "PermissionDeniedError", "UnauthenticatedError"}
            or isinstance(e, PermissionError)
            or any(
                code in text for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden")
            )
        ):
            how = (
                "S3Store(..., access_key_id=..., secret_access_key=...) or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or skip_signature=True for a public bucket"
                if rust
                else "Dataset.open(url, storage_options={'key': ..., 'secret': ...}) or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or a profile, or storage_options={'anon': True} for a public bucket"
            )
            return RemoteAccessError(
                f"access to {name} was refused ({type(e).__name__}: {_first_line(text)}); pass valid "
                f"credentials, e.g. {how}."
            )
        if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
            return _bucket_error(name)
        if _SERVER_FAILED.search(text):
            return RemoteUnreachableError(
                f"the server of {name} failed to answer ({type(e).__name__}: {_first_line(text)}); it may be "
                "overloaded or down (the request was already retried): try again later, or check the server."
            )
    return None


_SERVER_FAILED = re.compile(
    r"status code: 5\d\d|\b5\d\d, message=|\(5\d\d\)|Internal Server Error|Service Unavailable|SlowDown"
)
"""An HTTP 5xx answer, as obstore (`status code: 500`), aiohttp (`500, message=`), botocore
(`(500)`) and s3fs (`Internal Server Error`) word it."""


_OBSTORE_UNREACHABLE = ("error sending request", "Connection refused", "dns error", "timed out", "connect error")
"""What obstore's GenericError says when no server answered (after its retries)."""


def _first_line(text: str) -> str:
    """The message on one line, without obstore's multi-line "Debug source" dump."""
    return " ".join(text.split("\n\nDebug source", 1)[0].split())
