"""The simulated benchmark cohort (benchmarks/make_cohort.py, benchmarks/cohort.py).

A tiny cohort (50 samples × 50 kb, ~1 s) is generated with the same code as the 20,000-sample
one, over a real window of the kit FASTA that runs into the 16,697,850 assembly gap (so sites
on N are dropped) with 20% indels (so insertions and deletions occur). Checked: REF alleles
equal the FASTA, records are biallelic, sorted, unique and normalized; the same seed gives the
same files; the VCF, VCF Zarr and PGEN give identical stores; the store's haplotypes equal
`bcftools consensus` (live) and the slow Python reference (everywhere); and the benchmark
script runs and reports what it measured.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyfaidx
import pytest
import zarr

import gvl_zarr as gvl
from _oracle import BcftoolsOracle, live_bcftools, run_bcftools
from _slow_reference import apply_calls, fasta_window, haplotype_calls
from conftest import FASTA

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
CONTIG = "22"
START, LENGTH, REGION = 16_660_000, 50_000, 4_096
GAP_START = 16_697_850  # GRCh37 chr22 assembly gap 16,697,850-16,847,850 (N)
ARGS = ["--samples", "50", "--start", str(START), "--length", str(LENGTH), "--region-length", str(REGION)]
ARGS += ["--indels", "0.2", "--reference", FASTA]


def make(out: Path, *extra: str) -> dict:
    """Run make_cohort.py into `out`; its cohort.json."""
    cmd = [sys.executable, str(BENCH / "make_cohort.py"), *ARGS, "--out", str(out), *extra]
    subprocess.run(cmd, check=True, capture_output=True, cwd=BENCH)
    return json.loads((out / "cohort.json").read_text())


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "c"
    make(out, "--seed", "7")
    return out


@pytest.fixture(scope="module")
def stores(cohort: Path) -> dict[str, Path]:
    """The cohort written from each input format, with the REF check against the FASTA."""
    out = {}
    for fmt, name in (("vcf", "cohort.vcf.gz"), ("vcz", "cohort.vcz"), ("pgen", "cohort.pgen")):
        path = cohort / f"{fmt}.gvl"
        gvl.write(path, cohort / "regions.bed", variants=cohort / name, reference=FASTA, progress=False)
        out[fmt] = path
    return out


def records(vcf: Path) -> list[list[str]]:
    with gzip.open(vcf, "rt") as fh:
        return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]


def test_records_match_the_fasta_and_are_normalized(cohort: Path) -> None:
    meta = json.loads((cohort / "cohort.json").read_text())
    rows = records(cohort / "cohort.vcf.gz")
    assert len(rows) == meta["variants"] > 50
    counts = meta["counts"]
    assert counts["dropped_n_base"] > 0 and counts["insertion"] > 0 and counts["deletion"] > 0
    assert counts["snp"] + counts["insertion"] + counts["deletion"] == len(rows)
    pos = np.array([int(r[1]) for r in rows])
    assert (np.diff(pos) > 0).all()  # sorted, no duplicate positions
    assert pos[0] > START and pos[-1] <= GAP_START  # nothing past the window's last real base
    with pyfaidx.Fasta(FASTA, as_raw=True, sequence_always_upper=True) as fa:
        seq = fa[CONTIG]
        for i, r in enumerate(rows):
            p, ref, alt = int(r[1]) - 1, r[3], r[4]
            assert ref == seq[p : p + len(ref)], r[:5]
            assert "," not in alt and alt != ref and set(ref + alt) <= set("ACGT")
            assert len(ref) == 1 or len(alt) == 1  # SNP, insertion or deletion
            assert ref[0] == alt[0] or len(ref) == len(alt) == 1
            if i + 1 < len(rows):  # a deletion ends before the next record
                assert p + len(ref) < int(rows[i + 1][1])
    kinds = {(len(r[3]) > 1, len(r[4]) > 1) for r in rows}
    assert kinds == {(False, False), (True, False), (False, True)}
    gts = {cell for r in rows for cell in r[9:]}
    assert gts <= {"0|0", "0|1", "1|0", "1|1"} and len(rows[0]) == 9 + 50


@live_bcftools
def test_bcftools_norm_finds_nothing_to_change(cohort: Path) -> None:
    """`bcftools norm --check-ref e` accepts every REF and realigns no indel."""
    proc = run_bcftools("norm", "--check-ref", "e", "-f", FASTA, "-Ou", "-o", "/dev/null", cohort / "cohort.vcf.gz")
    line = next(s for s in proc.stderr.decode().splitlines() if s.startswith("Lines"))
    total, split, realigned, skipped = map(int, line.split("\t")[1].split("/"))
    assert total > 50 and (split, realigned, skipped) == (0, 0, 0)


def test_same_seed_same_files(tmp_path: Path, cohort: Path) -> None:
    meta = make(tmp_path / "again", "--seed", "7")
    make(tmp_path / "other", "--seed", "8")

    def digest(d: Path) -> str:
        with gzip.open(d / "cohort.vcf.gz") as fh:
            h = hashlib.sha256(fh.read())
        for name in ("cohort.pgen", "cohort.pvar", "regions.bed"):
            h.update((d / name).read_bytes())
        h.update(np.asarray(zarr.open_group(d / "cohort.vcz")["call_genotype"][:]).tobytes())
        return h.hexdigest()

    assert digest(tmp_path / "again") == digest(cohort)
    assert digest(tmp_path / "other") != digest(cohort)
    assert meta["variants"] == json.loads((cohort / "cohort.json").read_text())["variants"]


def test_vcf_vcz_and_pgen_give_the_same_store(stores: dict[str, Path]) -> None:
    base = gvl.Dataset.open(stores["vcf"])
    want = base[:, :]
    assert base.n_regions == LENGTH // REGION and base.n_samples == 50
    for fmt in ("vcz", "pgen"):
        ds = gvl.Dataset.open(stores[fmt])
        assert ds.samples == base.samples
        np.testing.assert_array_equal(ds[:, :], want, err_msg=fmt)


def _windows(stores: dict[str, Path]) -> tuple[gvl.Dataset, list[tuple[int, int]], list[int]]:
    """Regions and samples to compare."""
    ds = gvl.Dataset.open(stores["vcf"])
    regions = [(i, START + i * REGION) for i in (0, 3, 6, 9)]  # tiles; 9 runs into the gap's N bases
    return ds, regions, [0, 17, 49]


@live_bcftools
def test_haplotypes_equal_bcftools_consensus(cohort: Path, stores: dict[str, Path], tmp_path: Path) -> None:
    ds, regions, samples = _windows(stores)
    oracle = BcftoolsOracle(tmp_path / "oracle")
    vcf = cohort / "cohort.vcf.gz"
    for r, start in regions:
        for s in samples:
            got = ds[r, s]
            for h in range(2):
                want = oracle.haplotype(vcf, FASTA, ds.samples[s], h + 1, CONTIG, start, REGION)
                assert got[h].tobytes() == want, (r, ds.samples[s], h)


def test_haplotypes_equal_the_slow_reference(cohort: Path, stores: dict[str, Path]) -> None:
    ds, regions, samples = _windows(stores)
    vcf = str(cohort / "cohort.vcf.gz")
    ref = fasta_window(FASTA, CONTIG, START - 100, START + LENGTH + 100)
    applied = 0
    for r, start in regions:
        for s in samples:
            got = ds[r, s]
            for h in range(2):
                calls = haplotype_calls(vcf, ds.samples[s], h, CONTIG, start - 64, start + REGION + 64)
                want, _ = apply_calls(ref, START - 100, calls, start, REGION)
                assert got[h].tobytes().decode() == want, (r, ds.samples[s], h)
                applied += len(calls)
    assert applied > 20


def test_benchmark_script_reports_the_serial_write(cohort: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, str(BENCH / "cohort.py"), "--cohort", str(cohort), "--systems", "gvl_zarr"]
    cmd += ["--inputs", "vcz,pgen", "--workers", "2", "--max-mem", "256MiB", "--results", str(tmp_path), "--label", "t"]
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=BENCH)
    (result,) = tmp_path.glob("t_*.json")
    rows = json.loads(result.read_text())["rows"]
    serial = next(r for r in rows if r["workers"] == 0)
    meta = json.loads((cohort / "cohort.json").read_text())
    assert serial["write_s"] > 0 and serial["disk_bytes"] > 0 and serial["max_mem"] == 256 * 2**20
    assert serial["genotypes_per_s"] == pytest.approx(meta["variants"] * 50 / serial["write_s"])
    assert serial["peak_rss_mb"] > 50 and serial["tree_peak_rss_mb"] > 50
    assert "| gvl_zarr | vcz | 1 |" in proc.stdout and "| gvl_zarr | pgen | 1 |" in proc.stdout
    assert all(r["agrees"] for r in rows if "write_s" in r)  # the PGEN store reads as the VCF Zarr one
    dask = next(r for r in rows if r["workers"] == 2)
    if "client" in inspect.signature(gvl.write).parameters:
        assert len(dask["worker_peak_rss_mb"]) == 2 and dask["disk_bytes"] > 0
    else:
        assert "no client= keyword" in dask["unavailable"] and "unavailable rows" in proc.stdout
