"""The dask client of a partitioned write (`write(..., client=)`)."""

from __future__ import annotations

from typing import Any

from .errors import SettingsError


def resolve_client(client: Any) -> Any:
    """`client` as given; for "auto", the active `distributed` client, or None (write here)."""
    if client is None:
        return None
    if isinstance(client, str):
        if client != "auto":
            raise SettingsError(f'client must be a distributed.Client, "auto" or None, got {client!r}.')
        try:
            from distributed import default_client
        except ImportError:
            return None
        try:
            return default_client()
        except ValueError:  # no client is active: write in this process
            return None
    if not (hasattr(client, "submit") and hasattr(client, "gather")):
        raise SettingsError(f"client must be a distributed.Client, got {type(client).__name__}.")
    return client
