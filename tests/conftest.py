"""Shared fixtures: the bundled real kit files and small datasets written from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import gvl_zarr as gvl
from _oracle import (  # noqa: F401  (fixtures)
    REQUIRE_ENV,
    bcftools_oracle,
    bcftools_path,
    bed_past_contig_end,
    bigwig_table_missing_sample,
    live_bcftools_available,
    vcf_unindexed,
    vcf_with_missing_gt,
    vcf_with_ref_mismatch,
    vcf_with_unphased_het,
)


def pytest_report_header(config: pytest.Config) -> str:
    if bcftools_path():
        return f"bcftools: {bcftools_path()} (live bcftools checks collected)"
    if live_bcftools_available():
        return f"bcftools: not on PATH but {REQUIRE_ENV}=1: live bcftools checks will fail"
    return "bcftools: not on PATH; live bcftools checks not collected, committed bcftools outputs used"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave ``live_bcftools`` tests out (deselected, not skipped) where bcftools cannot run.

    Their committed-output counterparts still run, so nothing is skipped on a machine
    with only the project's own install step.
    """
    if live_bcftools_available():
        return
    live = [item for item in items if item.get_closest_marker("live_bcftools")]
    if live:
        items[:] = [item for item in items if not item.get_closest_marker("live_bcftools")]
        config.hook.pytest_deselected(items=live)


DATA = Path(__file__).resolve().parent / "data"
FASTA = str(DATA / "grch37.chr22_1-22000000.fa.bgz")
VCF = str(DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz")
VCF_NORM = str(DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz")
STAT1 = str(DATA / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw")
COVERAGE = str(DATA / "NA24385_WGS_coverage_500bp.grch37_22.bw")
STAT1_CHR = str(DATA / "STAT1.chr22_named.subset.bw")
TILES = str(DATA / "tiles_16384.grch37.chr22_vcf_span.bed")
GENES = str(DATA / "genes.grch37.chr22_16.05-22Mb.spliceai_gencode.bed")

SAMPLES = ["NA12878", "HG00096", "HG00097", "NA18486", "NA19238", "HG01595"]
"""Samples of the small test datasets; tracks alternate STAT1 and WGS coverage."""


def check_epoch(loader, local: gvl.Dataset) -> None:
    """Every batch equals the local read of its indices, and the epoch covers every instance."""
    seen = []
    for hap, track, idx, _r, _s in loader:
        want_hap, want_track = local[idx.numpy()]
        np.testing.assert_array_equal(hap.numpy(), want_hap.view(np.uint8))
        np.testing.assert_array_equal(track.numpy(), want_track)
        seen.append(idx.numpy())
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(len(local)))


def bigwig_table(tmp: Path, samples: list[str], paths: list[str] | None = None) -> Path:
    paths = paths or [STAT1 if i % 2 == 0 else COVERAGE for i in range(len(samples))]
    table = tmp / "bigwigs.csv"
    pl.DataFrame({"sample": samples, "path": paths}).write_csv(table)
    return table


def write_small(
    path: Path, bed, samples: list[str], *, length: int, max_jitter: int = 0, bigwigs: list[str] | None = None
) -> Path:
    """Write a dataset of the kit VCF with one BigWig track ("bigwig") for `samples`."""
    table = bigwig_table(path.parent, samples, bigwigs)
    gvl.write(
        path,
        bed,
        variants=VCF,
        bigwigs=gvl.BigWigs.from_table("bigwig", table),
        length=length,
        max_jitter=max_jitter,
        samples=samples,
        progress=False,
    )
    return path


@pytest.fixture(scope="session")
def tiles_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 28 VCF-span tiles, 6 samples, length 4096, max_jitter 64, one track."""
    return write_small(tmp_path_factory.mktemp("tiles") / "tiles.gvl", TILES, SAMPLES, length=4096, max_jitter=64)


@pytest.fixture
def ds(tiles_dataset: Path) -> gvl.Dataset:
    return gvl.Dataset.open(tiles_dataset, reference=FASTA)


@pytest.fixture(scope="session")
def s3():
    """A moto S3 server on loopback for the whole session."""
    from _servers import serve_s3

    yield from serve_s3()


@pytest.fixture(scope="session")
def s3_tiles(s3, tiles_dataset: Path) -> str:
    """`tiles_dataset` uploaded as is to s3://<bucket>/tiles.gvl."""
    url = f"s3://{s3.bucket()}/tiles.gvl"
    s3.upload(tiles_dataset, url)
    return url
