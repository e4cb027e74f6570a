"""gvl_zarr against GenVarLoader 0.43.1's own outputs on the same kit data.

`tests/data/gvl_expected/expected.npz` was written by `make_expected.py` there (GenVarLoader
0.43.1, norm+biallelic kit VCF, `regions.bed`, six samples, one BigWig track, max_jitter
8, jitter 0). When GenVarLoader's interpreter is present ($GVL_PYTHON or
/work/main/benchmarks/.venv-gvl), `test_expected_outputs_reproduce_live` re-runs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from _gvl_live import assert_reproduces, gvl_python
from _oracle import live_bcftools
from conftest import COVERAGE as conftest_cov
from conftest import DATA, FASTA, SAMPLES, VCF_NORM, bigwig_table
from conftest import STAT1 as conftest_stat1
from gvl_zarr.fill import Constant, Interpolate, Repeat5p, Repeat5pNormalized

EXPECTED = DATA / "gvl_expected"
REGIONS = EXPECTED / "regions.bed"
FILLS = {
    "repeat5p": Repeat5p(),
    "repeat5p_norm": Repeat5pNormalized(),
    "constant_nan": Constant(),
    "constant_2": Constant(2.0),
    "interpolate": Interpolate(),
}


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(EXPECTED / "expected.npz") as f:
        assert str(f["meta_version"]) == "0.43.1"
        return dict(f)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("parity")
    path = tmp / "parity.gvl"
    gvl.write(
        path,
        REGIONS,
        variants=VCF_NORM,
        bigwigs=gvl.BigWigs.from_table("bw", bigwig_table(tmp, SAMPLES)),
        max_jitter=8,
        samples=SAMPLES,
        progress=False,
    )
    return path


@pytest.fixture
def pds(store: Path, expected) -> gvl.Dataset:
    """The store opened as GenVarLoader's (no jitter), samples in GenVarLoader's order."""
    return gvl.Dataset.open(store, FASTA, jitter=0).subset_to(samples=expected["samples"].tolist())


def _flat(r: gvl.Ragged) -> tuple[np.ndarray, np.ndarray]:
    return r.data, r.offsets


def test_ragged_haplotypes_equal_genvarloader(pds: gvl.Dataset, expected) -> None:
    haps = pds.with_tracks(False).with_len("ragged")[:, :]
    assert isinstance(haps, gvl.Ragged) and haps.shape == (10, 6, 2)
    np.testing.assert_array_equal(haps.offsets, expected["ragged_offsets"])
    np.testing.assert_array_equal(haps.data, expected["ragged_haps"])
    # indels change lengths both ways in this kit
    assert {999, 1000, 1004} <= set(haps.lengths.ravel().tolist())


def test_variable_and_fixed_lengths_equal_genvarloader(pds: gvl.Dataset, expected) -> None:
    haps = pds.with_tracks(False)
    np.testing.assert_array_equal(haps.with_len("variable")[:, :], expected["variable_haps"])
    for length in (900, 1000, 1008):
        np.testing.assert_array_equal(haps.with_len(length)[:, :], expected[f"fixed{length}_haps"], str(length))
    reference = haps.with_seqs("reference").with_len(1008)[:, :]
    np.testing.assert_array_equal(reference, expected["reference_1008"])


def test_tracks_only_ragged_equal_genvarloader(pds: gvl.Dataset, expected) -> None:
    tracks = pds.with_seqs(None).with_tracks(["bw"]).with_len("ragged")[:, :]
    assert tracks.shape == (10, 6, 1)
    np.testing.assert_array_equal(tracks.offsets, expected["ragged_tracks_reference_offsets"])
    np.testing.assert_allclose(tracks.data, expected["ragged_tracks_reference"], rtol=1e-6)


@pytest.mark.parametrize("name", list(FILLS))
def test_insertion_fill_equals_genvarloader(pds: gvl.Dataset, expected, name: str) -> None:
    haps, tracks = pds.with_tracks(["bw"]).with_len("ragged").with_insertion_fill(FILLS[name])[:, :]
    assert tracks.shape == (10, 6, 1, 2)
    np.testing.assert_array_equal(tracks.offsets, expected["ragged_offsets"])
    np.testing.assert_allclose(tracks.data, expected[f"tracks_{name}"], rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(haps.data, expected["ragged_haps"])


def test_insertion_fill_per_track_and_names(pds: gvl.Dataset, expected) -> None:
    by_name = pds.with_tracks("bw").with_len("ragged").with_insertion_fill({"bw": "repeat_normalized"})
    _, tracks = by_name[:, :]
    np.testing.assert_allclose(tracks.data, expected["tracks_repeat5p_norm"], rtol=1e-6)
    _, const = pds.with_tracks("bw").with_len("ragged").with_insertion_fill(2)[:, :]
    np.testing.assert_allclose(const.data, expected["tracks_constant_2"], rtol=1e-6)


def test_padded_and_fixed_tracks_equal_genvarloader(pds: gvl.Dataset, expected) -> None:
    ds = pds.with_tracks(["bw"])
    _, variable = ds.with_len("variable")[:, :]
    np.testing.assert_allclose(variable, expected["variable_tracks"], rtol=1e-6)
    for length in (900, 1000):
        _, fixed = ds.with_len(length)[:, :]
        np.testing.assert_allclose(fixed, expected[f"fixed{length}_tracks"], rtol=1e-6, err_msg=str(length))


def test_annotated_haplotypes_equal_genvarloader(pds: gvl.Dataset, store: Path, expected) -> None:
    ann = pds.with_tracks(False).with_seqs("annotated").with_len("ragged")[:, :]
    assert isinstance(ann, gvl.AnnotatedHaps)
    np.testing.assert_array_equal(ann.haps.data, expected["annotated_haps"])
    np.testing.assert_array_equal(ann.ref_coords.offsets, expected["ragged_offsets"])
    np.testing.assert_array_equal(ann.ref_coords.data, expected["annotated_ref_coords"])
    # variant ids name rows of the store's variant table: compare as (position, ALT)
    g = zarr.open_group(str(store), mode="r")
    pos, alt_off, alt = g["variants/pos"][:], g["variants/alt_offsets"][:], g["variants/alt"][:]
    v = ann.var_idxs.data
    got_pos = np.where(v >= 0, pos[np.maximum(v, 0)], -1)
    np.testing.assert_array_equal(got_pos, expected["annotated_var_pos"])
    alts = expected["annotated_alts"]
    want = expected["annotated_var_alt"]
    for i in np.flatnonzero(v >= 0):
        assert alt[alt_off[v[i]] : alt_off[v[i] + 1]].tobytes() == alts[want[i]]
    assert (v >= 0).sum() > 50  # SNPs, insertions and deletions are annotated


def test_random_shift_picks_a_window_of_the_ragged_haplotype(pds: gvl.Dataset, expected) -> None:
    """GenVarLoader's deterministic=False: an output of L bases starts anywhere in
    [0, extra bases of the haplotype + region_length - L] of the haplotype."""
    offsets, data = expected["ragged_offsets"], expected["ragged_haps"]
    rows = [data[offsets[i] : offsets[i + 1]].tobytes() for i in range(len(offsets) - 1)]
    haps = pds.with_tracks(False).with_settings(deterministic=False, rng=7)
    starts = set()
    for _ in range(5):
        out = haps.with_len(900)[:, :].reshape(len(rows), 900)
        for i, row in enumerate(rows):
            if len(row) < 1000:
                # a deletion: the shifted output runs past the haplotype into downstream
                # reference, as GenVarLoader's (max_shift counts the region's excess only)
                continue
            k = row.find(out[i].tobytes())  # '-' strand rows: both reverse-complemented
            assert 0 <= k <= max(len(row) - 1000, 0) + 100, (i, k)
            starts.add(k)
    assert len(starts) > 20  # really random
    fixed = pds.with_tracks(False).with_len(900)[:, :]
    np.testing.assert_array_equal(fixed, expected["fixed900_haps"])  # default: no shift


if gvl_python() is not None:
    # Collected only where GenVarLoader is installed (a fresh machine compares against the
    # committed expected files above instead of reporting a skip).

    def test_expected_outputs_reproduce_live(tmp_path: Path, expected) -> None:
        assert_reproduces(EXPECTED / "make_expected.py", tmp_path, {"expected.npz": expected})


def test_ragged_to_nested_tensor_and_dataloader(pds: gvl.Dataset, expected) -> None:
    import torch

    ds = pds.with_tracks(["bw"]).with_len("ragged")
    haps, _ = ds[:2, :]
    nested = gvl.to_nested_tensor(haps)
    assert nested.is_nested and nested.size(0) == 2 * 6 * 2
    lengths = haps.lengths.ravel()
    for i in (0, 13, 17):
        row = nested[i]
        assert row.shape == (lengths[i],)
        assert bytes(row.numpy()) == haps.row(i).tobytes()
    loader = ds.to_dataloader(batch_size=12, num_workers=2)
    seen = 0
    for batch_haps, batch_tracks in loader:
        assert batch_haps.is_nested and batch_tracks.is_nested and batch_tracks.dtype == torch.float32
        seen += batch_haps.size(0) // 2
    assert seen == len(ds)
    ann = pds.with_tracks(False).with_seqs("annotated").with_len("ragged").to_dataloader(batch_size=6)
    h, v, c = next(iter(ann))
    assert h.is_nested and v.dtype == torch.int32 and c.dtype == torch.int32


def test_output_settings_errors_name_value_and_fix(pds: gvl.Dataset) -> None:
    with pytest.raises(gvl.SettingsError, match=r"output length 1009 .* with_len\(<= 1008\)"):
        pds.with_len(1009)
    with pytest.raises(gvl.SettingsError, match=r"with_len\(<= 1000\)"):
        pds.with_len(1004).with_settings(jitter=8)
    for bad in ("padded", 0, -5, 2.5, True):
        with pytest.raises(gvl.SettingsError, match="'ragged', 'variable' or a positive int"):
            pds.with_len(bad)
    with pytest.raises(gvl.SettingsError, match="'annotated'"):
        pds.with_seqs("annotate")
    with pytest.raises(gvl.SettingsError, match="unknown insertion fill 'zero'"):
        pds.with_insertion_fill("zero")
    with pytest.raises(gvl.SettingsError, match=r"tracks \['nope'\] that are not in the dataset"):
        pds.with_insertion_fill({"nope": Constant()})
    with pytest.raises(gvl.SettingsError, match=r"order=4\): the order must be 1, 2 or 3"):
        Interpolate(4)
    with pytest.raises(gvl.SettingsError, match=r"flank_width=-1\): the width must be a whole number"):
        gvl.FlankSample(-1)
    with pytest.raises(gvl.SettingsError, match="realigned to haplotypes"):
        pds.with_seqs("reference").with_insertion_fill(Constant())
    with pytest.raises(gvl.SettingsError, match="rng must be an int seed or a numpy Generator"):
        pds.with_settings(rng="seven")
    assert isinstance(pds.with_settings(rng=np.random.default_rng(1)).settings.seed, int)
    assert pds.with_tracks(None).settings == pds.settings


def test_annotated_fixed_and_variable_shapes(pds: gvl.Dataset) -> None:
    """Annotations share the haplotypes' shape and '-' strand reversal; padding is -1."""
    ds = pds.with_tracks(False).with_seqs("annotated")
    fixed = ds.with_len(1000)[1, :2]
    assert fixed.haps.shape == fixed.var_idxs.shape == fixed.ref_coords.shape == (2, 2, 1000)
    assert (np.diff(fixed.ref_coords[0, 0].astype(np.int64)) <= 0).all()  # region 1 is on '-'
    var = ds.with_len("variable")[1, :]
    rag = ds.with_len("ragged")[1, :]
    lengths = rag.haps.lengths
    width = var.haps.shape[-1]
    assert width == lengths.max()
    for s, p in np.ndindex(lengths.shape):
        n = lengths[s, p]
        assert var.haps[s, p, :n].tobytes() == rag.haps.row(s * 2 + p).tobytes()
        assert (var.var_idxs[s, p, n:] == -1).all() and (var.ref_coords[s, p, n:] == -1).all()
        assert (var.haps[s, p, n:] == b"N").all()


@live_bcftools  # runs bcftools itself: not collected where it is absent
def test_ragged_haplotypes_equal_bcftools_consensus(pds: gvl.Dataset, bcftools_oracle) -> None:
    """Each ragged haplotype is the consensus between the window's first and last reference
    bases' consensus positions (its true length: insertions in, deletions out)."""
    ds = pds.with_tracks(False).with_len("ragged").with_settings(rc_neg=False)
    haps = ds[:, :]
    bed = ds.get_bed()
    failures = []
    for r, (start, end) in enumerate(zip(bed["window_start"], bed["window_end"], strict=True)):
        for s, sample in enumerate(ds.samples):
            for h in (0, 1):
                beg, stop = bcftools_oracle.region_for(VCF_NORM, FASTA, "22", start, end - start)
                cons = bcftools_oracle.consensus(VCF_NORM, FASTA, sample, h + 1, "22", beg, stop)
                i0 = cons.ref_to_consensus(start) - cons.beg
                i1 = cons.ref_to_consensus(end) - cons.beg
                if haps.row((r * len(ds.samples) + s) * 2 + h).tobytes() != cons.seq[i0:i1].upper():
                    failures.append((r, sample, h))
    assert not failures


def test_variants_equal_genvarloader(pds: gvl.Dataset, expected) -> None:
    var = pds.with_tracks(False).with_seqs("variants")[:, :]
    assert isinstance(var, gvl.RaggedVariants) and var.shape == (10, 6, 2)
    np.testing.assert_array_equal(var.start.offsets, expected["variants_offsets"])
    np.testing.assert_array_equal(var.start.data, expected["variants_start"])
    np.testing.assert_array_equal(var.ilen.data, expected["variants_ilen"])
    np.testing.assert_array_equal(var.alt.data, expected["variants_alt_chars"])
    assert len(var.alt.offsets) == len(var.start.data) + 1
    loader = pds.with_tracks(False).with_seqs("variants").to_dataloader(batch_size=60)
    start, ilen, ids, alt = next(iter(loader))  # the whole dataset: 60 instances
    assert start.is_nested and start.size(0) == 120 and alt.size(0) == len(var.start.data)
    np.testing.assert_array_equal(ilen.values().numpy(), var.ilen.data)
    np.testing.assert_array_equal(ids.values().numpy(), var.var_idxs.data)
    with pytest.raises(gvl.SettingsError, match="'variants' returns no tracks"):
        pds.with_seqs("variants")


def test_random_shift_moves_tracks_with_their_haplotype(pds: gvl.Dataset) -> None:
    """A shifted haplotype and its realigned track are cut at the same offset of the
    unshifted ragged outputs."""
    base = pds.with_tracks(["bw"]).with_settings(rc_neg=False)
    haps_r, trk_r = base.with_len("ragged")[:, :]
    haps, trk = base.with_settings(deterministic=False, rng=3).with_len(950)[:, :]
    haps, trk = haps.reshape(-1, 950), trk.reshape(-1, 950)
    moved = checked = 0
    for i in range(haps.shape[0]):
        row, window = haps_r.row(i).tobytes(), haps[i].tobytes()
        k = row.find(window)
        if k < 0:  # a haplotype shorter than its region (net deletion) whose window was drawn to
            # run past the region's end, where it reads on into the reference
            assert len(row) < base.region_length, i
            continue
        moved += k > 0
        if row.count(window) == 1:  # the offset is unambiguous
            np.testing.assert_array_equal(trk[i], trk_r.row(i)[k : k + 950])
            checked += 1
    assert moved > 30 and checked > 100


def test_tracks_longer_than_the_region_equal_pybigwig(pds: gvl.Dataset) -> None:
    """Reference-coordinate tracks read past the region end (GenVarLoader 0.43.1 panics
    there) equal pyBigWig's values."""
    from _slow_reference import bigwig_values

    tracks = pds.with_seqs(None).with_tracks("bw").with_settings(rc_neg=False).with_len(1008)[:, :]
    bed = pds.get_bed()
    paths = {s: (conftest_stat1 if SAMPLES.index(s) % 2 == 0 else conftest_cov) for s in pds.samples}
    for r, start in enumerate(bed["window_start"]):
        for s, sample in enumerate(pds.samples):
            want = bigwig_values(paths[sample], "22", np.arange(start, start + 1008))
            np.testing.assert_allclose(tracks[r, s], want, rtol=1e-6)


# ----------------------------------------------------- fills on a base-by-base track
_fills_spec = importlib.util.spec_from_file_location("gvl_make_fills", EXPECTED / "make_fills.py")
assert _fills_spec is not None and _fills_spec.loader is not None
make_fills = importlib.util.module_from_spec(_fills_spec)
_fills_spec.loader.exec_module(make_fills)


@pytest.fixture(scope="module")
def fills_expected() -> dict[str, np.ndarray]:
    with np.load(EXPECTED / "fills.npz") as f:
        assert str(f["version"]) == "0.43.1"
        return dict(f)


@pytest.fixture(scope="module")
def wave_ds(tmp_path_factory: pytest.TempPathFactory, fills_expected) -> gvl.Dataset:
    """The parity regions with `make_fills.wave_bigwig`'s track for every sample."""
    tmp = tmp_path_factory.mktemp("fills")
    wave = make_fills.wave_bigwig(tmp / "wave.bw")
    table = tmp / "bigwigs.csv"
    table.write_text("sample,path\n" + "".join(f"{s},{wave}\n" for s in SAMPLES))
    path = tmp / "wave.gvl"
    gvl.write(
        path,
        REGIONS,
        variants=VCF_NORM,
        bigwigs=gvl.BigWigs.from_table("bw", table),
        max_jitter=8,
        samples=SAMPLES,
        progress=False,
        reference=FASTA,
    )
    ds = gvl.Dataset.open(path, jitter=0).subset_to(samples=fills_expected["samples"].tolist())
    return ds.with_tracks("bw").with_len("ragged")


@pytest.mark.parametrize(
    ("name", "fill"),
    [
        ("interp1", Interpolate(1)),
        ("interp2", Interpolate(2)),
        ("interp3", Interpolate(3)),
        ("flank0", gvl.FlankSample(0)),
    ],
)
def test_fills_on_a_varying_track_equal_genvarloader(wave_ds: gvl.Dataset, fills_expected, name, fill) -> None:
    _, tracks = wave_ds.with_insertion_fill(fill)[:, :]
    np.testing.assert_array_equal(tracks.offsets, fills_expected[f"{name}_offsets"])
    np.testing.assert_allclose(tracks.data, fills_expected[name], rtol=1e-5)
    # the cubic differs from linear interpolation on this track (the test is not vacuous)
    if name == "interp2":
        assert not np.allclose(tracks.data, fills_expected["interp1"], rtol=1e-5)


def _insertion_stretches(ds: gvl.Dataset):
    """(haplotype row, first index, stretch length d + 1, anchor's index into the
    reference-coordinate track) of every insertion, from the annotated output."""
    ann = ds.with_tracks(False).with_seqs("annotated")[:, :]
    ref_tracks = ds.with_seqs(None)[:, :]
    var, pos, offsets = ann.var_idxs.data, ann.ref_coords.data, ann.var_idxs.offsets
    out = []
    for h in range(len(offsets) - 1):
        a, b = int(offsets[h]), int(offsets[h + 1])
        p, v = pos[a:b], var[a:b]
        ref_row = ref_tracks.row(h // 2)  # one track: rows (region, sample), haplotypes (…, ploid)
        origin = int(p[v < 0][0]) - int(np.flatnonzero(v < 0)[0])
        i = 1
        while i < len(p):
            if p[i] == p[i - 1] and v[i] >= 0:
                j = i
                while j < len(p) and p[j] == p[i - 1]:
                    j += 1
                out.append((h, a + i - 1, j - i + 1, int(p[i - 1]) - origin, ref_row))
                i = j
            else:
                i += 1
    return out


def test_flank_sample_draws_from_the_flank_and_is_fixed(wave_ds: gvl.Dataset) -> None:
    width = 2
    forward = wave_ds.with_settings(rc_neg=False)  # reference coordinates ascend in every row
    ds = forward.with_insertion_fill(gvl.FlankSample(width))
    _, tracks = ds[:, :]
    stretches = _insertion_stretches(forward)
    assert len(stretches) >= 4
    n_drawn_elsewhere = 0
    for _, start, n, anchor, ref_row in stretches:
        pool = set(ref_row[max(anchor - width, 0) : anchor + width + 1].tolist())
        values = tracks.data[start : start + n].tolist()
        assert set(values) <= pool, (values, pool)
        n_drawn_elsewhere += sum(v != values[0] for v in values[1:])
    assert n_drawn_elsewhere > 0  # inserted values are drawn from the flank, not all the anchor's
    # fixed per instance: a shuffled batch reads the same values for every instance
    order = np.random.default_rng(3).permutation(len(ds))
    _, shuffled = ds[order]
    _, in_order = ds[np.arange(len(ds))]
    rows = shuffled.lengths.size // len(ds)  # tracks × ploidy rows per instance
    for k, i in enumerate(order):
        for r in range(rows):
            np.testing.assert_array_equal(shuffled.row(k * rows + r), in_order.row(int(i) * rows + r))


if gvl_python() is not None:

    def test_fills_expected_reproduce_live(tmp_path: Path, fills_expected) -> None:
        assert_reproduces(EXPECTED / "make_fills.py", tmp_path, {"fills.npz": fills_expected})
