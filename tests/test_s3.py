"""Datasets on an S3-compatible object store: a moto server on loopback, read through s3fs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

import gvl_zarr as gvl
from _servers import S3Server
from conftest import FASTA, SAMPLES, TILES, VCF, bigwig_table, check_epoch
from gvl_zarr import _store
from gvl_zarr._remote_write import upload_steps

pytest.importorskip("s3fs")

R, S = np.arange(40) % 28, np.arange(40) % 6


def _same(a: gvl.Dataset, b: gvl.Dataset) -> None:
    assert a.samples == b.samples and a.shape == b.shape
    out_a, out_b = a[R, S], b[R, S]
    assert len(out_a) == len(out_b) == 2  # haplotypes and the track
    for x, y in zip(out_a, out_b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_open_s3_equals_local(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    remote = gvl.Dataset.open(s3_tiles, reference=FASTA, storage_options=s3.options, jitter=0)
    _same(remote, gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0))


def _write_args(tmp: Path) -> dict:
    return dict(
        bed=TILES,
        variants=VCF,
        bigwigs=gvl.BigWigs.from_table("bigwig", bigwig_table(tmp, SAMPLES)),
        length=2048,
        max_jitter=8,
        samples=SAMPLES,
        reference=FASTA,
        progress=False,
    )


@pytest.mark.filterwarnings("ignore:VCF.*symbolic ALT")
def test_write_to_s3_equals_local_write(s3: S3Server, tmp_path: Path) -> None:
    url = f"s3://{s3.bucket()}/written.gvl"
    gvl.write(url, **_write_args(tmp_path), storage_options=s3.options)
    gvl.write(tmp_path / "local.gvl", **_write_args(tmp_path))
    remote = gvl.Dataset.open(url, storage_options=s3.options, jitter=0)  # reference stored inside
    _same(remote, gvl.Dataset.open(tmp_path / "local.gvl", jitter=0))
    with pytest.raises(gvl.DatasetExistsError, match=url):
        gvl.write(url, **_write_args(tmp_path), storage_options=s3.options)
    gvl.write(url, **_write_args(tmp_path), storage_options=s3.options, overwrite=True)
    _same(gvl.Dataset.open(url, storage_options=s3.options, jitter=0), remote)


def test_interrupted_upload_never_opens_as_whole(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    fs = s3.filesystem()
    root = f"{s3.bucket()}/partial.gvl"
    steps = upload_steps(fs, tiles_dataset, root, replace=False)
    seen = []
    for step in steps:
        seen.append(step)
        if step != "complete":
            # killed here: every object but the final root zarr.json may be there
            with pytest.raises(gvl.IncompleteDatasetError, match="write failed or was interrupted"):
                gvl.Dataset.open(f"s3://{root}", reference=FASTA, storage_options=s3.options)
    assert seen == ["marker", "data", "complete"]
    gvl.Dataset.open(f"s3://{root}", reference=FASTA, storage_options=s3.options)


def test_transformed_track_on_s3(s3: S3Server, tiles_dataset: Path) -> None:
    url = f"s3://{s3.bucket()}/tiles.gvl"
    s3.upload(tiles_dataset, url)
    remote = gvl.Dataset.open(url, reference=FASTA, storage_options=s3.options, jitter=0)

    def double(ds_idx, r_idx, s_idx, tracks):
        return gvl.Ragged.from_offsets(tracks.data * 2, tracks.shape, tracks.offsets)

    remote = remote.write_transformed_track("double", "bigwig", double, progress=False)
    again = gvl.Dataset.open(url, reference=FASTA, storage_options=s3.options, jitter=0)
    assert again.available_tracks == ["bigwig", "double"]
    for ds in (remote, again):
        both = ds.with_settings(return_sequences=False, return_tracks=["bigwig", "double"])[R, S]
        np.testing.assert_array_equal(both[:, 1], both[:, 0] * 2)


def _with_fresh_stores(hap, track):
    """Batch outputs plus how many per-process filesystems this process has opened."""
    return hap, track, np.full(len(hap), len(_store._FRESH))


def test_dataloader_workers_on_s3(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    """Forked, persistent workers each open their own s3fs session (aiohttp is not fork-safe)."""
    remote = gvl.Dataset.open(
        s3_tiles,
        reference=FASTA,
        storage_options=s3.options,
        jitter=0,
        return_indices=True,
        cache_bytes="4MiB",
        transform=_with_fresh_stores,
    )
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    with pytest.warns(UserWarning, match="shuffle='chunks'"):  # random order over S3 is request-bound
        loader = remote.to_dataloader(batch_size=16, shuffle=True, num_workers=2, persistent_workers=True)
    for _ in range(2):
        seen = []
        for hap, track, fresh, idx, _r, _s in loader:
            want_hap, want_track = local[idx.numpy()]
            np.testing.assert_array_equal(hap.numpy(), want_hap.view(np.uint8))
            np.testing.assert_array_equal(track.numpy(), want_track)
            assert (fresh.numpy() == 1).all()  # the worker read through its own filesystem
            seen.append(idx.numpy())
        assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(len(local)))
    assert not _store._FRESH  # the parent kept its own


# ------------------------------------------------------------------------ obstore
def test_obstore_equals_local(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    """zarr's ObjectStore (obstore) reads what s3fs and the local folder read."""
    remote = gvl.Dataset.open(s3.object_store(s3_tiles), reference=FASTA, jitter=0, cache_bytes="256KiB")
    assert remote.remote and not remote.fork_safe and remote._data.name == s3_tiles
    _same(remote, gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0))


def test_dataloader_workers_on_obstore(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    """obstore's runtime does not survive fork: to_dataloader starts workers with spawn."""
    remote = gvl.Dataset.open(
        s3.object_store(s3_tiles), reference=FASTA, jitter=0, return_indices=True, cache_bytes="4MiB"
    )
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    loader = remote.to_dataloader(batch_size=16, shuffle="chunks", num_workers=2, persistent_workers=True)
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    for _ in range(2):
        check_epoch(loader, local)


def _read_in_child(ds: gvl.Dataset, out) -> None:
    try:
        ds[np.arange(len(ds))]
        out.put("read")
    except Exception as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_forked_reader_of_obstore_store_is_refused(s3: S3Server, s3_tiles: str) -> None:
    """A forked process reading an obstore store gets an error naming the fix (its request
    would otherwise never return)."""
    import multiprocessing

    remote = gvl.Dataset.open(s3.object_store(s3_tiles), reference=FASTA, preload=False, cache_bytes="64KiB")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(remote, out))
    child.start()
    try:
        said = out.get(timeout=60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert said.startswith("SettingsError") and "multiprocessing_context='spawn'" in said, said
    assert len(remote[np.arange(8)]) == 2  # the parent still reads


def test_random_order_over_the_network_points_to_chunks(s3: S3Server, s3_tiles: str, tiles_dataset: Path) -> None:
    """A uniformly random order over S3 is request-bound: to_dataloader says so once and names
    shuffle='chunks'; a local folder, a file:// mapper and the chunk-aware shuffle say nothing."""
    import warnings

    import fsspec

    for remote in (gvl.Dataset.open(s3_tiles, storage_options=s3.options), gvl.Dataset.open(s3.object_store(s3_tiles))):
        for shuffle in (True, "random"):
            with pytest.warns(UserWarning, match=r"~1% of local throughput.*shuffle='chunks'"):
                remote.to_dataloader(batch_size=8, shuffle=shuffle)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        remote.to_dataloader(batch_size=8, shuffle="chunks")
        for location in (tiles_dataset, fsspec.get_mapper(f"file://{tiles_dataset}")):
            gvl.Dataset.open(location).to_dataloader(batch_size=8, shuffle=True)


def test_obstore_errors(s3: S3Server, s3_tiles: str) -> None:
    bucket = s3.bucket()
    with pytest.raises(gvl.MissingFileError, match=r"bucket 'no-such-bucket' of s3://no-such-bucket/x\.gvl"):
        gvl.Dataset.open(s3.object_store("s3://no-such-bucket/x.gvl"))
    with pytest.raises(gvl.MissingFileError, match=rf"no gvl_zarr dataset at s3://{bucket}/nothing\.gvl"):
        gvl.Dataset.open(s3.object_store(f"s3://{bucket}/nothing.gvl"))
    with pytest.raises(gvl.RemoteUnreachableError, match=r"s3://bucket/x\.gvl.*endpoint given to the obstore store"):
        gvl.Dataset.open(s3.object_store("s3://bucket/x.gvl", endpoint="http://127.0.0.1:9"))
    requests.post(f"{s3.endpoint}/moto-api/reset-auth", data=b"0", timeout=10)  # check every signature
    try:
        with pytest.raises(gvl.RemoteAccessError, match=rf"access to {s3_tiles} was refused.*access_key_id"):
            gvl.Dataset.open(s3.object_store(s3_tiles, key="wrong"))
    finally:
        requests.post(f"{s3.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


# ------------------------------------------------------------------------ errors
def test_missing_bucket(s3: S3Server) -> None:
    with pytest.raises(gvl.MissingFileError, match=r"bucket 'no-such-bucket' of s3://no-such-bucket/x\.gvl"):
        gvl.Dataset.open("s3://no-such-bucket/x.gvl", storage_options=s3.options)
    with pytest.raises(gvl.MissingFileError, match="create it first"):
        gvl.write("s3://no-such-bucket/x.gvl", TILES, variants=VCF, storage_options=s3.options, progress=False)


def test_missing_dataset(s3: S3Server) -> None:
    url = f"s3://{s3.bucket()}/nothing.gvl"
    with pytest.raises(gvl.MissingFileError, match=rf"no gvl_zarr dataset at {url}"):
        gvl.Dataset.open(url, storage_options=s3.options)


def test_unreachable_endpoint() -> None:
    options = {
        "key": "k",
        "secret": "s",
        "client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-west-2"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    with pytest.raises(gvl.RemoteUnreachableError, match=r"s3://bucket/x\.gvl.*endpoint_url"):
        gvl.Dataset.open("s3://bucket/x.gvl", storage_options=options)


def test_wrong_credentials(s3: S3Server, s3_tiles: str) -> None:
    bad = {**s3.options, "key": "wrong", "secret": "wrong"}
    requests.post(f"{s3.endpoint}/moto-api/reset-auth", data=b"0", timeout=10)  # check every signature
    try:
        with pytest.raises(gvl.RemoteAccessError, match=rf"access to {s3_tiles} was refused.*storage_options"):
            gvl.Dataset.open(s3_tiles, storage_options=bad)
    finally:
        requests.post(f"{s3.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


def test_not_a_dataset(s3: S3Server) -> None:
    bucket = s3.bucket()
    fs = s3.filesystem()
    fs.pipe_file(f"{bucket}/other.zarr/zarr.json", json.dumps({"zarr_format": 3, "node_type": "group"}).encode())
    with pytest.raises(gvl.IncompleteDatasetError, match=rf"s3://{bucket}/other\.zarr"):
        gvl.Dataset.open(f"s3://{bucket}/other.zarr", storage_options=s3.options)
    fs.pipe_file(f"{bucket}/text.gvl/zarr.json", b"not json")
    with pytest.raises(gvl.IncompleteDatasetError, match=rf"s3://{bucket}/text\.gvl is not a gvl_zarr dataset"):
        gvl.Dataset.open(f"s3://{bucket}/text.gvl", storage_options=s3.options)


def test_newer_format_version(s3: S3Server, tiles_dataset: Path) -> None:
    url = f"s3://{s3.bucket()}/future.gvl"
    s3.upload(tiles_dataset, url)
    fs = s3.filesystem()
    meta = json.loads(fs.cat_file(f"{url[5:]}/zarr.json"))
    meta["attributes"]["format_version"] = 99
    fs.pipe_file(f"{url[5:]}/zarr.json", json.dumps(meta).encode())
    with pytest.raises(
        gvl.IncompleteDatasetError,
        match=rf"{url} has format_version 99, written by a newer gvl_zarr.*pip install -U gvl-zarr",
    ):
        gvl.Dataset.open(url, storage_options=s3.options)


def test_missing_remote_extra_is_named(monkeypatch: pytest.MonkeyPatch, s3: S3Server) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # `import s3fs` now raises ImportError
    with pytest.raises(gvl.MissingDependencyError, match=r"gvl-zarr\[remote\]"):
        gvl.Dataset.open("s3://bucket/x.gvl", storage_options=s3.options)
    with pytest.raises(gvl.MissingDependencyError, match=r"gvl-zarr\[remote\]"):
        gvl.write("s3://bucket/x.gvl", TILES, variants=VCF, storage_options=s3.options, progress=False)


@pytest.mark.filterwarnings("ignore:VCF.*symbolic ALT")
def test_cli_writes_to_s3_with_storage_options(s3: S3Server, tmp_path: Path, capsys) -> None:
    """`gvl-zarr write s3://… --storage-options JSON` equals the Python write; bad JSON is named."""
    from gvl_zarr.cli import main

    url = f"s3://{s3.bucket()}/cli.gvl"
    table = bigwig_table(tmp_path, SAMPLES)
    (tmp_path / "samples.txt").write_text("\n".join(SAMPLES) + "\n")
    args = ["write", url, TILES, "--variants", VCF, "--bigwig-table", f"bigwig={table}", "--length", "2048"]
    args += ["--max-jitter", "8", "--samples", str(tmp_path / "samples.txt"), "--reference", FASTA, "--quiet"]
    assert main([*args, "--storage-options", json.dumps(s3.options)]) == 0
    gvl.write(tmp_path / "local.gvl", **_write_args(tmp_path))
    _same(
        gvl.Dataset.open(url, storage_options=s3.options, jitter=0), gvl.Dataset.open(tmp_path / "local.gvl", jitter=0)
    )
    assert main([*args, "--storage-options", "{anon: true"]) == 2
    assert "--storage-options must be a JSON object" in capsys.readouterr().err
