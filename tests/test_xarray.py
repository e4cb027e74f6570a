"""The xarray view (`Dataset.to_xarray`), the `gvl_zarr` xarray engine and the summaries."""

from __future__ import annotations

import pickle
from pathlib import Path

import cyvcf2
import dask.array as da
import numpy as np
import polars as pl
import pytest
import xarray as xr

import gvl_zarr as gvl
from _oracle import requires_bcftools
from conftest import COVERAGE, FASTA, SAMPLES, STAT1, TILES, VCF
from gvl_zarr import _chunks, xarray_backend, xarray_view
from gvl_zarr.errors import SettingsError


def _outer(ds: gvl.Dataset, regions, samples):
    """Dataset indexing of the outer product regions × samples."""
    return ds[np.asarray(regions)[:, None], np.asarray(samples)[None, :]]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """(array path, inner chunk) of every chunk read from the store from now on."""
    seen: list[tuple[str, tuple]] = []
    original = _chunks.ShardedArray._load

    def counting(self, keys):
        seen.extend((self.path, tuple(k[1])) for k in keys)
        return original(self, keys)

    monkeypatch.setattr(_chunks.ShardedArray, "_load", counting)
    return seen


# ------------------------------------------------------------------------- structure
def test_view_is_lazy_labelled_and_typed(ds: gvl.Dataset) -> None:
    x = ds.to_xarray()
    assert set(x.data_vars) == {"haplotypes", "reference", "bigwig", "n_variants", "haplotype_length"}
    for name in x.data_vars:
        assert isinstance(x[name].data, da.Array), name
    assert x.haplotypes.dims == ("region", "sample", "ploid", "position")
    assert x.haplotypes.dtype == np.dtype("S1")
    assert x.bigwig.dims == ("region", "sample", "ploid", "position")
    assert x.bigwig.dtype == np.float32
    assert x.reference.dims == ("region", "sample", "position")  # jitter 64: per instance
    assert x.n_variants.dims == x.haplotype_length.dims == ("region", "sample", "ploid")
    assert x.sizes == {"region": 28, "sample": 6, "ploid": 2, "position": 4096}
    assert x.sample.values.tolist() == SAMPLES
    bed = pl.read_csv(TILES, separator="\t", has_header=False, new_columns=["chrom", "s", "e", "name"])
    assert x.name.values.tolist() == bed["name"].to_list()
    assert x.start.values.tolist() == bed["s"].to_list()
    assert x.end.values.tolist() == bed["e"].to_list()
    assert x.chrom.values.tolist() == ["22"] * 28
    assert x.region.values[0] == "22:16050000-16066384"
    assert (x.window_end - x.window_start).values.tolist() == [4096] * 28
    assert x.attrs["length"] == 4096
    assert x.attrs["jitter"] == 64
    assert x.attrs["format_version"] == 2
    # blocks follow the store's (8 regions x 32 samples) grid
    assert x.haplotypes.data.chunks[:2] == ((28,), (6,))
    assert ds.to_xarray(chunks={"region": 8, "sample": 4}).haplotypes.data.chunks[:2] == ((8, 8, 8, 4), (4, 2))


# ---------------------------------------------------------------------- equality
def test_view_equals_dataset_indexing(ds: gvl.Dataset) -> None:
    """Haplotypes and realigned tracks (with indels, jitter, rc) equal Dataset indexing."""
    x = ds.to_xarray(chunks={"region": 8, "sample": 4})
    fixed = ds.with_settings(fixed_jitter=True)  # the view's jitter is fixed per instance
    haps, tracks = fixed[:, :]
    np.testing.assert_array_equal(x.haplotypes.values, haps)
    np.testing.assert_array_equal(x.bigwig.values, tracks)
    lengths = x.haplotype_length.values
    assert (lengths != 4096).any(), "the selection must hold indels"

    part = x.haplotypes.sel(sample="NA12878").isel(region=slice(2, 4)).compute()
    np.testing.assert_array_equal(part.values, fixed.with_settings(return_tracks=None)[2:4, 0])
    r, s = [1, 5, 17], [0, 2, 5]
    np.testing.assert_array_equal(x.bigwig.isel(region=r, sample=s).values, _outer(fixed, r, s)[1])
    ref = x.reference.isel(region=r, sample=s).values
    np.testing.assert_array_equal(
        ref, _outer(fixed.with_settings(return_sequences="reference", return_tracks=None), r, s)
    )


def test_view_reads_only_the_chunks_of_the_selection(tiles_dataset: Path, loads: list) -> None:
    """A selection decodes the chunks its instances need, not its whole dask block."""
    x = gvl.Dataset.open(tiles_dataset, reference=FASTA, preload=False, jitter=0).to_xarray(chunks={"region": 16})
    got = x.haplotypes.sel(sample="NA12878").isel(region=slice(2, 4)).compute()
    view_chunks = set(loads)
    loads.clear()
    direct = gvl.Dataset.open(tiles_dataset, reference=FASTA, preload=False, jitter=0, return_tracks=None)
    expected = direct[2:4, 0]
    direct_chunks = set(loads)
    loads.clear()
    np.testing.assert_array_equal(got.values, expected)
    assert view_chunks == direct_chunks
    whole = gvl.Dataset.open(tiles_dataset, reference=FASTA, preload=False, jitter=0, return_tracks=None)
    whole[0:16, :]  # the dask block the selection falls in
    assert view_chunks < set(loads)


def test_selection_across_blocks_reads_only_its_instances(tiles_dataset: Path, monkeypatch) -> None:
    reads: list[tuple[str, list, list]] = []
    original = xarray_view.Source.read

    def counting(self, kind, r, s):
        reads.append((kind, r.tolist(), s.tolist()))
        return original(self, kind, r, s)

    monkeypatch.setattr(xarray_view.Source, "read", counting)
    ds = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    x = ds.to_xarray(chunks={"region": 8, "sample": 3})
    got = x.bigwig.isel(region=slice(6, 10)).sel(sample="HG00097").compute()
    assert sorted(reads) == [("track:bigwig", [6, 7], [2]), ("track:bigwig", [8, 9], [2])]
    np.testing.assert_array_equal(got.values, ds[6:10, 2][1])
    reads.clear()
    counts = x.n_variants.sel(sample="NA12878").isel(region=slice(6, 10)).values
    assert sorted(reads) == [("n_variants", [6, 7], [0]), ("n_variants", [8, 9], [0])]
    np.testing.assert_array_equal(counts, ds.n_variants()[6:10, 0])


def test_tracks_in_reference_coordinates_and_reference(ds: gvl.Dataset) -> None:
    plain = ds.with_settings(jitter=0, return_sequences="reference")
    x = plain.to_xarray()
    assert "haplotypes" not in x
    assert x.bigwig.dims == ("region", "sample", "position")
    assert x.reference.dims == ("region", "position")
    seqs, tracks = plain[:, :]
    np.testing.assert_array_equal(x.bigwig.values, tracks)
    np.testing.assert_array_equal(x.reference.values, seqs[:, 0])
    tracks_only = ds.with_settings(jitter=0, return_sequences=None).to_xarray()
    np.testing.assert_array_equal(tracks_only.bigwig.isel(region=[3, 4]).values, tracks[[3, 4]])
    no_tracks = ds.with_settings(jitter=0, return_tracks=None).to_xarray()
    assert set(no_tracks.data_vars) == {"haplotypes", "reference", "n_variants", "haplotype_length"}


def test_view_of_a_subset_keeps_its_selection(ds: gvl.Dataset) -> None:
    sub = ds.with_settings(jitter=0).subset_to(regions=[20, 3, 7], samples=["HG01595", "NA12878"])
    x = sub.to_xarray()
    assert x.sample.values.tolist() == ["HG01595", "NA12878"]
    assert x.name.values.tolist() == ["tile20", "tile3", "tile7"]
    np.testing.assert_array_equal(x.haplotypes.values, sub.with_settings(return_tracks=None)[:, :])
    np.testing.assert_array_equal(x.n_variants.values, sub.n_variants())


# -------------------------------------------------------------------- bad input
def test_unknown_labels_raise_key_errors_with_close_matches(ds: gvl.Dataset) -> None:
    x = ds.to_xarray()
    with pytest.raises(KeyError, match=r"NA12879.*close matches.*NA12878"):
        x.sel(sample="NA12879")
    with pytest.raises(KeyError, match=r"HG0009.*close matches.*HG00096"):
        x.haplotypes.sel(sample=["NA12878", "HG0009"])
    with pytest.raises(KeyError, match=r"22:16050000-16066385.*close matches.*22:16050000-16066384"):
        x.sel(region="22:16050000-16066385")
    assert x.sel(sample=["HG00097", "NA12878"]).sample.values.tolist() == ["HG00097", "NA12878"]


def test_store_without_genotypes_gives_a_view_without_haplotypes(tmp_path: Path) -> None:
    bed = pl.read_csv(TILES, separator="\t", has_header=False, new_columns=["chrom", "chromStart", "chromEnd", "name"])
    table = tmp_path / "bw.csv"
    pl.DataFrame({"sample": ["a", "b"], "path": [STAT1, COVERAGE]}).write_csv(table)
    path = tmp_path / "tracks.gvl"
    bed_file = tmp_path / "four.bed"
    bed.head(4).write_csv(bed_file, separator="\t", include_header=False)
    gvl.write(
        path, bed_file, bigwigs=gvl.BigWigs.from_table("signal", table), length=1024, reference=FASTA, progress=False
    )
    ds = gvl.Dataset.open(path)
    x = ds.to_xarray()
    assert set(x.data_vars) == {"reference", "signal"}
    assert x.name.values.tolist() == ["tile0", "tile1", "tile2", "tile3"]
    assert "ploid" not in x.dims
    assert x.signal.dims == ("region", "sample", "position")
    np.testing.assert_array_equal(x.signal.values, ds.with_settings(return_sequences=None)[:, :])
    with pytest.raises(SettingsError, match="without variants"):
        ds.n_variants()


# ------------------------------------------------------------------------ backend
def test_backend_entry_point_lazy_outer_indexing(tiles_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "gvl_zarr" in xr.backends.list_engines()
    reads: list[tuple[str, list, list]] = []
    original = xarray_view.Source.read

    def counting(self, kind, r, s):
        reads.append((kind, r.tolist(), s.tolist()))
        return original(self, kind, r, s)

    monkeypatch.setattr(xarray_view.Source, "read", counting)
    x = xr.open_dataset(tiles_dataset, engine="gvl_zarr", reference=FASTA, jitter=0, cache=False)
    assert not isinstance(x.haplotypes.variable._data, da.Array)
    assert reads == []  # opening reads nothing
    ds = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    got = x.haplotypes.isel(region=[4, 1], sample=[5, 0], position=slice(10, 20)).values
    assert reads == [("haplotypes", [1, 4], [0, 5])]  # one outer read of the 4 instances (xarray sorts them)
    np.testing.assert_array_equal(got, _outer(ds, [4, 1], [5, 0])[0][..., 10:20])
    track = x.bigwig.sel(sample="HG00096").isel(region=3, ploid=1).values
    np.testing.assert_array_equal(track, ds[3, 1][1][1])
    chunked = xr.open_dataset(tiles_dataset, engine="gvl_zarr", reference=FASTA, jitter=0, chunks={})
    assert isinstance(chunked.haplotypes.data, da.Array)
    np.testing.assert_array_equal(chunked.n_variants.values, ds.n_variants())
    dropped = xr.open_dataset(tiles_dataset, engine="gvl_zarr", reference=FASTA, drop_variables=["bigwig"])
    assert "bigwig" not in dropped and "haplotypes" in dropped
    assert xarray_backend.GvlZarrBackendEntrypoint().guess_can_open(tiles_dataset)
    assert not xarray_backend.GvlZarrBackendEntrypoint().guess_can_open(TILES)


# ---------------------------------------------------------------------- pickling
def test_view_pickles_by_location_and_opens_once_per_process(ds: gvl.Dataset) -> None:
    arr = ds.with_settings(jitter=0).to_xarray().haplotypes.data
    blob = pickle.dumps(arr)
    assert len(blob) < 20_000  # settings and indices, no decoded data or handles
    first, second = pickle.loads(blob), pickle.loads(blob)
    src1 = first.__dask_graph__()[f"original-{first.name}"]
    src2 = second.__dask_graph__()[f"original-{second.name}"]
    assert src1.source.ds._data is src2.source.ds._data  # one StoreData per process
    np.testing.assert_array_equal(first[:2, :3].compute(), ds.with_settings(jitter=0, return_tracks=None)[:2, :3])


def test_local_cluster_reduction_matches_local(tiles_dataset: Path) -> None:
    import distributed

    ds = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    x = ds.to_xarray(chunks={"region": 8, "sample": 3})
    mean = x.bigwig.mean(("sample", "ploid"))  # per-region mean track over samples
    local = mean.compute(scheduler="threads")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = mean.compute()
        opened = client.run(lambda: len(__import__("gvl_zarr.xarray_view").xarray_view._OPEN))
    assert len(opened) == 2
    assert sorted(opened.values()) == [1, 1]  # each worker opened the store once
    np.testing.assert_allclose(remote.values, local.values, rtol=1e-6)
    np.testing.assert_allclose(local.values, ds[:, :][1].mean(axis=(1, 2)), rtol=1e-5)


# --------------------------------------------------------------------- summaries
def _slow_summaries(vcf: str, sample: str, start: int, length: int) -> tuple[list[int], list[int]]:
    """(n_variants, haplotype_length) per haplotype of one window, from cyvcf2 records:
    calls applied first-wins as bcftools consensus does; length = window length minus the
    REF bases replaced inside the window plus the ALT bases aligned inside it."""
    reader = cyvcf2.VCF(vcf, samples=[sample])
    records = list(reader(f"22:{max(start - 1000, 1)}-{start + length}"))
    end = start + length
    counts, lengths = [], []
    for hap in (0, 1):
        n, h, last_end = 0, length, -(10**18)
        for rec in records:
            allele = rec.genotypes[0][hap]
            if allele <= 0 or rec.ALT[allele - 1].startswith("<") or rec.ALT[allele - 1] in ("*", "."):
                continue
            pos, ref, alt = rec.POS - 1, rec.REF, rec.ALT[allele - 1]
            vend, first = pos + len(ref), 0
            if pos < last_end:
                if pos == last_end - 1 and len(ref) != len(alt):
                    first = 1
                else:
                    continue
            last_end = vend
            if vend <= start or pos >= end:
                continue
            n += 1
            h -= max(0, min(vend, end) - max(pos + first, start))
            for j in range(first, len(alt)):
                shift = len(alt) - len(ref)
                k = j if j == 0 or shift == 0 else (max(j - shift, 0) if shift > 0 else j - shift)
                h += start <= pos + k < end
        counts.append(n)
        lengths.append(h)
    return counts, lengths


def test_summaries_match_a_slow_count_from_cyvcf2(ds: gvl.Dataset) -> None:
    plain = ds.with_settings(jitter=0)
    n_variants, lengths = plain.n_variants(), plain.haplotype_lengths()
    assert n_variants.shape == lengths.shape == (28, 6, 2)
    bed = plain.get_bed()
    for r in range(28):
        for s, sample in enumerate(SAMPLES):
            counts, hap_lengths = _slow_summaries(VCF, sample, int(bed["window_start"][r]), 4096)
            assert n_variants[r, s].tolist() == counts, (r, sample)
            assert lengths[r, s].tolist() == hap_lengths, (r, sample)
    assert n_variants.sum() > 300
    assert (lengths > 4096).any() and (lengths < 4096).any()
    x = plain.to_xarray()
    np.testing.assert_array_equal(x.n_variants.values, n_variants)
    np.testing.assert_array_equal(x.haplotype_length.values, lengths)
    jittered = ds.with_settings(fixed_jitter=True)
    np.testing.assert_array_equal(ds.to_xarray().haplotype_length.values, jittered.haplotype_lengths())


@requires_bcftools
def test_haplotype_lengths_are_the_bcftools_consensus_lengths(ds: gvl.Dataset, bcftools_oracle) -> None:
    """haplotype_length = personal bases between the window's start and end in the chain
    `bcftools consensus` writes; the produced haplotypes are those bases, cut or extended
    to the region length."""
    plain = ds.with_settings(jitter=0, return_tracks=None, rc_neg=False)
    lengths = plain.haplotype_lengths()
    haps = plain[:, :]
    bed = plain.get_bed()
    windows = [(int(w), 4096) for w in bed["window_start"]]
    bcftools_oracle.prefetch(VCF, FASTA, SAMPLES, "22", windows)
    checked_indels = 0
    for r, (ws, length) in enumerate(windows):
        beg, end = bcftools_oracle.region_for(VCF, FASTA, "22", ws, length)
        for s, sample in enumerate(SAMPLES):
            for p in range(2):
                cons = bcftools_oracle.consensus(VCF, FASTA, sample, p + 1, "22", beg, end)
                h0, h1 = cons.ref_to_consensus(ws), cons.ref_to_consensus(ws + length)
                assert lengths[r, s, p] == h1 - h0, (r, sample, p)
                personal = cons.seq[h0 - cons.beg : h1 - cons.beg].upper()
                got = haps[r, s, p].tobytes()
                n = min(len(personal), length)
                assert got[:n] == personal[:n]
                checked_indels += h1 - h0 != length
    assert checked_indels > 20
