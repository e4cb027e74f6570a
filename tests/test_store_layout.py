"""The format-2 store: sharded checksummed chunks, the reference inside, the cache budget."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from conftest import DATA, FASTA, SAMPLES, TILES, bigwig_table


@pytest.fixture(scope="module")
def with_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 28 tiles, 6 samples, length 4096, max_jitter 64, one track, reference stored."""
    path = tmp_path_factory.mktemp("ref") / "with_ref.gvl"
    table = bigwig_table(path.parent, SAMPLES)
    gvl.write(
        path,
        TILES,
        variants=str(DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz"),
        bigwigs=gvl.BigWigs.from_table("bigwig", table),
        length=4096,
        max_jitter=64,
        samples=SAMPLES,
        reference=FASTA,
        progress=False,
    )
    return path


def test_stored_reference_gives_the_same_bytes_as_the_fasta(with_reference: Path) -> None:
    stored = gvl.Dataset.open(with_reference, fixed_jitter=True)
    external = gvl.Dataset.open(with_reference, reference=FASTA, fixed_jitter=True)
    assert stored.has_reference
    for mode in ("haplotypes", "reference"):
        a = stored.with_settings(return_sequences=mode)[:, :]
        b = external.with_settings(return_sequences=mode)[:, :]
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    # negative strand and jitter go through the same windows
    rc = stored.with_settings(rc_neg=True, jitter=64)[:, :2]
    rc_ext = external.with_settings(rc_neg=True, jitter=64)[:, :2]
    np.testing.assert_array_equal(rc[0], rc_ext[0])


def test_open_without_fasta_reads_no_region_data(with_reference: Path) -> None:
    """Opening decodes nothing but the per-region table: no data chunk enters the cache
    (its background warm-up reads only shard indexes, `_warm`)."""
    from gvl_zarr import _warm

    t0 = time.perf_counter()
    ds = gvl.Dataset.open(with_reference)
    opened = time.perf_counter() - t0
    for thread in _warm._threads:
        thread.join(30)
    held = list(ds._data.cache._items)
    assert all(key[1] == "index" for key in held), held
    assert ds.cache_info()["bytes_decoded"] == sum(ds._data.cache._items[k].nbytes for k in held)
    assert ds.settings.return_sequences == "haplotypes"
    assert opened < 30  # sanity only; timings live in benchmarks/
    ds[0, 0]
    assert ds.cache_info()["chunks"] > 0


def test_store_without_reference_asks_for_one(tiles_dataset: Path) -> None:
    ds = gvl.Dataset.open(tiles_dataset)
    assert not ds.has_reference and ds.settings.return_sequences is None
    with pytest.raises(gvl.SettingsError, match=r"reference=FASTA"):
        ds.with_settings(return_sequences="haplotypes")


def test_arrays_are_sharded_with_checksummed_inner_chunks(with_reference: Path) -> None:
    g = zarr.open_group(with_reference, mode="r")
    for path in ("genotypes/variant_index", "genotypes/offsets", "reference/sequence", "tracks/bigwig/values"):
        (codec,) = g[path].metadata.codecs
        assert isinstance(codec, zarr.codecs.ShardingCodec), path
        assert isinstance(codec.codecs[-1], zarr.codecs.Crc32cCodec), path
    assert g.attrs["format_version"] == 2 and g.attrs["has_reference"]


def test_old_format_store_is_refused_with_the_fix() -> None:
    with pytest.raises(gvl.IncompleteDatasetError, match=r"format_version 1.*re-write it with gvl\.write"):
        gvl.Dataset.open(DATA / "format1_store.zarr")


def test_corrupted_chunk_fails_loudly(with_reference: Path, tmp_path: Path) -> None:
    copy = tmp_path / "damaged.gvl"
    shutil.copytree(with_reference, copy)
    shard = copy / "genotypes" / "variant_index" / "c" / "0"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF  # one flipped byte inside the first inner chunk
    shard.write_bytes(bytes(data))
    ds = gvl.Dataset.open(copy)
    with pytest.raises(gvl.DamagedStoreError, match=r"variant_index.*checksum"):
        ds[:, :]


def test_missing_shard_fails_loudly(with_reference: Path, tmp_path: Path) -> None:
    copy = tmp_path / "missing.gvl"
    shutil.copytree(with_reference, copy)
    (copy / "reference" / "sequence" / "c" / "0").unlink()
    ds = gvl.Dataset.open(copy)
    with pytest.raises(gvl.DamagedStoreError, match=r"reference/sequence.*missing"):
        ds[0, 0]


def test_truncated_shard_fails_loudly(with_reference: Path, tmp_path: Path) -> None:
    copy = tmp_path / "truncated.gvl"
    shutil.copytree(with_reference, copy)
    shard = copy / "tracks" / "bigwig" / "offsets" / "c" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:50])
    ds = gvl.Dataset.open(copy)
    with pytest.raises(gvl.DamagedStoreError, match=r"tracks/bigwig/offsets"):
        ds[0, 0]


def test_cache_budget_from_argument_and_environment(with_reference: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert gvl.Dataset.open(with_reference).cache_info()["budget"] == 1 << 30
    assert gvl.Dataset.open(with_reference, cache_bytes="64MiB").cache_info()["budget"] == 64 << 20
    monkeypatch.setenv("GVL_ZARR_CACHE_BYTES", "2GB")
    assert gvl.Dataset.open(with_reference).cache_info()["budget"] == 2 * 10**9
    monkeypatch.setenv("GVL_ZARR_CACHE_BYTES", "lots")
    with pytest.raises(gvl.SettingsError, match=r"GVL_ZARR_CACHE_BYTES='lots'"):
        gvl.Dataset.open(with_reference)
    with pytest.raises(gvl.SettingsError, match=r"cache_bytes=-1"):
        gvl.Dataset.open(with_reference, cache_bytes=-1)


def test_zero_budget_still_reads_correctly(with_reference: Path) -> None:
    """With no cache at all every batch decodes what it needs and nothing is kept."""
    none = gvl.Dataset.open(with_reference, cache_bytes=0, fixed_jitter=True)
    full = gvl.Dataset.open(with_reference, fixed_jitter=True)
    for a, b in zip(none[:, :], full[:, :], strict=True):
        np.testing.assert_array_equal(a, b)
    assert none.cache_info()["nbytes"] == 0 and none.cache_info()["chunks"] == 0


def test_format_doc_lists_every_array(with_reference: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "format.md").read_text()
    g = zarr.open_group(with_reference, mode="r")
    paths = []
    stack = [("", g)]
    while stack:
        prefix, grp = stack.pop()
        paths += [f"{prefix}{k}" for k, _ in grp.arrays()]
        stack += [(f"{prefix}{k}/", sg) for k, sg in grp.groups()]
    for p in paths:
        generic = p.replace("tracks/bigwig/", "tracks/<name>/")
        if generic.startswith("regions/columns/"):
            generic = "regions/columns/<column>"
        assert f"`{generic}`" in doc, f"docs/format.md does not describe {generic}"
    assert json.dumps(g.attrs["format_version"]) in doc


def test_shards_written_by_gvl_zarr_are_what_zarr_writes(tmp_path: Path) -> None:
    """The writer encodes flat shards itself (30× faster than zarr 3.1 here); the bytes must
    equal zarr's own encoding of the same array, and zarr must read them back."""
    from gvl_zarr import schema
    from gvl_zarr._arrays import compressors_for, flat_chunks, write_shards

    rng = np.random.default_rng(3)
    for spec, data in (
        (schema.GENOTYPES[1], rng.integers(0, 6000, 3_000_000).astype(np.int32)),
        (schema.track_specs("t")[3], rng.random(1_234_567).astype(np.float32)),  # raw
        (schema.track_specs("t")[1], rng.integers(0, 2**31 - 1, 5_000).astype(np.int32)),  # raw
        (schema.REFERENCE, rng.integers(65, 90, 100_000).astype(np.uint8)),
    ):
        inner, shard = flat_chunks(len(data), data.dtype.itemsize, spec.dims[0])
        stores = []
        for name in ("ours", "zarrs"):
            arr = zarr.create_array(
                tmp_path / name / spec.path, shape=data.shape, dtype=data.dtype, chunks=inner, shards=shard,
                compressors=compressors_for(spec), config={"write_empty_chunks": True},
            )  # fmt: skip
            if name == "ours":
                write_shards(arr, 0, data)
            else:
                arr[...] = data
            stores.append(tmp_path / name / spec.path)
        ours, theirs = (sorted(p.rglob("c/*")) for p in stores)
        assert [p.name for p in ours] == [p.name for p in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert a.read_bytes() == b.read_bytes(), (spec.path, a.name)
        np.testing.assert_array_equal(zarr.open_array(stores[0], mode="r")[:], data)


def test_grid_shards_written_by_gvl_zarr_are_what_zarr_writes(tmp_path: Path) -> None:
    """Offsets grids are encoded by the writer too (zarr 3.1 took 1.4 s for a 61 × 20,000
    genotype grid): the bytes equal zarr's, edge chunks and shards past the edge included,
    also when written one shard at a time (as a partitioned write's finalise does)."""
    from gvl_zarr import schema
    from gvl_zarr._arrays import empty, write_grid_shards

    rng = np.random.default_rng(4)
    for spec, shape in (
        (schema.GENOTYPES[0], (61, 5_000, 2, 2)),
        (schema.track_specs("t")[0], (300, 2_100, 2)),
        (schema.track_specs("t")[0], (3, 5, 2)),
    ):
        data = rng.integers(0, 2**40, shape).astype(np.int64)
        roots = {}
        for name in ("zarrs", "whole", "by_shard"):
            group = zarr.open_group(zarr.storage.LocalStore(tmp_path / name / str(shape)), mode="w", zarr_format=3)
            arr = empty(group, spec, shape)
            sr, ss = (int(n) for n in arr.metadata.chunk_grid.chunk_shape[:2])
            if name == "zarrs":
                arr[...] = data
            elif name == "whole":
                write_grid_shards(arr, (0, 0), data)
            else:
                for r in range(0, shape[0], sr):
                    for c in range(0, shape[1], ss):
                        write_grid_shards(arr, (r, c), data[r : r + sr, c : c + ss])
            roots[name] = tmp_path / name / str(shape) / spec.path
        theirs = sorted(p for p in roots["zarrs"].rglob("c/**/*") if p.is_file())
        assert theirs
        for name in ("whole", "by_shard"):
            ours = sorted(p for p in roots[name].rglob("c/**/*") if p.is_file())
            assert [p.relative_to(roots[name]) for p in ours] == [p.relative_to(roots["zarrs"]) for p in theirs]
            for a, b in zip(ours, theirs, strict=True):
                assert a.read_bytes() == b.read_bytes(), (spec.path, shape, name, a.name)
            np.testing.assert_array_equal(zarr.open_array(roots[name], mode="r")[...], data)


def test_out_of_range_index_with_a_valid_checksum_fails_loudly(with_reference: Path, tmp_path: Path) -> None:
    """A chunk that passes its checksum but indexes past the variant table (a writer bug, a
    hand-edited store) is refused when decoded, before any kernel reads with it."""
    from gvl_zarr._arrays import write_shards

    copy = tmp_path / "bad_index.gvl"
    shutil.copytree(with_reference, copy)
    arr = zarr.open_array(copy / "genotypes" / "variant_index", mode="r+")
    calls = arr[:]
    calls[len(calls) // 2] = 10**6
    write_shards(arr, 0, calls)
    for budget in (0, 1 << 30):  # chunked and resident paths
        ds = gvl.Dataset.open(copy, cache_bytes=budget)
        with pytest.raises(gvl.DamagedStoreError, match=r"variant_index.*outside"):
            ds[:, :]


def test_corrupted_raw_interval_chunk_fails_loudly(with_reference: Path, tmp_path: Path) -> None:
    """Track intervals are raw and read in place from the mapped shard; a flipped byte is
    caught by the chunk's crc32c the first time a batch touches it."""
    copy = tmp_path / "damaged_values.gvl"
    shutil.copytree(with_reference, copy)
    shard = copy / "tracks" / "bigwig" / "values" / "c" / "0"
    data = bytearray(shard.read_bytes())
    data[10] ^= 0x40
    shard.write_bytes(bytes(data))
    ds = gvl.Dataset.open(copy, return_sequences=False)
    with pytest.raises(gvl.DamagedStoreError, match=r"tracks/bigwig/values.*checksum"):
        ds[:, :]


def test_interval_arrays_are_raw_single_shards(with_reference: Path) -> None:
    g = zarr.open_group(with_reference, mode="r")
    for name in ("starts", "ends", "values"):
        arr = g[f"tracks/bigwig/{name}"]
        (codec,) = arr.metadata.codecs
        assert [type(c) for c in codec.codecs] == [zarr.codecs.BytesCodec, zarr.codecs.Crc32cCodec]
        assert arr.metadata.chunk_grid.chunk_shape[0] >= arr.shape[0]  # one shard
    ds = gvl.Dataset.open(with_reference)
    assert ds._data.tracks["bigwig"].intervals.mapped is not None


def test_background_verification_covers_every_mapped_chunk(with_reference: Path) -> None:
    ds = gvl.Dataset.open(with_reference, return_sequences=False)
    ds[0, 0]  # maps the intervals and starts the verifier
    mapped = ds._data.tracks["bigwig"].intervals.mapped
    deadline = time.monotonic() + 60
    while not all(m._all_verified for m in mapped) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(m._verified.all() for m in mapped)
    off = gvl.Dataset.open(with_reference, return_sequences=False, preload=False)
    off[0, 0]
    assert all(m._bg_pid == -1 for m in off._data.tracks["bigwig"].intervals.mapped)  # no verifier thread
