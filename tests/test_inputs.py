"""Variant inputs beyond one VCF: PGEN, VCF Zarr, and several files split by contig.

Every format must give the same store as the VCF holding the same genotypes: all
arrays equal, and so every read equal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pgenlib
import polars as pl
import pytest
import zarr

import gvl_zarr as gvl
from _oracle import requires_bcftools
from _servers import serve_http
from conftest import DATA, FASTA, SAMPLES, STAT1, TILES, VCF, VCF_NORM, bigwig_table
from gvl_zarr.readers.bed import read_bed

PGEN = str(DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.pgen")
PGEN21 = str(DATA / "chr21_phase3_start.pgen")
VCF21 = str(DATA / "chr21_phase3_start.plink2.vcf.gz")  # the chr21 PGEN exported by plink2 2.00a3.5

# chr21 windows over the PGEN's 485 variants (21:9,411,239-9,419,951), with its 3 multiallelic sites
BED21 = pl.DataFrame(
    {
        "chrom": ["21", "21", "21"],
        "chromStart": [9_410_000, 9_414_000, 9_417_000],
        "chromEnd": [9_412_000, 9_416_000, 9_419_000],
    }
)
# samples whose chr21 calls use ALT 2 of the multiallelic sites, plus the kit's usual ones
SAMPLES21 = ["HG00100", "HG00099", "NA12878", "HG00096", "HG00101", "NA19238"]


def tiles() -> pl.DataFrame:
    """The kit's VCF-span tiles as a (chrom, chromStart, chromEnd) table."""
    return read_bed(TILES).select("chrom", "chromStart", "chromEnd")


def store_arrays(path: Path | str) -> dict[str, np.ndarray]:
    """Every array of a store, by path."""
    root = zarr.open_group(str(path), mode="r")
    return {name: arr[...] for name, arr in root.arrays()} | {
        f"{g}/{name}": arr[...] for g, grp in root.groups() for name, arr in grp.arrays()
    }


def assert_same_store(a: Path | str, b: Path | str) -> None:
    x, y = store_arrays(a), store_arrays(b)
    assert sorted(x) == sorted(y)
    assert any(k.startswith("genotypes/") for k in x)
    for k in x:
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)
    ax, ay = (dict(zarr.open_group(str(p), mode="r").attrs) for p in (a, b))
    ax["inputs"].pop("variants"), ay["inputs"].pop("variants")
    ax.pop("provenance"), ay.pop("provenance")  # input files, dates
    assert ax == ay


def write(path: Path, variants, bed=TILES, **kw) -> Path:
    kw.setdefault("length", 4096)
    gvl.write(path, bed, variants=variants, progress=False, **kw)
    return path


# ------------------------------------------------------------------ PGEN
def test_pgen_store_equals_vcf_store(tmp_path: Path) -> None:
    """The kit PGEN holds the normalised VCF's genotypes: identical store and reads."""
    samples = SAMPLES[::-1]  # not the file order: columns are permuted back
    table = bigwig_table(tmp_path, samples)
    kw = dict(samples=samples, max_jitter=32, reference=FASTA, bigwigs=gvl.BigWigs.from_table("bigwig", table))
    a = write(tmp_path / "vcf.gvl", VCF_NORM, **kw)
    b = write(tmp_path / "pgen.gvl", PGEN, **kw)
    assert_same_store(a, b)
    assert zarr.open_group(str(b), mode="r").attrs["inputs"]["variants"] == PGEN
    da, db = gvl.Dataset.open(a, jitter=0), gvl.Dataset.open(b, jitter=0)
    ha, ta = da[:, :]
    hb, tb = db[:, :]
    np.testing.assert_array_equal(ha, hb)
    np.testing.assert_array_equal(ta, tb)


def test_pgen_all_samples_in_file_order(tmp_path: Path) -> None:
    bed = tiles()[:3]
    a = write(tmp_path / "vcf.gvl", VCF_NORM, bed=bed)
    b = write(tmp_path / "pgen.gvl", PGEN, bed=bed)
    assert_same_store(a, b)
    assert zarr.open_group(str(b), mode="r")["samples"].shape == (2504,)


def test_multiallelic_pgen_equals_plink2_export(tmp_path: Path) -> None:
    """The chr21 PGEN's multiallelic records need allele index offsets; plink2's own VCF export agrees."""
    a = write(tmp_path / "vcf.gvl", VCF21, bed=BED21, length=2000, samples=SAMPLES21, max_jitter=100)
    b = write(tmp_path / "pgen.gvl", PGEN21, bed=BED21, length=2000, samples=SAMPLES21, max_jitter=100)
    assert_same_store(a, b)
    # read another way: pgenlib's per-variant read of rs66525445 (21:9,417,961 T>C,G)
    pvar = pgenlib.PvarReader(PGEN21.replace(".pgen", ".pvar.zst").encode())
    row = next(i for i in range(pvar.get_variant_ct()) if pvar.get_variant_pos(i) == 9_417_961)
    assert pvar.get_allele_ct(row) == 3
    psam = [line.split()[0] for line in (DATA / "chr21_phase3_start.psam").read_text().splitlines()[1:]]
    reader = pgenlib.PgenReader(PGEN21.encode(), pvar=pvar)
    alleles = np.empty(2 * len(psam), np.int32)
    reader.read_alleles(row, alleles)
    expected = alleles.reshape(-1, 2)[[psam.index(s) for s in SAMPLES21]]
    store = store_arrays(b)
    pos, alt = store["variants/pos"], store["variants/alt"]
    alt_off = store["variants/alt_offsets"]
    rows = {bytes(alt[alt_off[v] : alt_off[v + 1]]): v for v in np.flatnonzero(pos == 9_417_960)}
    assert set(rows) == {b"C", b"G"}
    got = np.zeros_like(expected)
    offs, calls = store["genotypes/offsets"], store["genotypes/variant_index"]
    region = 2  # the window over 9,417,000-9,419,000
    for s in range(len(SAMPLES21)):
        for h in range(2):
            lo, hi = offs[region, s, h]
            for v in calls[lo:hi]:
                if v in rows.values():
                    got[s, h] = 1 if v == rows[b"C"] else 2
    np.testing.assert_array_equal(got, expected)
    assert (expected == 2).any()


# ------------------------------------------------------------------ VCF Zarr
@pytest.fixture(scope="session")
def vcz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original kit VCF (multiallelics, a symbolic CNV) converted by bio2zarr's vcf2zarr."""
    out = tmp_path_factory.mktemp("vcz") / "kit.vcz"
    subprocess.run(
        [sys.executable, "-m", "bio2zarr", "vcf2zarr", "convert", "-Q", "-p", "0", VCF, str(out)],
        check=True,
        capture_output=True,
    )
    return out


def test_vcf_zarr_store_equals_vcf_store(tmp_path: Path, vcz: Path) -> None:
    kw = dict(samples=SAMPLES, max_jitter=16, reference=FASTA)
    with pytest.warns(UserWarning, match="symbolic"):
        a = write(tmp_path / "vcf.gvl", VCF, **kw)
    with pytest.warns(UserWarning, match="VCF Zarr .* symbolic"):
        b = write(tmp_path / "vcz.gvl", vcz, **kw)
    assert_same_store(a, b)
    ha, hb = gvl.Dataset.open(a, jitter=0)[:, :], gvl.Dataset.open(b, jitter=0)[:, :]
    np.testing.assert_array_equal(ha, hb)


@pytest.fixture
def vcz_url(vcz: Path) -> Iterator[str]:
    for server in serve_http(vcz.parent):
        yield f"{server.url}/{vcz.name}"


def test_vcf_zarr_over_http(tmp_path: Path, vcz: Path, vcz_url: str) -> None:
    """A VCF Zarr at an fsspec URL (a real HTTP server on loopback) reads like the local copy."""
    bed = tiles()[:4]
    with pytest.warns(UserWarning, match="symbolic"):
        a = write(tmp_path / "local.gvl", vcz, bed=bed, samples=SAMPLES)
    with pytest.warns(UserWarning, match="symbolic"):
        b = write(tmp_path / "http.gvl", vcz_url, bed=bed, samples=SAMPLES)
    assert_same_store(a, b)
    assert zarr.open_group(str(b), mode="r").attrs["inputs"]["variants"] == vcz_url


# ------------------------------------------------------------------ several files
@requires_bcftools
def test_files_per_contig_equal_their_concatenation(tmp_path: Path) -> None:
    """variants=[chr21, chr22] (any formats) gives the store of one file with both contigs."""
    both = tmp_path / "both.vcf.gz"
    subprocess.run(["bcftools", "concat", "-Oz", "-o", str(both), VCF21, VCF_NORM], check=True, capture_output=True)
    subprocess.run(["bcftools", "index", "-t", str(both)], check=True)
    tile = tiles()
    bed = pl.concat(
        [
            tile[:2].with_columns(chromEnd=pl.col("chromStart") + 2000),
            BED21,
            tile[5:6].with_columns(chromEnd=pl.col("chromStart") + 2000),
        ]
    )
    kw = dict(bed=bed, length=2000, samples=SAMPLES21, max_jitter=8)
    one = write(tmp_path / "one.gvl", str(both), **kw)
    two = write(tmp_path / "two.gvl", [VCF21, VCF_NORM], **kw)
    mixed = write(tmp_path / "mixed.gvl", [PGEN21, PGEN], **kw)
    assert_same_store(one, two)
    assert_same_store(one, mixed)
    root = zarr.open_group(str(two), mode="r")
    assert root.attrs["contigs"] == ["22", "21"]
    assert set(np.unique(root["variants/contig"][:])) == {0, 1}
    assert root.attrs["inputs"]["variants"] == [VCF21, VCF_NORM]


# ------------------------------------------------------------------ bad input
def assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not list(tmp_path.glob("*.partial-*"))


def test_pgen_without_pvar_or_psam(tmp_path: Path) -> None:
    lone = tmp_path / "lone.pgen"
    shutil.copy(PGEN, lone)
    out = tmp_path / "out.gvl"
    with pytest.raises(gvl.MissingFileError, match=r"lone\.pgen needs .*lone\.pvar.*lone\.psam.*Fix"):
        write(out, str(lone))
    assert_nothing_written(tmp_path, out)
    shutil.copy(PGEN.replace(".pgen", ".pvar"), tmp_path / "lone.pvar")
    with pytest.raises(gvl.MissingFileError, match=r"needs .*lone\.psam") as info:
        write(out, str(lone))
    assert "lone.pvar," not in str(info.value)
    assert_nothing_written(tmp_path, out)


def test_pgen_psam_samples_differ_from_bigwig_table(tmp_path: Path) -> None:
    table = bigwig_table(tmp_path, ["NA12878", "NA24385"], [STAT1, STAT1])
    out = tmp_path / "out.gvl"
    with pytest.raises(gvl.InputFileError, match=r"sample\(s\) \['NA24385'\] that PGEN .*\.pgen lacks.*Fix"):
        write(out, PGEN, bigwigs=gvl.BigWigs.from_table("bigwig", table))
    assert_nothing_written(tmp_path, out)


def test_vcf_zarr_without_phase_array(tmp_path: Path, vcz: Path) -> None:
    """No call_genotype_phased means unphased calls: heterozygous ones are an error unless allowed."""
    unphased = tmp_path / "unphased.vcz"
    shutil.copytree(vcz, unphased)
    shutil.rmtree(unphased / "call_genotype_phased")
    out = tmp_path / "out.gvl"
    with pytest.raises(
        gvl.UnphasedGenotypeError,
        match=r"VCF Zarr .*unphased\.vcz, record 22:\d+, sample \w+: heterozygous.*allow_unphased=True",
    ):
        write(out, unphased, samples=SAMPLES)
    assert_nothing_written(tmp_path, out)
    with pytest.warns(UserWarning, match="symbolic"):
        write(out, unphased, samples=SAMPLES, allow_unphased=True)
    with pytest.warns(UserWarning, match="symbolic"):
        ref = write(tmp_path / "vcf.gvl", VCF, samples=SAMPLES)
    assert_same_store(ref, out)  # these calls are phased in truth, so the stored order is the same


def test_variant_files_with_overlapping_contigs(tmp_path: Path) -> None:
    out = tmp_path / "out.gvl"
    with pytest.raises(
        gvl.InputFileError,
        match=r"variant files .*norm\.biallelic\.vcf\.gz and .*\.pgen both hold records on contig 22.*Fix",
    ):
        write(out, [VCF_NORM, PGEN])
    assert_nothing_written(tmp_path, out)


def test_variant_files_with_different_samples(tmp_path: Path) -> None:
    psam = tmp_path / "chr21.psam"
    lines = (DATA / "chr21_phase3_start.psam").read_text().splitlines()
    psam.write_text("\n".join([lines[0], *(line.replace("HG00096", "HG99999") for line in lines[1:])]) + "\n")
    shutil.copy(PGEN21, tmp_path / "chr21.pgen")
    shutil.copy(PGEN21.replace(".pgen", ".pvar.zst"), tmp_path / "chr21.pvar.zst")
    out = tmp_path / "out.gvl"
    with pytest.raises(gvl.InputFileError, match=r"different samples .*HG99999.*HG00096.*Fix"):
        write(out, [str(tmp_path / "chr21.pgen"), VCF_NORM])
    assert_nothing_written(tmp_path, out)


@pytest.fixture
def pgen_unphased_het(tmp_path: Path) -> tuple[str, int, str]:
    """The chr21 PGEN rewritten with pgenlib, one heterozygous call of rs66525445 left unphased.

    Returns (path, 1-based POS, sample).
    """
    pvar_path = PGEN21.replace(".pgen", ".pvar.zst")
    pvar = pgenlib.PvarReader(pvar_path.encode())
    reader = pgenlib.PgenReader(PGEN21.encode(), pvar=pvar)
    psam = [line.split()[0] for line in (DATA / "chr21_phase3_start.psam").read_text().splitlines()[1:]]
    n, m = reader.get_variant_ct(), len(psam)
    out = tmp_path / "edited.pgen"
    shutil.copy(pvar_path, tmp_path / "edited.pvar.zst")
    shutil.copy(DATA / "chr21_phase3_start.psam", tmp_path / "edited.psam")
    writer = pgenlib.PgenWriter(
        str(out).encode(), m, variant_ct=n, nonref_flags=False, allele_ct_limit=3, hardcall_phase_present=True
    )
    target = next(i for i in range(n) if pvar.get_variant_pos(i) == 9_417_961)
    alleles = np.empty(2 * m, np.int32)
    phase = np.empty(m, np.uint8)
    edited = ""
    for i in range(n):
        reader.read_alleles_and_phasepresent(i, alleles, phase)
        if i == target:
            g = alleles.reshape(-1, 2)
            # a call stored as a0 > a1 keeps its phase (PGEN cannot hold it otherwise): pick a0 < a1
            s = int(np.flatnonzero(phase.astype(bool) & (g[:, 0] < g[:, 1]))[0])
            phase[s] = 0
            edited = psam[s]
        writer.append_partially_phased(alleles, phase, pvar.get_allele_ct(i))
    writer.close()
    return str(out), 9_417_961, edited


def test_unphased_pgen_het_is_an_error_unless_allowed(tmp_path: Path, pgen_unphased_het) -> None:
    """PGEN follows the VCF rule: an unphased heterozygous call has undefined haplotypes."""
    path, pos, sample = pgen_unphased_het
    out = tmp_path / "out.gvl"
    with pytest.raises(
        gvl.UnphasedGenotypeError,
        match=rf"PGEN .*edited\.pgen, record 21:{pos}, sample {sample}: .*allow_unphased=True",
    ):
        write(out, path, bed=BED21, length=2000)
    assert_nothing_written(tmp_path, out)
    write(out, path, bed=BED21, length=2000, allow_unphased=True)
    full = write(tmp_path / "orig.gvl", PGEN21, bed=BED21, length=2000)
    assert_same_store(out, full)  # the call was 0|1 and pgenlib gives an unphased het in allele order


def test_cli_takes_a_pgen_and_several_variant_files(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "gvl_zarr.cli", "write"]
    opts = ["--length", "2000", "--quiet"]
    bed = tmp_path / "both.bed"
    bed.write_text("22\t16050000\t16052000\n21\t9417000\t9419000\n")
    pgen = subprocess.run(
        [*base, str(tmp_path / "a.gvl"), str(bed), "--variants", PGEN21, "--variants", PGEN, *opts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pgen.returncode == 0, pgen.stderr
    vcf = subprocess.run(
        [*base, str(tmp_path / "b.gvl"), str(bed), "--variants", VCF21, "--variants", VCF_NORM, *opts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert vcf.returncode == 0, vcf.stderr
    assert_same_store(tmp_path / "a.gvl", tmp_path / "b.gvl")
    bad = subprocess.run(
        [*base, str(tmp_path / "c.gvl"), str(bed), "--variants", PGEN, "--variants", VCF_NORM, *opts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "both hold records on contig 22" in bad.stderr and "Traceback" not in bad.stderr


def test_pvar_of_another_pgen(tmp_path: Path) -> None:
    shutil.copy(PGEN21, tmp_path / "x.pgen")
    shutil.copy(PGEN.replace(".pgen", ".pvar"), tmp_path / "x.pvar")
    shutil.copy(PGEN.replace(".pgen", ".psam"), tmp_path / "x.psam")
    out = tmp_path / "out.gvl"
    with pytest.raises(
        gvl.InputFileError, match=r"x\.pgen does not match .*x\.pvar \(6135 variants\).*485 variants.*Fix"
    ):
        write(out, str(tmp_path / "x.pgen"))
    assert_nothing_written(tmp_path, out)


def test_vcf_zarr_format_3(tmp_path: Path) -> None:
    """bio2zarr's Zarr v3 output, in small variant chunks (many per region), reads like the VCF."""
    vcz3 = tmp_path / "norm.vcz"
    cmd = [sys.executable, "-m", "bio2zarr", "vcf2zarr", "convert", "-Q", "-p", "0", "--zarr-format", "3", "-l", "256"]
    subprocess.run([*cmd, VCF_NORM, str(vcz3)], check=True, capture_output=True)
    assert (vcz3 / "zarr.json").exists()
    bed = tiles()[10:14]
    assert_same_store(write(tmp_path / "a.gvl", VCF_NORM, bed=bed), write(tmp_path / "b.gvl", vcz3, bed=bed))


@requires_bcftools
def test_vcf_zarr_missing_calls_read_like_vcf(tmp_path: Path, vcf_with_missing_gt) -> None:
    """Missing alleles (`.|.`, `.|1`) pass through bio2zarr (-1) and read as reference, as in the VCF."""
    vcz = tmp_path / "missing.vcz"
    cmd = [sys.executable, "-m", "bio2zarr", "vcf2zarr", "convert", "-Q", "-p", "0"]
    subprocess.run([*cmd, str(vcf_with_missing_gt.path), str(vcz)], check=True, capture_output=True)
    samples = list(dict.fromkeys(e.sample for e in vcf_with_missing_gt.edits))
    kw = dict(samples=samples, reference=FASTA)
    a = write(tmp_path / "vcf.gvl", str(vcf_with_missing_gt.path), **kw)
    b = write(tmp_path / "vcz.gvl", vcz, **kw)
    assert_same_store(a, b)


def test_vcf_zarr_without_region_index(tmp_path: Path, vcz: Path) -> None:
    """Stores without bio2zarr's region_index are queried from their position arrays instead."""
    bare = tmp_path / "bare.vcz"
    shutil.copytree(vcz, bare)
    shutil.rmtree(bare / "region_index")
    kw = dict(bed=tiles()[:6], samples=SAMPLES, max_jitter=16)
    with pytest.warns(UserWarning, match="symbolic"):
        a = write(tmp_path / "indexed.gvl", vcz, **kw)
    with pytest.warns(UserWarning, match="symbolic"):
        b = write(tmp_path / "bare.gvl", bare, **kw)
    assert_same_store(a, b)
