"""Tracks read beside the genotypes: `fetch_end` from a text pass over the VCF's record sites."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import cyvcf2
import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from conftest import FASTA, GENES, SAMPLES, TILES, VCF, VCF_NORM
from gvl_zarr import _partition
from gvl_zarr.errors import InputFileError
from gvl_zarr.readers.bed import read_bed
from gvl_zarr.readers.vcf import VcfReader
from test_writes import _distinct_bigwigs, _store_files

write_mod = importlib.import_module("gvl_zarr.write")  # gvl_zarr.write is the function


def _regions(bed: str, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = read_bed(bed)
    df = df.filter(df["chrom"] == "22")
    mid = (df["chromStart"].to_numpy() + df["chromEnd"].to_numpy()) // 2
    start = (mid - length // 2).astype(np.int64)
    order = np.argsort(start, kind="stable")
    start = start[order]
    return np.zeros(len(start), np.int32), start, start + length


@pytest.mark.parametrize("variants", [VCF, VCF_NORM])
@pytest.mark.parametrize(("bed", "length", "jitter"), [(TILES, 16384, 0), (TILES, 16384, 5000), (GENES, 2000, 300)])
def test_site_pass_fetch_ends_equal_the_genotype_reads(tmp_path: Path, variants, bed, length, jitter) -> None:
    """The real VCFs (multiallelics, symbolic ALTs, long deletions) over tiles, gene windows
    (many outside the VCF's span) and wide jitter: the site pass gives every region the
    fetch_end the genotype read computes."""
    vcf = VcfReader(variants, SAMPLES)
    contig_idx, start, end = _regions(bed, length)
    early = write_mod.site_fetch_ends(vcf, ["22"], contig_idx, start, end, jitter)
    group = zarr.open_group(zarr.storage.LocalStore(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    fetch_end = write_mod._write_genotypes(group, vcf, ["22"], contig_idx, start, end, jitter, None, False)
    assert early is not None
    assert (fetch_end > end + jitter).any() or bed == GENES  # deletions in reach grew some tiles
    np.testing.assert_array_equal(early, fetch_end)


def test_site_pass_declines_what_it_cannot_read(tmp_path: Path) -> None:
    """A BCF has no text to scan: no early fetch_end (the write reads the tracks after)."""
    bcf = tmp_path / "x.bcf"
    src = cyvcf2.VCF(VCF_NORM)
    out = cyvcf2.Writer(str(bcf), src, mode="wb")
    for rec in src("22:16050000-16060000"):
        out.write_record(rec)
    out.close()
    import subprocess

    subprocess.run(["bcftools", "index", "-c", str(bcf)], check=True)
    vcf = VcfReader(bcf)
    assert vcf.site_reader() is None
    assert write_mod.site_fetch_ends(vcf, ["22"], *_regions(TILES, 1000), 0) is None


@pytest.fixture(scope="module")
def bigwigs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    samples = cyvcf2.VCF(VCF).samples[:40]  # more than 32 files: read by worker processes
    return _distinct_bigwigs(tmp_path_factory.mktemp("bw") / "bigwigs", samples), samples


def _write(out: Path, table: Path, samples: list[str], **extra) -> None:
    gvl.write(
        out, TILES, variants=VCF, bigwigs=gvl.BigWigs.from_table("bw", table), length=16384, max_jitter=128,
        reference=FASTA, samples=samples, annot_bigwigs={"ann": str(Path(table).parent / f"{samples[0]}.bw")},
        progress=False, **extra,
    )  # fmt: skip


@pytest.fixture
def overlap(monkeypatch) -> None:
    """Tracks read beside the genotypes whatever the machine's cores."""
    monkeypatch.setattr(_partition, "_spare_cores", lambda: True)


def test_tracks_beside_genotypes_store_the_same_bytes(tmp_path: Path, bigwigs, monkeypatch, overlap) -> None:
    """The overlapped write stores every array byte for byte as the write that reads the
    tracks after the genotypes (no site pass), in one partition and in four; a site pass
    that disagreed with the genotypes (forced here) has its tracks read again, same bytes."""
    table, samples = bigwigs
    _write(tmp_path / "overlap.gvl", table, samples)
    _write(tmp_path / "parts.gvl", table, samples, regions_per_partition=14, samples_per_partition=20)
    real = write_mod.site_fetch_ends
    monkeypatch.setattr(write_mod, "site_fetch_ends", lambda *a, **k: None)
    _write(tmp_path / "serial.gvl", table, samples)
    _write(tmp_path / "serial_parts.gvl", table, samples, regions_per_partition=14, samples_per_partition=20)
    monkeypatch.setattr(write_mod, "site_fetch_ends", lambda *a, **k: real(*a, **k) - 1)
    _write(tmp_path / "wrong.gvl", table, samples)
    files = _store_files(tmp_path / "serial.gvl")
    assert any(k.startswith("tracks/bw/") for k in files) and any(k.startswith("tracks/ann/") for k in files)
    assert _store_files(tmp_path / "overlap.gvl") == files
    assert _store_files(tmp_path / "wrong.gvl") == files
    assert _store_files(tmp_path / "parts.gvl") == _store_files(tmp_path / "serial_parts.gvl")


def test_a_failed_genotype_read_stops_the_track_reads(tmp_path: Path, bigwigs, monkeypatch, overlap) -> None:
    """The genotype read failing while the tracks are read beside it raises its own error,
    stops the track thread (and its worker processes) and leaves nothing at the output."""
    table, samples = bigwigs
    real = write_mod._write_genotypes
    started = []

    def failing(*args, **kwargs):
        started.append(threading.active_count())
        real(*args, **kwargs)
        raise InputFileError("genotypes failed")

    monkeypatch.setattr(write_mod, "_write_genotypes", failing)
    with pytest.raises(InputFileError, match="genotypes failed"):
        _write(tmp_path / "f.gvl", table, samples)
    assert started and started[0] > 1  # the track thread was running beside the genotypes
    assert not [t for t in threading.enumerate() if t.name == "gvl-zarr-background"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("f.gvl")]
