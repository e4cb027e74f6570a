"""Haplotypes and tracks against slow Python references built from cyvcf2, pyfaidx, pyBigWig."""

from __future__ import annotations

import numpy as np
import pytest

import gvl_zarr as gvl
from _slow_reference import apply_calls, bigwig_values, fasta_window, haplotype_calls
from conftest import COVERAGE, FASTA, GENES, SAMPLES, STAT1, VCF, write_small


def _expected(ds: gvl.Dataset, r: int, s: int, hap: int, win_start: int, shifts=(0,)):
    """Expected (haplotype, coords) for each shift of the window start."""
    bed = ds.get_bed()
    contig = bed["chrom"][r]
    span_lo, span_hi = win_start + min(shifts) - 5000, win_start + max(shifts) + ds.region_length + 5000
    calls = haplotype_calls(VCF, ds.samples[s], hap, contig, span_lo, span_hi)
    ref = fasta_window(FASTA, contig, span_lo, span_hi)
    found = [apply_calls(ref, span_lo, calls, win_start + d, ds.region_length) for d in shifts]
    return found[0] if shifts == (0,) else found


def _track_path(s: int) -> str:
    return STAT1 if s % 2 == 0 else COVERAGE


def test_haplotypes_and_realigned_tracks_match_slow_reference(ds: gvl.Dataset) -> None:
    ds = ds.with_settings(jitter=0)
    bed = ds.get_bed()
    for r in range(ds.n_regions):
        haps, tracks = ds[r, :]
        for s in range(ds.n_samples):
            for hap in range(2):
                seq, coords = _expected(ds, r, s, hap, int(bed["window_start"][r]))
                assert haps[s, hap].tobytes().decode() == seq, (r, s, hap)
                np.testing.assert_array_equal(tracks[s, hap], bigwig_values(_track_path(s), "22", coords))


def test_jitter_shifts_haplotypes_and_tracks_together(ds: gvl.Dataset) -> None:
    jit = ds.with_settings(jitter=64, fixed_jitter=True, return_indices=True)
    bed = ds.get_bed()
    r_idx = np.arange(ds.n_regions)
    s_idx = np.arange(ds.n_regions) % ds.n_samples
    haps, tracks, _, _, _ = jit[r_idx, s_idx]
    plain = ds.with_settings(jitter=0)[r_idx, s_idx]
    assert not np.array_equal(haps, plain[0]), "jitter=64 moved no window"
    for i, (r, s) in enumerate(zip(r_idx, s_idx, strict=True)):
        ws0 = int(bed["window_start"][int(r)])
        found = None
        for seq, coords in _expected(ds, int(r), int(s), 0, ws0, shifts=tuple(range(-64, 65))):
            if haps[i, 0].tobytes().decode() == seq:
                found = coords
                break
        assert found is not None, f"instance {i}: no shift in [-64, 64] reproduces the haplotype"
        np.testing.assert_array_equal(tracks[i, 0], bigwig_values(_track_path(int(s)), "22", found))


def test_deterministic_jitter_repeats_and_random_jitter_varies(ds: gvl.Dataset) -> None:
    det = ds.with_settings(jitter=64, fixed_jitter=True)
    a, b = det[:20][0], det[:20][0]
    np.testing.assert_array_equal(a, b)
    rnd = ds.with_settings(jitter=64, fixed_jitter=False)
    draws = [rnd[:20][0] for _ in range(3)]
    assert not all(np.array_equal(draws[0], d) for d in draws[1:])


def test_tracks_only_equal_pybigwig_in_reference_coordinates(ds: gvl.Dataset) -> None:
    just = ds.with_settings(return_sequences=False, jitter=0)
    bed = ds.get_bed()
    out = just[3, :]
    assert out.shape == (ds.n_samples, ds.region_length)
    lo = int(bed["window_start"][3])
    for s in range(ds.n_samples):
        np.testing.assert_array_equal(out[s], bigwig_values(_track_path(s), "22", np.arange(lo, lo + ds.region_length)))


def test_reference_mode_equals_fasta(ds: gvl.Dataset) -> None:
    ref = ds.with_settings(return_sequences="reference", return_tracks=False, jitter=0)
    bed = ds.get_bed()
    out = ref[5, 0]
    lo = int(bed["window_start"][5])
    assert out.tobytes().decode() == fasta_window(FASTA, "22", lo, lo + ds.region_length)


def test_negative_strand_is_reverse_complemented(tmp_path) -> None:
    path = write_small(tmp_path / "genes.gvl", GENES, SAMPLES[:2], length=2048)
    ds = gvl.Dataset.open(path, reference=FASTA)
    bed = ds.get_bed()
    neg = int(np.flatnonzero(bed["strand"].to_numpy() == "-")[0])
    haps, tracks = ds[neg, 0]
    raw_h, raw_t = ds.with_settings(rc_neg=False)[neg, 0]
    comp = bytes.maketrans(b"ACGTN", b"TGCAN")
    assert haps[0].tobytes() == raw_h[0].tobytes()[::-1].translate(comp)
    np.testing.assert_array_equal(tracks, raw_t[..., ::-1])
    pos = int(np.flatnonzero(bed["strand"].to_numpy() == "+")[0])
    np.testing.assert_array_equal(ds[pos, 0][0], ds.with_settings(rc_neg=False)[pos, 0][0])


@pytest.mark.parametrize("bed_row", ["22\t0\t1000\n", "22\t21999500\t22000000\n"], ids=["start", "end"])
def test_windows_past_contig_ends_read_n_and_zero(tmp_path, bed_row: str) -> None:
    bed = tmp_path / "edge.bed"
    bed.write_text(bed_row)
    path = write_small(tmp_path / "edge.gvl", bed, SAMPLES[:1], length=2000, max_jitter=10)
    ds = gvl.Dataset.open(path, reference=FASTA, jitter=0)
    haps, tracks = ds[0, 0]
    lo = int(ds.get_bed()["window_start"][0])
    expected = fasta_window(FASTA, "22", lo, lo + 2000)
    assert haps[0].tobytes().decode() == expected
    outside = np.arange(lo, lo + 2000)
    outside = (outside < 0) | (outside >= 22_000_000)
    assert outside.any()
    assert set(haps[0][outside].tobytes().decode()) == {"N"}
    assert np.all(tracks[:, outside] == 0)
