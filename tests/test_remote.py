"""Datasets read from a real HTTP server on loopback and from the other fsspec locations
(memory://, file://, a mapper, a zarr Store): every one reads as the local store does."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from _servers import HttpServer, self_signed_certificate, serve_http
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


def _obstore_http(url: str):
    """`url` read through obstore's HTTPStore (zarr's ObjectStore), retrying a failure once."""
    from obstore.store import HTTPStore

    return zarr.storage.ObjectStore(
        HTTPStore.from_url(url, retry_config={"max_retries": 1}, client_options={"allow_http": True}), read_only=True
    )


def test_obstore_over_http_equals_local(http: HttpServer, tiles_dataset: Path, tmp_path: Path) -> None:
    """obstore's HTTPStore reads what the local folder holds; its disk cache serves a later open."""
    url = f"{http.url}/{tiles_dataset.name}"
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    remote = gvl.Dataset.open(_obstore_http(url), reference=FASTA, jitter=0)
    assert remote._data.name == url
    _same(remote, local)
    opts = dict(reference=FASTA, jitter=0, preload=False, cache_bytes=0, disk_cache=tmp_path / "cache")
    http.log.clear()
    _same(gvl.Dataset.open(_obstore_http(url), **opts), local)
    assert [r for r in http.log if r[2]]  # byte ranges fetched
    http.log.clear()
    again = gvl.Dataset.open(_obstore_http(url), **opts)
    _same(again, local)
    assert not [r for r in http.log if r[2]] and again._data.cache.disk.hits > 0


def test_server_errors_are_named(http: HttpServer, tiles_dataset: Path) -> None:
    """A server answering 500 (after the client's retries) is named with the fix, at open
    and while reading chunks, through fsspec and through obstore."""
    url = f"{http.url}/{tiles_dataset.name}"
    failed = rf"the server of {url} failed to answer .*try again later"
    for location in (lambda: url, lambda: _obstore_http(url)):
        http.server.failing.add(f"/{tiles_dataset.name}/zarr.json")
        try:
            with pytest.raises(gvl.RemoteUnreachableError, match=failed):
                gvl.Dataset.open(location())
        finally:
            http.server.failing.clear()
        ds = gvl.Dataset.open(location(), preload=False, cache_bytes="64KiB")
        http.server.failing.add(f"/{tiles_dataset.name}/tracks/")
        try:
            with pytest.raises(gvl.RemoteUnreachableError, match=failed):
                ds[R, S]
        finally:
            http.server.failing.clear()


def test_url_that_is_not_a_dataset(http: HttpServer, tiles_dataset: Path) -> None:
    url = f"{http.url}/{tiles_dataset.name}/regions"  # a zarr group, but not a dataset root
    with pytest.raises(gvl.IncompleteDatasetError, match=rf"{url} is not a complete gvl_zarr dataset"):
        gvl.Dataset.open(url)


def test_disk_cache_serves_later_opens_and_stays_bounded(http: HttpServer, tiles_dataset: Path, tmp_path: Path) -> None:
    url = f"{http.url}/{tiles_dataset.name}"
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    opts = dict(reference=FASTA, jitter=0, preload=False, cache_bytes=0, disk_cache=tmp_path / "cache")
    first = gvl.Dataset.open(url, **opts)
    _same(first, local)
    fetched = [r for r in http.log if r[2]]
    # every range missed on disk was fetched; adjacent ranges of a shard share one request
    assert fetched and first._data.cache.disk.misses >= len(fetched)
    http.log.clear()
    second = gvl.Dataset.open(url, **opts)  # a later run: chunks come from disk
    _same(second, local)
    assert not [r for r in http.log if r[2]] and second._data.cache.disk.hits > 0
    # a damaged cache file is fetched again, not returned
    files = sorted((tmp_path / "cache").rglob("*"), key=lambda p: p.stat().st_size)
    for f in files[-3:]:
        f.write_bytes(b"\0" * f.stat().st_size)
    _same(gvl.Dataset.open(url, **opts), local)
    # a bound smaller than the chunks read keeps the folder under it
    bound = 64 * 1024
    small = gvl.Dataset.open(url, **{**opts, "disk_cache": tmp_path / "small", "disk_cache_bytes": bound})
    _same(small, local)
    assert 0 < sum(f.stat().st_size for f in (tmp_path / "small").rglob("*") if f.is_file()) <= bound


def test_batch_chunks_are_fetched_concurrently(http: HttpServer, tiles_dataset: Path) -> None:
    """The byte ranges a batch needs from one array are requested together, not in turn."""
    ds = gvl.Dataset.open(f"{http.url}/{tiles_dataset.name}", reference=FASTA, jitter=0, preload=False, cache_bytes=0)
    http.server.delay = 0.05
    http.log.clear()
    http.server.max_inflight = 0
    ds[np.arange(0, 28, 3), np.arange(10) % 6]
    ranges = [r for r in http.log if r[2]]
    assert len(ranges) >= 8
    assert http.server.max_inflight >= 3  # adjacent chunks of a shard share one request


def test_open_over_https_equals_local(tiles_dataset: Path, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    for server in serve_http(tiles_dataset.parent, tls=(cert, key)):
        url = f"{server.url}/{tiles_dataset.name}"
        assert url.startswith("https://")
        remote = gvl.Dataset.open(url, reference=FASTA, jitter=0, storage_options={"ssl": trust})
        _same(remote, gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0))


def test_missing_aiohttp_names_the_extra(monkeypatch: pytest.MonkeyPatch, http: HttpServer) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # `import aiohttp` now raises ImportError
    with pytest.raises(gvl.MissingDependencyError, match=r"'aiohttp'.*gvl-zarr\[remote\]"):
        gvl.Dataset.open(f"{http.url}/tiles.gvl")


def test_track_arrays_are_fetched_together(http: HttpServer, tiles_dataset: Path) -> None:
    """A track's starts, ends and values chunks are requested in one round trip."""
    url = f"{http.url}/{tiles_dataset.name}"
    ds = gvl.Dataset.open(url, jitter=0, preload=False, cache_bytes=0, return_sequences=False)
    http.server.delay = 0.2
    http.log.clear()
    http.server.max_inflight = 0
    ds[5, 2]  # one instance: one chunk (and one shard index) per interval array
    assert {path.rsplit("/", 3)[1] for _, path, rng in http.log if rng} >= {"starts", "ends", "values"}
    assert http.server.max_inflight >= 3


def test_track_added_without_consolidating_still_opens(tiles_dataset: Path, tmp_path: Path) -> None:
    """Consolidated metadata that predates a track (added by code that did not consolidate
    again) is not trusted: the store is read array by array."""
    import shutil

    from gvl_zarr._store import consolidate

    copy = tmp_path / "copy.gvl"
    shutil.copytree(tiles_dataset, copy)
    stale = (copy / "zarr.json").read_bytes()
    ds = gvl.Dataset.open(copy, reference=FASTA, jitter=0)
    ds = ds.write_transformed_track("twice", "bigwig", lambda d, r, s, t: t.data * 2, progress=False)
    consolidate(copy)
    fresh = json.loads((copy / "zarr.json").read_bytes())
    meta = json.loads(stale)
    meta["attributes"] = fresh["attributes"]  # lists the new track; arrays unknown to the consolidated metadata
    (copy / "zarr.json").write_text(json.dumps(meta))
    again = gvl.Dataset.open(copy, reference=FASTA, jitter=0, return_sequences=False, return_tracks=["bigwig", "twice"])
    both = again[R, S]
    np.testing.assert_array_equal(both[:, 1], both[:, 0] * 2)
