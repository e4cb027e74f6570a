"""PyTorch DataLoader, the spec page's transformed-track workflow, and the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import gvl_zarr as gvl
from conftest import FASTA, SAMPLES, TILES, VCF, bigwig_table


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_dataloader_batches(ds: gvl.Dataset, num_workers: int) -> None:
    ds = ds.with_settings(jitter=0)
    loader = ds.to_dataloader(batch_size=8, shuffle=False, num_workers=num_workers)
    batches = list(loader)
    assert sum(b[0].shape[0] for b in batches) == len(ds)
    haps, tracks = batches[1]
    assert haps.dtype == torch.uint8 and haps.shape == (8, 2, 4096)
    assert tracks.dtype == torch.float32 and tracks.shape == (8, 2, 4096)
    expected = ds[8:16]
    np.testing.assert_array_equal(haps.numpy(), expected[0].view(np.uint8))
    np.testing.assert_array_equal(tracks.numpy(), expected[1])


def test_dataloader_shuffles_and_wraps_user_sampler(ds: gvl.Dataset) -> None:
    calls = []
    probe = ds.with_settings(jitter=0, return_indices=True, transform=lambda h, t: (calls.append(len(h)) or h, t))
    loader = probe.to_dataloader(batch_size=16, shuffle=True)
    seen = np.concatenate([b[2].numpy() for b in loader])
    assert sorted(seen.tolist()) == list(range(len(ds)))
    assert not np.array_equal(seen, np.arange(len(ds)))
    assert calls[0] == 16  # one dataset call per batch
    sampler = torch.utils.data.SubsetRandomSampler(range(20))
    got = np.concatenate([b[2].numpy() for b in probe.to_dataloader(batch_size=4, sampler=sampler)])
    assert sorted(got.tolist()) == list(range(20))
    tds = ds.to_torch_dataset()
    assert len(tds) == len(ds) and tds[[0, 1]][0].shape == (2, 2, 4096)


def test_spec_precomputed_transformed_tracks(tmp_path) -> None:
    """The spec page's z-log-CPM example, run as written on a dataset without jitter or variants."""
    path = tmp_path / "tracks.gvl"
    gvl.write(
        path,
        TILES,
        bigwigs=gvl.BigWigs.from_table("bigwig", bigwig_table(tmp_path, SAMPLES)),
        length=4096,
        max_jitter=0,
        progress=False,
    )
    dataset = gvl.Dataset.open(path, FASTA)
    train_dataset = dataset.subset_to(regions=list(range(dataset.n_regions)))
    total_counts = np.linspace(1e6, 2e6, dataset.n_samples).astype(np.float32)

    means = np.empty((train_dataset.n_regions, train_dataset.region_length), np.float32)
    stds = np.empty_like(means)
    just_tracks = train_dataset.with_settings(return_sequences=False, jitter=0)
    for region in range(len(means)):
        cpm = np.log1p(just_tracks[region, :] / total_counts[:, None] * 1e6)
        means[region] = cpm.mean(0)
        stds[region] = cpm.std(0)
    stds[stds == 0] = 1

    def z_log_cpm(dataset_indices, region_indices, sample_indices, tracks: gvl.Ragged):
        _tracks = tracks.data.reshape(-1, dataset.region_length)
        _tracks = np.log1p(_tracks / total_counts[sample_indices, None] * 1e6)
        _tracks = (_tracks - means[region_indices]) / stds[region_indices]
        return gvl.Ragged.from_offsets(_tracks.ravel(), tracks.shape, tracks.offsets)

    dataset_with_zlogcpm = dataset.write_transformed_track("z-log-cpm", "bigwig", transform=z_log_cpm)
    haps_and_zlogcpm = dataset_with_zlogcpm.with_settings(return_tracks="z-log-cpm")
    _, z = haps_and_zlogcpm[3, :]
    raw = just_tracks[3, :]
    expected = (np.log1p(raw / total_counts[:, None] * 1e6) - means[3]) / stds[3]
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-5)
    both = dataset_with_zlogcpm.with_settings(return_tracks=["bigwig", "z-log-cpm"], return_sequences=False)
    assert both[3, 0].shape == (2, 4096)
    reopened = gvl.Dataset.open(path, FASTA, return_tracks="z-log-cpm")
    np.testing.assert_allclose(reopened[3, :][1], z)
    with pytest.raises(gvl.DatasetExistsError):
        dataset.write_transformed_track("z-log-cpm", "bigwig", transform=z_log_cpm)
    negated = dataset.write_transformed_track(
        "z-log-cpm",
        "bigwig",
        transform=lambda d, r, s, t: gvl.Ragged.from_offsets(-t.data, t.shape, t.offsets),
        overwrite=True,
    )
    np.testing.assert_array_equal(negated.with_settings(return_tracks="z-log-cpm")[3, :][1], -raw)
    assert negated.available_tracks == ["bigwig", "z-log-cpm"]


def test_transformed_track_with_indels_and_jitter(ds: gvl.Dataset, tmp_path, tiles_dataset) -> None:
    import shutil

    copy = tmp_path / "copy.gvl"
    shutil.copytree(tiles_dataset, copy)
    ds = gvl.Dataset.open(copy, FASTA)
    lengths = []

    def double(d_idx, r_idx, s_idx, tracks: gvl.Ragged):
        lengths.append(tracks.lengths)
        return gvl.Ragged.from_offsets(tracks.data * 2, tracks.shape, tracks.offsets)

    new = ds.write_transformed_track("double", "bigwig", transform=double, progress=False)
    assert all(np.all(n >= ds.region_length + 2 * ds.max_jitter) for n in lengths)
    a = new.with_settings(return_tracks="bigwig", fixed_jitter=True)[:30]
    b = new.with_settings(return_tracks="double", fixed_jitter=True)[:30]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(b[1], 2 * a[1])


def test_cli_write(tmp_path) -> None:
    table = bigwig_table(tmp_path, SAMPLES[:2])
    out = tmp_path / "cli.gvl"
    cmd = [
        sys.executable,
        "-m",
        "gvl_zarr.cli",
        "write",
        str(out),
        TILES,
        "--variants",
        VCF,
        "--bigwig-table",
        str(table),
        "--length",
        "2048",
        "--max-jitter",
        "16",
        "--quiet",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    ds = gvl.Dataset.open(out, FASTA)
    assert sorted(ds.samples) == sorted(SAMPLES[:2]) and ds.region_length == 2048 and ds.max_jitter == 16
    again = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "overwrite" in again.stderr and "Traceback" not in again.stderr
    spec_form = [c for c in cmd if c != "write"] + ["--overwrite"]
    assert subprocess.run(spec_form, capture_output=True, text=True, check=False).returncode == 0


def test_thread_pool_survives_fork_into_workers(ds: gvl.Dataset, monkeypatch) -> None:
    """Large batches run on a thread pool; forked DataLoader workers must get their own."""
    from gvl_zarr._kernels import _threads

    monkeypatch.setattr(_threads, "_MIN_BYTES_PER_THREAD", 1 << 16)
    ds = ds.with_settings(jitter=0)
    parent = ds[np.arange(128) % 28, np.arange(128) % 6]  # split over threads
    assert _threads._pool is not None or _threads.n_threads() == 1
    sampler = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(len(ds))), 128, drop_last=True)
    batches = list(ds.to_dataloader(sampler=sampler, num_workers=2))
    expected = ds[:128]
    np.testing.assert_array_equal(batches[0][0].numpy(), expected[0].view(np.uint8))
    np.testing.assert_array_equal(batches[0][1].numpy(), expected[1])
    assert parent[0].shape == (128, 2, 4096)


def test_missing_torch_names_the_extra(ds: gvl.Dataset, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.delitem(sys.modules, "gvl_zarr.torch_loader", raising=False)
    with pytest.raises(gvl.MissingDependencyError, match=r"gvl-zarr\[torch\]"):
        ds.to_dataloader(batch_size=4)
