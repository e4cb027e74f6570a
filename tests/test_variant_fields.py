"""Variant fields (INFO per variant, FORMAT per call) in the "variants" output, AF
filters, and spliced output lengths, against GenVarLoader 0.43.1's own outputs
(tests/data/gvl_expected_variants/make_expected.py) and against cyvcf2 on the kit VCF."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pytest
import zarr

import gvl_zarr as gvl
from _gvl_expected_b import make_expected as splice_inputs
from _gvl_live import assert_reproduces, gvl_python
from _inputs import bgzip, kit_lines
from conftest import DATA, FASTA, VCF

EXPECTED = DATA / "gvl_expected_variants"
VCF_DS = DATA / "dosages.chr22_16.049-16.140Mb.6s.vcf.gz"
PGEN = DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.pgen"
ALL = ["alt", "ilen", "start", "ref", "AF", "dosage"]


def _load(name: str) -> dict[str, np.ndarray]:
    with np.load(EXPECTED / name) as z:
        assert str(z["version"]) == "0.43.1"
        return {k: z[k] for k in z.files}


def _regions() -> pl.DataFrame:
    starts = [16049600, 16051800, 16055400, 16063900, 16136300]
    return pl.DataFrame(
        {
            "chrom": ["22"] * 5,
            "chromStart": starts,
            "chromEnd": [s + 1000 for s in starts],
            "strand": ["+", "-", "+", "+", "-"],
        }
    )


@pytest.fixture(scope="module")
def fields_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fields") / "fields.gvl"
    gvl.write(path, _regions(), variants=VCF_DS, var_fields=["AF", "dosage"], progress=False)
    return path


@pytest.fixture(scope="module")
def want() -> dict[str, np.ndarray]:
    return _load("fields.npz")


def _open(path: Path, want: dict, **settings) -> gvl.Dataset:
    ds = gvl.Dataset.open(path, FASTA, jitter=0, return_sequences="variants", **settings)
    return ds.subset_to(samples=want["samples"].tolist())


def _check(rv: gvl.RaggedVariants, want: dict, prefix: str, names: list[str]) -> None:
    for name in names:
        got = rv[name]
        key = f"{prefix}_{name}"
        if name in ("alt", "ref"):  # one row per variant, bases back to back
            np.testing.assert_array_equal(got.data.view(np.uint8), want[key], err_msg=key)
            np.testing.assert_array_equal(np.diff(got.offsets), want[f"{key}_lengths"], err_msg=key)
        else:
            assert got.shape == (5, 6, 2)
            np.testing.assert_array_equal(got.offsets, want[f"{key}_offsets"], err_msg=key)
            np.testing.assert_array_equal(got.data, want[key], err_msg=key)


def test_fields_equal_genvarloader(fields_store: Path, want) -> None:
    ds = _open(fields_store, want)
    assert ds.available_var_fields == ALL
    assert ds.active_var_fields == ["alt", "ilen", "start"]
    rv = ds.with_settings(var_fields=ALL)[:, :]
    assert rv.fields == ["alt", "start", "ref", "ilen", "AF", "dosage"]
    _check(rv, want, "vcf", ["alt", "ilen", "start", "ref", "AF"])
    _check(rv, want, "svar", ["dosage"])  # GenVarLoader reads dosages from a SparseVar only
    assert rv.dosage is rv["dosage"] and rv["AF"].data.dtype == np.float32
    # REF and ALT of '-' strand regions (r1, r4) are reverse-complemented, as GenVarLoader does
    assert len(rv.ref.data) > 0 and rv.ilen.data.min() < 0 < rv.ilen.data.max()
    np.testing.assert_array_equal(rv.end.data, rv.start.data + np.diff(rv.ref.offsets))
    # the GenVarLoader-named open keyword does the same
    again = _open(fields_store, want, var_fields=["alt", "start", "dosage"])[:, :]
    np.testing.assert_array_equal(again.dosage.data, rv.dosage.data)
    assert again.ref is None and list(again.extra) == ["dosage"]


def test_pad_rc_union_and_nested_equal_genvarloader(fields_store: Path, want) -> None:
    """GenVarLoader 0.43.1's RaggedVariants helpers and unphased_union on the same data."""
    fields = ["alt", "ilen", "start", "ref", "AF"]
    ds = _open(fields_store, want, var_fields=fields)
    rv = ds[:, :]
    padded = rv.pad(AF=-1.0)
    _check(padded, want, "pad", fields)
    empty = np.diff(rv.start.offsets) == 0
    assert empty.any() and (padded.var_idxs.data[padded.start.data == -1] == -1).all()
    with pytest.raises(ValueError, match=r"pad values missing for fields \['AF'\]"):
        rv.pad()
    flat = ds[np.arange(30) // 6, np.arange(30) % 6]
    assert flat.shape == (30, 2)
    flipped = flat.rc_(np.arange(30) % 3 == 0)
    for name in ("alt", "ref"):
        np.testing.assert_array_equal(flipped[name].data.view(np.uint8), want[f"rc_{name}"])
        np.testing.assert_array_equal(np.diff(flipped[name].offsets), want[f"rc_{name}_lengths"])
    assert not np.array_equal(flipped.alt.data, flat.alt.data)
    nested = rv.to_nested_tensor_batch(tokenizer="seqpro")
    for key, value in nested.items():
        if isinstance(value, int):
            assert value == int(want[f"nested_{key}"]), key
        else:
            np.testing.assert_array_equal(value.values().numpy(), want[f"nested_{key}"], err_msg=key)
            np.testing.assert_array_equal(value.offsets().numpy(), want[f"nested_{key}_offsets"], err_msg=key)
    assert set(nested) == {k[len("nested_") :] for k in want if k.startswith("nested_") and not k.endswith("_offsets")}
    union = ds.with_settings(var_fields=["alt", "ilen", "start"], unphased_union=True)[:, :]
    assert union.shape == (5, 6, 1)
    for name in ("ilen", "start"):
        np.testing.assert_array_equal(union[name].offsets, want[f"union_{name}_offsets"])
        np.testing.assert_array_equal(union[name].data, want[f"union_{name}"])
    np.testing.assert_array_equal(union.alt.data.view(np.uint8), want["union_alt"])
    with pytest.raises(gvl.SettingsError, match="unphased_union folds haplotypes"):
        ds.with_settings(unphased_union=True).with_seqs("haplotypes")


def test_af_filter_equals_genvarloader(fields_store: Path, want) -> None:
    ds = _open(fields_store, want, var_fields=["alt", "ilen", "start", "ref", "AF"], min_af=0.05, max_af=0.5)
    rv = ds[:, :]
    _check(rv, want, "af", ["alt", "ilen", "start", "ref", "AF"])
    assert ((rv["AF"].data >= 0.05) & (rv["AF"].data <= 0.5)).all()
    unfiltered = ds.with_settings(min_af=False, max_af=False)[:, :]
    assert len(unfiltered.start.data) == len(want["vcf_start"]) > len(rv.start.data)


def test_dosages_follow_samples_and_missing_values(fields_store: Path, tmp_path: Path) -> None:
    """Each call's dosage is its sample's FORMAT/DS for that record (cyvcf2), whatever
    order samples were written in; '.' reads as NaN."""
    order = ["HG01595", "HG00097", "NA12878"]
    path = tmp_path / "reordered.gvl"
    whole = pl.DataFrame({"chrom": ["22"], "chromStart": [16_049_000], "chromEnd": [16_140_000]})
    gvl.write(path, whole, variants=VCF_DS, samples=order, var_fields=["dosage", "INFO/AC"], progress=False)
    ds = gvl.Dataset.open(path, jitter=0, return_sequences="variants", var_fields=["dosage", "AC"])
    rv = ds[:, :]
    truth = {}
    reader = cyvcf2.VCF(str(VCF_DS))
    for rec in reader:
        for s, name in enumerate(reader.samples):
            truth[(rec.POS - 1, name)] = (float(rec.format("DS")[s, 0]), int(rec.INFO["AC"]))
    n_nan = 0
    for i in range(len(rv.start.data)):
        row = int(np.searchsorted(rv.start.offsets, i, side="right")) - 1  # (region, sample, ploid) row
        sample = order[(row // 2) % 3]
        ds_value, ac = truth[(int(rv.start.data[i]), sample)]
        got = float(rv.dosage.data[i])
        assert (np.isnan(got) and np.isnan(ds_value)) or got == pytest.approx(ds_value), (i, sample)
        assert rv["AC"].data[i] == ac
        n_nan += np.isnan(got)
    assert n_nan > 0 and len(rv.start.data) > 20  # missing dosages are exercised


def test_info_fields_of_multiallelic_records_equal_cyvcf2(tmp_path: Path) -> None:
    """Number=A (AF, AC) fields give each split ALT its own value; Number=1 (NS) repeats
    the record's value on every ALT; the kit VCF's multiallelic records included."""
    bed = pl.DataFrame({"chrom": ["22"], "chromStart": [16_050_000], "chromEnd": [16_120_000]})
    path = tmp_path / "multi.gvl"
    with pytest.warns(UserWarning, match="symbolic ALT"):
        gvl.write(
            path, bed, variants=VCF, samples=["NA12878", "HG00096"], var_fields=["AF", "AC", "NS"], progress=False
        )
    g = zarr.open_group(str(path), mode="r")
    assert g.attrs["var_fields"]["AC"]["number"] == "A" and g["variants/info/AC"].dtype == np.int32
    pos, alt_off, alt = g["variants/pos"][:], g["variants/alt_offsets"][:], g["variants/alt"][:]
    stored = {(int(p), alt[alt_off[i] : alt_off[i + 1]].tobytes().decode()): i for i, p in enumerate(pos)}
    n_multi = 0
    for rec in cyvcf2.VCF(VCF)("22:16050001-16120000"):
        n_multi += len(rec.ALT) > 1
        for k, a in enumerate(rec.ALT):
            i = stored.get((rec.POS - 1, a))
            if i is None:
                continue  # symbolic ALTs get no row
            af, ac = rec.INFO["AF"], rec.INFO["AC"]
            af, ac = (af, ac) if isinstance(af, tuple) else ((af,), (ac,))
            assert g["variants/info/AF"][i] == np.float32(af[k])
            assert g["variants/info/AC"][i] == ac[k]
            assert g["variants/info/NS"][i] == rec.INFO["NS"]
    assert n_multi > 0


def test_field_errors_name_file_field_and_fix(tmp_path: Path, fields_store: Path) -> None:
    bed = _regions()
    with pytest.raises(gvl.InputFileError, match=r"dosages\.chr22.*no INFO/FORMAT field 'XX'.*Fix"):
        gvl.write(tmp_path / "a.gvl", bed, variants=VCF_DS, var_fields=["XX"], progress=False)
    with pytest.raises(gvl.InputFileError, match=r"no FORMAT field 'GP'.*dosage_field"):
        gvl.write(tmp_path / "a.gvl", bed, variants=VCF_DS, var_fields=["dosage"], dosage_field="GP", progress=False)
    with pytest.raises(gvl.InputFileError, match=r"INFO/VT is Number=\., Type=String.*Fix"):
        gvl.write(tmp_path / "a.gvl", bed, variants=VCF_DS, var_fields=["VT"], progress=False)
    with pytest.raises(gvl.InputFileError, match=r"PGEN .*\.pgen has no INFO/FORMAT field 'AF'.*FORMAT/DS"):
        gvl.write(tmp_path / "a.gvl", bed, variants=PGEN, var_fields=["AF"], progress=False)
    assert not (tmp_path / "a.gvl").exists()
    ds = gvl.Dataset.open(fields_store, return_sequences="variants")
    with pytest.raises(gvl.SettingsError, match=r"var_fields \['DP'\] are not in .*write\(\.\.\., var_fields="):
        ds.with_settings(var_fields=["alt", "DP"])
    with pytest.raises(gvl.SettingsError, match=r"min_af must be an allele frequency"):
        ds.with_settings(min_af=2)
    with pytest.raises(gvl.SettingsError, match=r"output length 100 does not apply"):
        ds.with_len(100)
    assert ds.with_len("variable")[0, 0].shape == (2,)  # variants are ragged whatever


def test_stores_without_fields_open_and_refuse_af(tmp_path: Path) -> None:
    """A store written without var_fields (format_version 2 as before) serves alt, ilen,
    start and ref; AF bounds need a stored AF."""
    path = tmp_path / "plain.gvl"
    gvl.write(path, _regions(), variants=VCF_DS, progress=False)
    assert "var_fields" not in zarr.open_group(str(path), mode="r").attrs
    ds = gvl.Dataset.open(path, return_sequences="variants")
    assert ds.available_var_fields == ["alt", "ilen", "start", "ref"]
    rv = ds.with_settings(var_fields=["alt", "ref"])[:2, :]
    assert rv.ref is not None and len(rv.ref.offsets) == len(rv.start.data) + 1
    with pytest.raises(gvl.SettingsError, match=r"min_af filters on INFO/AF.*var_fields=\['AF'\]"):
        ds.with_settings(min_af=0.1)
    with pytest.raises(KeyError, match="no field 'dosage'"):
        _ = rv.dosage


def test_fields_in_the_dataloader(fields_store: Path) -> None:
    ds = gvl.Dataset.open(fields_store, return_sequences="variants", var_fields=["alt", "ref", "dosage"])
    start, ilen, ids, alt, ref, dosage = next(iter(ds.to_dataloader(batch_size=30)))
    rv = ds[:30]
    assert start.size(0) == ilen.size(0) == ids.size(0) == 60 and alt.size(0) == len(rv.start.data)
    assert dosage.is_nested and dosage.size(0) == 60
    np.testing.assert_array_equal(dosage.values().numpy(), rv.dosage.data)
    assert ref.size(0) == len(rv.start.data)


def test_spliced_variable_length_and_variants_equal_genvarloader(tmp_path: Path) -> None:
    """with_len("variable") pads each batch's transcripts with N to the longest, and
    "variants" joins each transcript's exons' variants, as GenVarLoader 0.43.1; an int
    length and 'annotated' are refused."""
    want = _load("spliced_variable.npz")
    bed = splice_inputs.exon_bed()
    path = tmp_path / "exons.gvl"
    samples = splice_inputs.SPLICE_SAMPLES
    length = int((bed["chromEnd"] - bed["chromStart"]).max())
    gvl.write(path, bed, variants=splice_inputs.VCF_NORM, samples=samples, length=length, progress=False)
    ds = gvl.Dataset.open(path, FASTA, splice_info=("transcript_id", "exon_number")).subset_to(
        samples=want["samples"].tolist()
    )
    haps = ds.with_len("variable")[:, :]
    assert haps.dtype == np.dtype("S1") and haps.shape == want["haplotypes"].shape
    np.testing.assert_array_equal(haps.view(np.uint8), want["haplotypes"])
    ref = ds.with_seqs("reference").with_len("variable")[:, :]
    np.testing.assert_array_equal(ref.view(np.uint8), want["reference"])
    ragged = ds.with_len("ragged")[:, :]
    assert isinstance(ragged, gvl.Ragged) and int(ragged.lengths.max()) == haps.shape[-1]
    with pytest.raises(gvl.SettingsError, match=r"int output length \(100\) does not apply"):
        ds.with_len(100)
    with pytest.raises(gvl.SettingsError, match="'annotated' is not provided for spliced"):
        ds.with_seqs("annotated")
    # "variants": each transcript's variants, exon after exon (alleles of '-' exons reverse-complemented)
    rv = ds.with_seqs("variants")[:, :]
    assert isinstance(rv, gvl.RaggedVariants) and rv.shape == (3, 4, 2)
    for name in ("start", "ilen"):
        np.testing.assert_array_equal(rv[name].offsets, want[f"variants_{name}_offsets"])
        np.testing.assert_array_equal(rv[name].data, want[f"variants_{name}"])
    np.testing.assert_array_equal(rv.alt.data.view(np.uint8), want["variants_alt"])
    np.testing.assert_array_equal(np.diff(rv.alt.offsets), want["variants_alt_lengths"])
    assert (rv.ilen.data < 0).any()  # POTEH's 3-bp deletion
    unspliced = gvl.Dataset.open(path, FASTA, jitter=0, return_sequences="variants")
    exons = bed.with_row_index("row").filter(pl.col("transcript_id") == "POTEH").sort("exon_number")["row"]
    per_exon = unspliced[exons.to_numpy(), unspliced.samples.index("HG01958")]  # (exons, ploidy); wider windows
    t = ds.transcripts.index("POTEH")
    for p in range(2):
        joined = rv.start.row((t * 4 + ds.samples.index("HG01958")) * 2 + p)
        within = []
        for e, (lo, hi) in enumerate(zip(bed["chromStart"][exons], bed["chromEnd"][exons], strict=True)):
            starts, ends = per_exon.start.row(e * 2 + p), per_exon.end.row(e * 2 + p)
            within += starts[(starts < hi) & (ends > lo)].tolist()
        assert joined.tolist() == within


if gvl_python() is not None:
    # Collected only where GenVarLoader is installed (a fresh machine compares against the
    # committed expected files above instead of reporting a skip).

    def test_expected_variant_outputs_reproduce_live(tmp_path: Path) -> None:
        names = ("fields.npz", "spliced_variable.npz")
        assert_reproduces(EXPECTED / "make_expected.py", tmp_path, {name: _load(name) for name in names})


def test_pgen_dosages_count_alt_alleles_of_plink2_export(tmp_path: Path) -> None:
    """A PGEN's dosage (pgenlib; hard calls here) of each call is the number of copies of
    that ALT the sample carries in plink2's own VCF export, multiallelic ALTs included."""
    pgen = DATA / "chr21_phase3_start.pgen"
    vcf = DATA / "chr21_phase3_start.plink2.vcf.gz"
    samples = ["NA12878", "HG00096", "HG00097", "NA18486"]
    bed = pl.DataFrame({"chrom": ["21"], "chromStart": [9_411_000], "chromEnd": [9_420_000]})
    path = tmp_path / "pgen.gvl"
    gvl.write(path, bed, variants=pgen, samples=samples, var_fields=["dosage"], allow_unphased=True, progress=False)
    rv = gvl.Dataset.open(path, jitter=0, return_sequences="variants", var_fields=["dosage"])[0, :]
    reader = cyvcf2.VCF(str(vcf), samples=samples)
    col = [reader.samples.index(s) for s in samples]
    copies = {}
    for rec in reader:
        gt = rec.genotype.array()[col, :2]
        for k, alt in enumerate(rec.ALT, start=1):
            for s in range(len(samples)):
                copies[(rec.POS - 1, alt, s)] = float((gt[s] == k).sum())
    alt_seqs = [rv.alt.row(i).tobytes().decode() for i in range(len(rv.start.data))]
    n_multi = 0
    for i in range(len(rv.start.data)):
        s = (int(np.searchsorted(rv.start.offsets, i, side="right")) - 1) // 2
        assert rv.dosage.data[i] == copies[(int(rv.start.data[i]), alt_seqs[i], s)], i
        n_multi += int(rv.start.data[i]) + 1 in (9415721, 9417961, 9418260)
    assert n_multi > 0 and set(np.unique(rv.dosage.data)) <= {1.0, 2.0}


def test_cli_writes_and_shows_variant_fields(tmp_path: Path, fields_store: Path) -> None:
    bed = tmp_path / "regions.bed"
    _regions().select("chrom", "chromStart", "chromEnd").write_csv(bed, separator="\t", include_header=False)
    out = tmp_path / "cli.gvl"
    cmd = [sys.executable, "-m", "gvl_zarr.cli", "write", str(out), str(bed), "--variants", str(VCF_DS)]
    cmd += ["--length", "1000", "--var-fields", "AF,dosage", "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert gvl.Dataset.open(out, return_sequences="variants").available_var_fields == ALL
    shown = subprocess.run(
        [sys.executable, "-m", "gvl_zarr.cli", "info", str(fields_store)], check=True, capture_output=True, text=True
    ).stdout
    assert "variant fields: AF (INFO/AF, float32), dosage (FORMAT/DS, float32)" in shown


def test_format_fields_per_alt_of_multiallelic_records(tmp_path: Path) -> None:
    """A Number=R FORMAT field (AD) gives each ALT call its own allele's value, a Number=1
    one (GQ) the sample's value; missing Integer values read as -2147483648."""
    header, records = kit_lines()
    keep = [0, 1, 2]  # three samples of the kit's records in 22:16.05-16.12 Mb
    lines = [*header[:-1], '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="allele depth (made up)">']
    lines += ['##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="genotype quality (made up)">']
    lines.append("\t".join(header[-1].split("\t")[: 9 + len(keep)]))
    truth = {}
    for r, line in enumerate(records):
        cols = line.split("\t")
        if not 16_050_000 <= int(cols[1]) < 16_120_000:
            continue
        n_alleles = len(cols[4].split(",")) + 1
        calls = []
        for s in keep:
            ad = [10 * s + a + r % 5 for a in range(n_alleles)]
            gq = "." if (r + s) % 9 == 0 else str(20 + s + r % 30)
            calls.append(f"{cols[9 + s]}:{','.join(map(str, ad))}:{gq}")
            for k, alt in enumerate(cols[4].split(","), start=1):
                truth[(int(cols[1]) - 1, alt, s)] = (ad[k], int(gq) if gq != "." else -(2**31))
        lines.append("\t".join([*cols[:8], "GT:AD:GQ", *calls]))
    vcf = bgzip(tmp_path, "ad.vcf.gz", lines)
    bed = pl.DataFrame({"chrom": ["22"], "chromStart": [16_050_000], "chromEnd": [16_120_000]})
    path = tmp_path / "ad.gvl"
    with pytest.warns(UserWarning, match="symbolic ALT"):
        gvl.write(path, bed, variants=vcf, var_fields=["AD", "GQ"], progress=False)
    rv = gvl.Dataset.open(path, return_sequences="variants", var_fields=["AD", "GQ"])[0, :]
    assert rv["AD"].data.dtype == np.int32
    n_missing = 0
    for i in range(len(rv.start.data)):
        s = (int(np.searchsorted(rv.start.offsets, i, side="right")) - 1) // 2
        alt = rv.alt.row(i).tobytes().decode()
        ad, gq = truth[(int(rv.start.data[i]), alt, s)]
        assert (rv["AD"].data[i], rv["GQ"].data[i]) == (ad, gq), i
        n_missing += gq == -(2**31)
    per_pos = Counter(p for p, _, _ in truth)
    multi = {p for p, n in per_pos.items() if n > len(keep)}  # records with several ALTs
    assert n_missing > 0 and multi & set(rv.start.data.tolist())


@pytest.mark.parametrize("axis", ["regions", "samples"])
def test_concat_keeps_variant_fields(tmp_path: Path, axis: str) -> None:
    """Joined stores serve the fields both were written with, equal to one store written
    from all the regions (or samples) at once."""
    bed = _regions()
    samples = ["NA12878", "HG00096", "HG00097", "NA18486"]
    fields = ["AF", "dosage"]
    whole = tmp_path / "whole.gvl"
    gvl.write(whole, bed, variants=VCF_DS, samples=samples, var_fields=fields, progress=False)
    parts = [tmp_path / "a.gvl", tmp_path / "b.gvl"]
    halves = [(bed[:2], samples), (bed[2:], samples)] if axis == "regions" else [(bed, samples[:2]), (bed, samples[2:])]
    for path, (b, s) in zip(parts, halves, strict=True):
        gvl.write(path, b, variants=VCF_DS, samples=s, var_fields=fields, progress=False)
    b, s = halves[1]
    gvl.write(tmp_path / "c.gvl", b, variants=VCF_DS, samples=s, var_fields=["AF"], progress=False)
    gvl.concat(tmp_path / "joined.gvl", parts, axis=axis)
    settings = {"return_sequences": "variants", "var_fields": ["alt", "start", "AF", "dosage"], "jitter": 0}
    want = gvl.Dataset.open(whole, **settings)[:, :]
    got = gvl.Dataset.open(tmp_path / "joined.gvl", **settings)[:, :]
    for name in ("start", "AF", "dosage"):
        np.testing.assert_array_equal(got[name].offsets, want[name].offsets)
        np.testing.assert_array_equal(got[name].data, want[name].data)
    other = [parts[0], tmp_path / "c.gvl"]
    gvl.concat(tmp_path / "partial.gvl", other, axis=axis)
    assert gvl.Dataset.open(tmp_path / "partial.gvl", return_sequences="variants").available_var_fields == [
        "alt",
        "ilen",
        "start",
        "ref",
        "AF",
    ]


def test_fields_do_not_depend_on_query_grouping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written one region per variant query (records shared by neighbouring queries stored
    once), the fields equal the one-query write's; FORMAT fields narrow the queries."""
    import importlib

    write_mod = importlib.import_module("gvl_zarr.write")
    width = write_mod._variant_group_width
    assert width(2 << 30, 2504, 2, 1) < width(2 << 30, 2504, 2)  # FORMAT values are held per query
    starts = np.arange(16_050_000, 16_136_000, 6_000)
    bed = pl.DataFrame({"chrom": ["22"] * len(starts), "chromStart": starts, "chromEnd": starts + 8_000})
    kw = dict(variants=VCF_DS, length=8_000, max_jitter=500, var_fields=["AF", "dosage"], progress=False)
    gvl.write(tmp_path / "one.gvl", bed, **kw)
    asked: list[int] = []

    def narrow(max_mem: int, n_samples: int, ploidy: int, n_format_fields: int = 0) -> int:
        asked.append(n_format_fields)
        return 1

    monkeypatch.setattr(write_mod, "_variant_group_width", narrow)
    gvl.write(tmp_path / "many.gvl", bed, **kw)
    assert asked == [1]
    one, many = (zarr.open_group(str(tmp_path / n), mode="r") for n in ("one.gvl", "many.gvl"))
    for path in ("variants/info/AF", "genotypes/fields/dosage", "genotypes/variant_index", "genotypes/offsets"):
        np.testing.assert_array_equal(one[path][...], many[path][...], err_msg=path)


def test_fields_read_chunk_by_chunk_equal_resident(tmp_path: Path) -> None:
    """With a cache too small to hold the variant table or the calls, fields are gathered
    chunk by chunk (renumbered calls) and equal the resident read."""
    samples = cyvcf2.VCF(str(DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz")).samples[:300]
    starts = [16_100_000, 16_200_000, 16_300_000, 16_400_000]
    bed = pl.DataFrame({"chrom": ["22"] * 4, "chromStart": starts, "chromEnd": [s + 16_384 for s in starts]})
    path = tmp_path / "big.gvl"
    gvl.write(path, bed, variants=PGEN, samples=samples, var_fields=["dosage"], progress=False)
    kw = dict(return_sequences="variants", var_fields=["alt", "ref", "dosage"], jitter=0)
    resident = gvl.Dataset.open(path, **kw)
    chunked = gvl.Dataset.open(path, cache_bytes=16384, preload=False, **kw)
    assert resident._data.calls.resident and not chunked._data.calls.resident
    assert not chunked._data.v_pos.resident
    idx = np.array([700, 3, 250, 11, 0, 299, 555, 1100, 1199])
    a, b = resident[idx], chunked[idx]
    for name in ("start", "dosage", "alt", "ref"):
        np.testing.assert_array_equal(a[name].data, b[name].data, err_msg=name)
        np.testing.assert_array_equal(a[name].offsets, b[name].offsets, err_msg=name)
    assert len(a.start.data) > 50


def test_vcf_zarr_fields_equal_the_vcf(tmp_path: Path, fields_store: Path) -> None:
    """The same fields read from a VCF Zarr (bio2zarr) of the dosage VCF: equal values,
    missing dosages included; Number from the arrays' dimensions."""
    vcz = tmp_path / "ds.vcz"
    subprocess.run(
        [sys.executable, "-m", "bio2zarr", "vcf2zarr", "convert", "-Q", "-p", "0", VCF_DS, vcz],
        check=True,
        capture_output=True,
    )
    path = tmp_path / "vcz.gvl"
    gvl.write(path, _regions(), variants=vcz, var_fields=["AF", "dosage", "AC", "NS"], progress=False)
    kw = dict(return_sequences="variants", jitter=0)
    got = gvl.Dataset.open(path, var_fields=["alt", "AF", "dosage", "AC", "NS"], **kw)[:, :]
    want = gvl.Dataset.open(fields_store, var_fields=["alt", "AF", "dosage"], **kw)[:, :]
    for name in ("start", "AF", "dosage"):
        np.testing.assert_array_equal(got[name].offsets, want[name].offsets)
        np.testing.assert_array_equal(got[name].data, want[name].data)
    assert got["AC"].data.dtype == np.int32 and (got["AC"].data > 0).all() and (got["NS"].data == 2504).all()
    whole = pl.DataFrame({"chrom": ["22"], "chromStart": [16_049_000], "chromEnd": [16_140_000]})
    gvl.write(tmp_path / "whole.gvl", whole, variants=vcz, var_fields=["dosage"], progress=False)
    rv = gvl.Dataset.open(tmp_path / "whole.gvl", var_fields=["dosage"], **kw)[0, :]
    assert np.isnan(rv.dosage.data).any()  # '.' in the VCF reads as NaN here too
    with pytest.raises(gvl.InputFileError, match=r"VCF Zarr .*ds\.vcz: INFO/CIPOS is Number=\., Type=Integer"):
        gvl.write(tmp_path / "a.gvl", _regions(), variants=vcz, var_fields=["CIPOS"], progress=False)


def test_fields_of_a_partitioned_write_read_the_same(tmp_path: Path) -> None:
    """Written in 3 × 2 partitions (region blocks × sample blocks, through part folders and
    finalise), the variants and their INFO and FORMAT fields read as from one partition."""
    starts = np.arange(16_050_000, 16_136_000, 6_000)
    bed = pl.DataFrame({"chrom": ["22"] * len(starts), "chromStart": starts, "chromEnd": starts + 8_000})
    kw = dict(variants=VCF_DS, length=8_000, max_jitter=500, var_fields=["AF", "dosage"], progress=False)
    gvl.write(tmp_path / "one.gvl", bed, **kw)
    gvl.write(tmp_path / "parts.gvl", bed, regions_per_partition=6, samples_per_partition=4, **kw)
    parts_root = zarr.open_group(str(tmp_path / "parts.gvl"), mode="r")
    assert set(parts_root.attrs["var_fields"]) == {"AF", "dosage"}
    reads = []
    for name in ("one.gvl", "parts.gvl"):
        fields = ["alt", "ilen", "start", "AF", "dosage"]
        ds = gvl.Dataset.open(tmp_path / name, FASTA, jitter=0, return_sequences="variants", var_fields=fields)
        reads.append(ds[:, :])
    one, parts = reads
    for field in ("start", "ilen", "AF", "dosage"):
        a, b = one[field], parts[field]
        np.testing.assert_array_equal(a.offsets, b.offsets, err_msg=field)
        np.testing.assert_array_equal(a.data, b.data, err_msg=field)
