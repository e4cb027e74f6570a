"""Bad input gets a clear error naming the file, record or region and the fix."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import gvl_zarr as gvl
from _slow_reference import fasta_window
from conftest import FASTA, SAMPLES, STAT1, STAT1_CHR, TILES, VCF, VCF_NORM, bigwig_table, write_small


def _small_bed(tmp_path, rows=("22\t16100000\t16104096",)) -> str:
    bed = tmp_path / "small.bed"
    bed.write_text("\n".join(rows) + "\n")
    return str(bed)


def test_chr_prefixed_bigwig_is_matched_automatically(tmp_path) -> None:
    write_small(tmp_path / "a.gvl", _small_bed(tmp_path), ["NA12878"], length=4096, bigwigs=[STAT1_CHR])
    write_small(tmp_path / "b.gvl", _small_bed(tmp_path), ["NA12878"], length=4096, bigwigs=[STAT1])
    a = gvl.Dataset.open(tmp_path / "a.gvl", return_sequences=False)[0, 0]
    b = gvl.Dataset.open(tmp_path / "b.gvl", return_sequences=False)[0, 0]
    assert a.any()
    np.testing.assert_array_equal(a, b)


def test_unmatched_contig_names_the_file(tmp_path) -> None:
    bed = _small_bed(tmp_path, ["scaffold_9\t100\t200"])
    with pytest.raises(gvl.ContigMismatchError, match=r"scaffold_9.*1kgp3.*rename"):
        gvl.write(tmp_path / "x.gvl", bed, variants=VCF, length=100, progress=False)


def test_ref_mismatch_names_record(tmp_path, vcf_with_ref_mismatch) -> None:
    v = vcf_with_ref_mismatch
    bed = _small_bed(tmp_path, [f"22\t{v.pos - 100}\t{v.pos + 100}"])
    out = tmp_path / "m.gvl"
    gvl.write(out, bed, variants=v.path, length=1000, progress=False)
    with pytest.raises(gvl.ReferenceMismatchError, match=rf"22:{v.pos}.*{v.vcf_ref}.*{v.fasta_ref}"):
        gvl.Dataset.open(out, reference=FASTA)
    with pytest.raises(gvl.ReferenceMismatchError, match=rf"22:{v.pos}"):
        gvl.write(tmp_path / "n.gvl", bed, variants=v.path, length=1000, reference=FASTA, progress=False)
    assert not (tmp_path / "n.gvl").exists()


def test_region_past_contig_end(tmp_path, bed_past_contig_end) -> None:
    with pytest.raises(gvl.InputFileError, match=r"row 2.*past the end of contig 22"):
        gvl.write(tmp_path / "e.gvl", bed_past_contig_end, variants=VCF, length=1000, reference=FASTA, progress=False)


def test_bigwig_table_sample_missing_from_vcf(tmp_path, bigwig_table_missing_sample) -> None:
    with pytest.raises(gvl.InputFileError, match=r"names sample.*lacks"):
        gvl.write(
            tmp_path / "s.gvl",
            _small_bed(tmp_path),
            variants=VCF,
            length=4096,
            bigwigs=gvl.BigWigs.from_table("bigwig", bigwig_table_missing_sample),
            progress=False,
        )


def test_unindexed_vcf(tmp_path, vcf_unindexed) -> None:
    with pytest.raises(gvl.MissingFileError, match=r"no index.*bcftools index"):
        gvl.write(tmp_path / "u.gvl", _small_bed(tmp_path), variants=vcf_unindexed, length=4096, progress=False)


def test_existing_dataset_needs_overwrite(tiles_dataset) -> None:
    with pytest.raises(gvl.DatasetExistsError, match="overwrite=True"):
        gvl.write(tiles_dataset, TILES, variants=VCF, length=4096, progress=False)


def test_missing_reference(tiles_dataset) -> None:
    with pytest.raises(gvl.MissingFileError, match=r"nope\.fa"):
        gvl.Dataset.open(tiles_dataset, reference="nope.fa")


def test_jitter_above_max_jitter(ds) -> None:
    with pytest.raises(gvl.SettingsError, match="max_jitter=64"):
        ds.with_settings(jitter=65)


def test_index_out_of_range(ds) -> None:
    with pytest.raises(gvl.DatasetIndexError, match="out of range"):
        ds[28, 0]
    with pytest.raises(gvl.DatasetIndexError, match="out of range"):
        ds[len(ds)]
    with pytest.raises(IndexError):
        ds[0, 6]


def test_unphased_het_is_an_error_unless_allowed(tmp_path, vcf_with_unphased_het) -> None:
    edit = vcf_with_unphased_het.edits[0]
    bed = _small_bed(tmp_path, [f"22\t{edit.pos - 500}\t{edit.pos + 500}"])
    with pytest.raises(gvl.UnphasedGenotypeError, match=rf"22:{edit.pos}.*allow_unphased=True"):
        gvl.write(tmp_path / "p.gvl", bed, variants=vcf_with_unphased_het.path, length=1000, progress=False)
    assert not os.path.exists(tmp_path / "p.gvl")
    gvl.write(
        tmp_path / "p.gvl", bed, variants=vcf_with_unphased_het.path, length=1000, allow_unphased=True, progress=False
    )
    ds = gvl.Dataset.open(tmp_path / "p.gvl", FASTA)
    haps = ds[0, ds.samples.index(edit.sample)]
    # written 0/1: haplotype 2 carries the ALT
    assert haps.shape == (2, 1000)
    assert haps[0].tobytes() != haps[1].tobytes()


def test_missing_genotypes_read_as_reference(tmp_path, vcf_with_missing_gt) -> None:
    edits = [e for e in vcf_with_missing_gt.edits if len(e.ref) == 1 and len(e.alt) == 1]
    assert edits
    rows = [f"22\t{e.pos - 50}\t{e.pos + 50}" for e in edits]
    gvl.write(
        tmp_path / "g.gvl",
        _small_bed(tmp_path, rows),
        variants=vcf_with_missing_gt.path,
        length=100,
        samples=sorted({e.sample for e in edits}),
        progress=False,
    )
    ds = gvl.Dataset.open(tmp_path / "g.gvl", FASTA, jitter=0)
    for r, e in enumerate(edits):
        haps = ds[r, ds.samples.index(e.sample)]
        lo = int(ds.get_bed()["window_start"][r])
        i = e.pos - 1 - lo
        new = e.new.split("|")
        for h in range(2):
            expected = e.alt if new[h] == "1" else fasta_window(FASTA, "22", e.pos - 1, e.pos)
            assert haps[h, i].decode() == expected, (e, h)


def test_failed_write_leaves_no_dataset(tmp_path, monkeypatch) -> None:
    out = tmp_path / "f.gvl"
    import sys

    write_mod = sys.modules["gvl_zarr.write"]

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(write_mod, "_write_track", boom)
    table = bigwig_table(tmp_path, ["NA12878"], [STAT1])
    with pytest.raises(KeyboardInterrupt):
        gvl.write(
            out,
            TILES,
            variants=VCF,
            length=4096,
            samples=["NA12878"],
            bigwigs=gvl.BigWigs.from_table("bigwig", table),
            progress=False,
        )
    assert not out.exists()
    assert not any(p.name.startswith("f.gvl") for p in tmp_path.iterdir())


def test_store_without_completion_marker_is_refused(tiles_dataset, tmp_path) -> None:
    copy = tmp_path / "copy.gvl"
    shutil.copytree(tiles_dataset, copy)
    import json

    meta = copy / "zarr.json"
    doc = json.loads(meta.read_text())
    del doc["attributes"]["gvl_zarr_complete"]
    meta.write_text(json.dumps(doc))
    with pytest.raises(gvl.IncompleteDatasetError, match="interrupted"):
        gvl.Dataset.open(copy, FASTA)


def test_multiallelic_records_split_and_equal_normalised(tmp_path) -> None:
    bed = _small_bed(tmp_path, ["22\t16050000\t16500000"])
    for name, vcf in (("orig", VCF), ("norm", VCF_NORM)):
        with pytest.warns(UserWarning, match="symbolic") if name == "orig" else _nullcontext():
            gvl.write(tmp_path / f"{name}.gvl", bed, variants=vcf, length=450000, samples=SAMPLES, progress=False)
    a = gvl.Dataset.open(tmp_path / "orig.gvl", FASTA)[0, :]
    b = gvl.Dataset.open(tmp_path / "norm.gvl", FASTA)[0, :]
    np.testing.assert_array_equal(a, b)


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
