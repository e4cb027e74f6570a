"""Datasets read from a real HTTP server on loopback and from the other fsspec locations
(memory://, file://, a mapper, a zarr Store): every one reads as the local store does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from _servers import HttpServer, serve_http
from conftest import FASTA

pytest.importorskip("aiohttp")

R, S = np.arange(40) % 28, np.arange(40) % 6


@pytest.fixture
def http(tiles_dataset: Path) -> Iterator[HttpServer]:
    yield from serve_http(tiles_dataset.parent)


def _same(a: gvl.Dataset, b: gvl.Dataset) -> None:
    assert a.samples == b.samples and a.shape == b.shape
    out_a, out_b = a[R, S], b[R, S]
    assert len(out_a) == len(out_b) == 2
    for x, y in zip(out_a, out_b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_open_over_http_equals_local(http: HttpServer, tiles_dataset: Path) -> None:
    remote = gvl.Dataset.open(f"{http.url}/{tiles_dataset.name}", reference=FASTA, jitter=0)
    _same(remote, gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0))
    assert any(rng for _, _, rng in http.log)  # chunks came by byte range, not whole shards


def test_open_is_one_metadata_request(http: HttpServer, tiles_dataset: Path) -> None:
    """Consolidated metadata: the root zarr.json holds every array's metadata, so open reads
    one metadata object (48 requests before it), then the 8 per-region arrays concurrently."""
    gvl.Dataset.open(f"{http.url}/{tiles_dataset.name}", preload=False)
    metadata = [path for _, path, _ in http.log if path.endswith("zarr.json")]
    assert metadata == [f"/{tiles_dataset.name}/zarr.json"]
    assert len(http.log) == 1 + 8  # root metadata, samples and the 7 region arrays


def test_memory_file_mapper_and_store_equal_local(tiles_dataset: Path) -> None:
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    mem_root = f"/gvl-{uuid.uuid4().hex[:8]}/tiles.gvl"
    fsspec.filesystem("memory").put(str(tiles_dataset), mem_root, recursive=True)
    for location in (
        f"memory://{mem_root}",
        f"file://{tiles_dataset}",
        fsspec.get_mapper(f"memory://{mem_root}"),
        fsspec.get_mapper(str(tiles_dataset)),
        zarr.storage.LocalStore(tiles_dataset, read_only=True),
        zarr.storage.FsspecStore.from_url(f"memory://{mem_root}", read_only=True),
    ):
        _same(gvl.Dataset.open(location, reference=FASTA, jitter=0), local)


def test_missing_remote_dataset_is_a_clear_error(http: HttpServer) -> None:
    with pytest.raises(gvl.MissingFileError, match=r"nothing\.gvl"):
        gvl.Dataset.open(f"{http.url}/nothing.gvl")


def test_unreachable_http_host() -> None:
    with pytest.raises(gvl.RemoteUnreachableError, match=r"http://127\.0\.0\.1:9/x\.gvl"):
        gvl.Dataset.open("http://127.0.0.1:9/x.gvl")


def test_url_that_is_not_a_dataset(http: HttpServer, tiles_dataset: Path) -> None:
    url = f"{http.url}/{tiles_dataset.name}/regions"  # a zarr group, but not a dataset root
    with pytest.raises(gvl.IncompleteDatasetError, match=rf"{url} is not a complete gvl_zarr dataset"):
        gvl.Dataset.open(url)
