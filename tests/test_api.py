"""Indexing forms, settings, subsets and the output shape rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gvl_zarr as gvl
from conftest import FASTA, SAMPLES, TILES


def test_public_api_is_pinned() -> None:
    assert sorted(gvl.__all__) == sorted(
        [
            "AnnotatedHaps",
            "BigWigs",
            "Constant",
            "ContigMismatchError",
            "DamagedStoreError",
            "Dataset",
            "DatasetExistsError",
            "DatasetIndexError",
            "GvlError",
            "IncompleteDatasetError",
            "InputFileError",
            "FlankSample",
            "InsertionFill",
            "Interpolate",
            "MissingDependencyError",
            "MissingFileError",
            "OutputError",
            "Ragged",
            "RaggedVariants",
            "RefDataset",
            "ReferenceMismatchError",
            "RemoteAccessError",
            "RemoteUnreachableError",
            "Repeat5p",
            "Repeat5pNormalized",
            "SettingsError",
            "UnphasedGenotypeError",
            "__version__",
            "to_nested_tensor",
            "concat",
            "update",
            "write",
        ]
    )


def test_properties(ds: gvl.Dataset) -> None:
    assert ds.samples == SAMPLES
    assert (ds.n_regions, ds.n_samples, ds.region_length) == (28, 6, 4096)
    assert len(ds) == 28 * 6
    bed = ds.get_bed()
    assert bed.columns[:3] == ["chrom", "chromStart", "chromEnd"]
    assert ((bed["window_end"] - bed["window_start"]) == 4096).all()
    mid = (bed["chromStart"] + bed["chromEnd"]) // 2
    assert (bed["window_start"] == mid - 2048).all()


def test_indexing_forms_agree(ds: gvl.Dataset) -> None:
    ds = ds.with_settings(jitter=0)
    h99, t99 = ds[99]
    assert h99.shape == (2, 4096) and h99.dtype == np.dtype("S1")
    assert t99.shape == (2, 4096) and t99.dtype == np.float32
    r, s = divmod(99, ds.n_samples)
    np.testing.assert_array_equal(ds[r, s][0], h99)
    np.testing.assert_array_equal(ds.isel(regions=r, samples=s)[0], h99)
    sel = ds.sel(regions=ds.get_bed()[r], samples=ds.samples[s])
    np.testing.assert_array_equal(sel[0][0], h99)
    assert ds[:10][0].shape == (10, 2, 4096)
    grid_h, grid_t = ds[:10, :5]
    assert grid_h.shape == (10, 5, 2, 4096) and grid_t.shape == (10, 5, 2, 4096)
    np.testing.assert_array_equal(grid_h[3, 2], ds[3, 2][0])
    pairs = ds[np.array([r, 0]), np.array([s, 1])][0]
    assert pairs.shape == (2, 2, 4096)
    np.testing.assert_array_equal(pairs[0], h99)
    assert ds[r, :][0].shape == (6, 2, 4096)
    assert ds[:, s][0].shape == (28, 2, 4096)
    assert set(np.unique(h99.view(np.uint8)).tobytes()) <= set(b"ACGTN")


def test_with_settings_returns_new_dataset(ds: gvl.Dataset) -> None:
    new = ds.with_settings(jitter=0, return_tracks=False, rc_neg=False, return_indices=True)
    assert ds.settings.jitter == 64 and ds.settings.return_tracks == ("bigwig",)
    haps, d_idx, r_idx, s_idx = new[[5, 7]]
    assert haps.shape == (2, 2, 4096)
    np.testing.assert_array_equal(d_idx, [5, 7])
    np.testing.assert_array_equal(r_idx, [0, 1])
    np.testing.assert_array_equal(s_idx, [5, 1])
    assert isinstance(ds[0], tuple) and len(ds[0]) == 2


def test_track_axis_rule(ds: gvl.Dataset) -> None:
    assert ds.with_settings(return_tracks=["bigwig"], jitter=0)[0, 0][1].shape == (1, 2, 4096)
    assert ds.with_settings(return_tracks="bigwig", jitter=0)[0, 0][1].shape == (2, 4096)
    only = ds.with_settings(return_sequences=False, return_tracks=["bigwig"], jitter=0)
    assert only[:3].shape == (3, 1, 4096)
    ref = ds.with_settings(return_sequences="reference", return_tracks=False)
    assert ref[:3].shape == (3, 4096)


def test_subset_to(ds: gvl.Dataset, tmp_path) -> None:
    bed = tmp_path / "train.bed"
    lines = Path(TILES).read_text().splitlines()
    bed.write_text("\n".join([lines[4], lines[2]]) + "\n")
    sub = ds.subset_to(regions=str(bed), samples=["HG00097", "NA12878"]).with_settings(jitter=0)
    assert (sub.n_regions, sub.n_samples) == (2, 2)
    assert sub.samples == ["HG00097", "NA12878"]
    full = ds.with_settings(jitter=0)
    np.testing.assert_array_equal(sub[0, 1][0], full[4, 0][0])
    np.testing.assert_array_equal(sub[1, 0][0], full[2, 2][0])
    by_idx = ds.subset_to(regions=[4, 2], samples=[2, 0]).with_settings(jitter=0)
    np.testing.assert_array_equal(by_idx[:, :][0], sub[:, :][0])
    mask = np.zeros(28, bool)
    mask[[2, 4]] = True
    assert ds.subset_to(regions=mask).n_regions == 2
    sliced = ds.subset_to(regions=slice(0, 3), samples=slice(1, 4))
    assert sliced.shape == (3, 3) and sliced.samples == SAMPLES[1:4]
    smask = np.array([True, False, True, False, False, False])
    assert ds.subset_to(samples=smask).samples == [SAMPLES[0], SAMPLES[2]]


def test_transform_from_spec(ds: gvl.Dataset) -> None:
    def transform(haplotypes, tracks):
        ohe = (haplotypes[..., None] == np.array([b"A", b"C", b"G", b"T"])).astype(np.float32)
        return np.moveaxis(ohe, -1, -2), tracks

    ohe, _ = ds.with_settings(transform=transform, jitter=0)[:4]
    assert ohe.shape == (4, 2, 4, 4096)
    assert np.all(ohe.sum(-2) <= 1)


def test_open_with_return_tracks_and_without_reference(tiles_dataset) -> None:
    ds = gvl.Dataset.open(tiles_dataset, FASTA, return_tracks="bigwig", jitter=0)
    assert ds[0, 0][1].shape == (2, 4096)
    no_ref = gvl.Dataset.open(tiles_dataset)
    assert no_ref.settings.return_sequences is None
    assert no_ref.with_settings(jitter=0)[0, 0].shape == (4096,)
    with pytest.raises(gvl.SettingsError, match="reference"):
        no_ref.with_settings(return_sequences=True)


def test_raw_store_opens_in_xarray_with_named_dims(tiles_dataset) -> None:
    import xarray as xr

    geno = xr.open_zarr(tiles_dataset, group="genotypes", consolidated=False)
    assert geno["offsets"].dims == ("region", "sample", "ploid", "bound")
    assert geno.sizes["region"] == 28 and geno.sizes["sample"] == 6
    track = xr.open_zarr(tiles_dataset, group="tracks/bigwig", consolidated=False)
    assert track["offsets"].dims == ("region", "sample", "bound")
