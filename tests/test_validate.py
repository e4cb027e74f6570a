"""`gvl-zarr validate` and `gvl-zarr info` on real stores written from the kit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import gvl_zarr as gvl
from _inputs import bgzip, kit_lines
from conftest import COVERAGE, FASTA, GENES, SAMPLES, STAT1, TILES, VCF, bigwig_table
from gvl_zarr.validate import validate

CLI = [sys.executable, "-m", "gvl_zarr.cli"]


@pytest.fixture(scope="module")
def genes_store(tmp_path_factory) -> tuple[Path, Path]:
    """Gene windows (both strands, reference stored, jitter room) with one track."""
    tmp = tmp_path_factory.mktemp("validate")
    table = bigwig_table(tmp, SAMPLES[:4])
    out = tmp / "genes.gvl"
    gvl.write(
        out,
        GENES,
        variants=VCF,
        bigwigs=gvl.BigWigs.from_table("signal", table),
        length=2048,
        max_jitter=16,
        samples=SAMPLES[:4],
        reference=FASTA,
        progress=False,
    )
    return out, table


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_validate_passes_on_a_good_store(genes_store) -> None:
    out, _ = genes_store
    bed = pl.read_csv(GENES, separator="\t", has_header=False)
    assert set(bed[:, 5].to_list()) == {"+", "-"}
    report = validate(out, n=120, seed=3)  # sources recorded at write time
    assert report.ok, report.summary()
    assert report.instances == 120
    assert report.chunks > 20
    assert not report.notes, report.notes
    proc = _run("validate", out, "--reference", FASTA, "--n", 40, "--seed", 1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout and "40 instance(s)" in proc.stdout


def test_validate_on_tiles_with_explicit_sources(tiles_dataset, tmp_path) -> None:
    table = bigwig_table(tmp_path, SAMPLES)
    report = validate(tiles_dataset, reference=FASTA, variants=VCF, bigwig_tables={"bigwig": table}, n=10_000)
    assert report.ok, report.summary()
    assert report.instances == 28 * len(SAMPLES)


def test_validate_names_the_damaged_chunk(genes_store, tmp_path) -> None:
    copy = tmp_path / "damaged.gvl"
    shutil.copytree(genes_store[0], copy)
    shard = copy / "genotypes" / "variant_index" / "c" / "0"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    report = validate(copy, n=5)
    assert not report.ok
    assert "chunk (0,) of array 'genotypes/variant_index' fails its crc32c checksum" in report.problems[0]
    proc = _run("validate", copy, "--n", 5)
    assert proc.returncode == 1
    assert "genotypes/variant_index" in proc.stdout


def test_validate_names_a_missing_shard_and_an_incomplete_store(genes_store, tmp_path) -> None:
    copy = tmp_path / "missing.gvl"
    shutil.copytree(genes_store[0], copy)
    (copy / "reference" / "sequence" / "c" / "0").unlink()
    report = validate(copy, n=5)
    assert any("reference/sequence" in p for p in report.problems), report.problems
    meta = copy / "zarr.json"
    meta.write_text(meta.read_text().replace('"gvl_zarr_complete": true', '"gvl_zarr_complete": false'))
    report = validate(copy)
    assert "not a complete gvl_zarr dataset" in report.problems[0]


def test_validate_names_the_instance_when_a_bigwig_differs(genes_store, tmp_path) -> None:
    out, _ = genes_store
    swapped = bigwig_table(tmp_path, SAMPLES[:4], [COVERAGE if i % 2 == 0 else STAT1 for i in range(4)])
    report = validate(out, bigwig_tables={"signal": swapped}, n=200)
    assert not report.ok
    first = report.problems[0]
    assert "instance (region" in first and "track 'signal'" in first
    assert "NA24385_WGS_coverage" in first or "GM12878_STAT1" in first


def test_validate_names_the_instance_when_the_vcf_differs(genes_store, tmp_path) -> None:
    out, _ = genes_store
    ds = gvl.Dataset.open(out)
    bed = ds.get_bed()
    lo, hi = int(bed["window_start"][0]), int(bed["window_end"][0])
    header, records = kit_lines()
    col = 9 + header[-1].split("\t")[9:].index("HG00096")
    edited, out_lines = [], []
    for line in records:
        f = line.split("\t")
        if lo < int(f[1]) <= hi and len(f[3]) == 1 and f[4] in "ACGT" and f[col] == "0|0":
            f[col] = "1|1"  # HG00096 now carries this SNP on both haplotypes
            edited.append(int(f[1]))
        out_lines.append("\t".join(f))
    assert edited
    vcf = bgzip(tmp_path, "edited.vcf.gz", header + out_lines)
    report = validate(out, variants=vcf, reference=FASTA, n=10_000)
    assert not report.ok
    region = bed["chrom"][0]
    assert f"instance (region 0 {region}:{lo}-{hi}" in report.problems[0]
    assert "sample HG00096" in report.problems[0] and "edited.vcf.gz" in report.problems[0]


def test_info_lists_contents_sizes_and_provenance(genes_store) -> None:
    out, table = genes_store
    proc = _run("info", out)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    n_regions = len(Path(GENES).read_text().splitlines())
    assert f"regions: {n_regions:,}" in text
    assert "samples: 4" in text and "tracks: signal" in text
    assert "format_version: 2" in text
    for part in ("genotypes:", "variants:", "reference:", "tracks/signal:"):
        assert part in text
    assert "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz" in text and str(Path(table).resolve()) in text
    assert "zarr 3." in text and "written: 20" in text


def test_provenance_is_recorded(genes_store) -> None:
    prov = gvl.Dataset.open(genes_store[0])._data.attrs["provenance"]
    assert prov["inputs"]["variants"]["path"] == str(Path(VCF).resolve())
    assert prov["inputs"]["variants"]["bytes"] == Path(VCF).stat().st_size
    assert prov["inputs"]["reference"]["path"] == str(Path(FASTA).resolve())
    assert prov["inputs"]["tracks"]["signal"]["n_files"] == 2
    assert prov["versions"]["gvl-zarr"] == gvl.__version__


def test_validate_without_sources_checks_structure_only(tiles_dataset, tmp_path) -> None:
    copy = tmp_path / "moved.gvl"
    shutil.copytree(tiles_dataset, copy)
    meta = copy / "zarr.json"
    text = meta.read_text().replace(TILES, "/nonexistent.bed").replace(str(Path(VCF).resolve()), "/nonexistent.vcf.gz")
    meta.write_text(text.replace(VCF, "/nonexistent.vcf.gz"))
    report = validate(copy)
    assert report.ok
    assert any("VCF /nonexistent.vcf.gz not found" in n for n in report.notes), report.notes


def test_validate_tracks_only_store_and_reference_mode(tmp_path) -> None:
    table = bigwig_table(tmp_path, SAMPLES[:2])
    out = tmp_path / "tracks.gvl"
    gvl.write(out, TILES, bigwigs=gvl.BigWigs.from_table("signal", table), length=1024, progress=False)
    report = validate(out, reference=FASTA, n=30)
    assert report.ok, report.summary()
    assert report.instances == 30
    (tmp_path / "swapped").mkdir()
    swapped = bigwig_table(tmp_path / "swapped", SAMPLES[:2], [COVERAGE, STAT1])
    assert not validate(out, bigwig_tables={"signal": swapped}, n=30).ok


def test_validate_reference_only_when_the_vcf_is_gone(genes_store, tmp_path) -> None:
    copy = tmp_path / "moved.gvl"
    shutil.copytree(genes_store[0], copy)
    meta = copy / "zarr.json"
    meta.write_text(meta.read_text().replace(str(Path(VCF).resolve()), "/gone.vcf.gz").replace(VCF, "/gone.vcf.gz"))
    report = validate(copy, n=20)
    assert report.ok, report.summary()
    assert report.instances == 20
    assert any("/gone.vcf.gz not found" in n for n in report.notes)
