"""Expected outputs of GenVarLoader 0.43.1 for tests/test_variant_fields.py: "variants"
with variant fields, and spliced transcripts with with_len("variable").

Run with the interpreter that has GenVarLoader 0.43.1 (benchmarks/.venv-gvl):

    benchmarks/.venv-gvl/bin/python tests/data/gvl_expected_variants/make_expected.py [OUT_DIR]

Input: tests/data/dosages.chr22_16.049-16.140Mb.6s.vcf.gz (see make_dosage_vcf.py), copied
into a temporary folder first (GenVarLoader and genoray write side files next to it).
GenVarLoader 0.43.1 serves INFO fields from the variant index genoray writes next to a VCF
(only the fields that index was written with, `VCF._write_gvi_index(info=[...])`, and only
scalar ones: a Number=A field such as AF is a list column there and is not offered, so the
copy's header declares AF Number=1, which means the same for these biallelic records), and
dosages only from a SparseVar (.svar) written `with_dosages=True`; all three are done here.
Regions: STARTS (1 kb, GenVarLoader uses them as given; gvl_zarr with length=1000 gives
the same windows). Arrays written to fields.npz, each (data, offsets) of a (region,
sample, ploidy) ragged array in GenVarLoader's sample order:

- vcf_*: the VCF-backed dataset, var_fields ["alt", "ilen", "start", "ref", "AF"].
- af_*: the same with min_af=0.05, max_af=0.5.
- pad_*: `RaggedVariants.pad(AF=-1.0)` of the vcf_ output; rc_*: `rc_(RC_MASK)` alleles of
  all 30 instances as a 1-D batch; nested_*: the vcf_ output's
  `to_nested_tensor_batch(tokenizer="seqpro")` (values and offsets per field).
- union_*: alt, ilen, start with `unphased_union=True` (rows of shape (region, sample, 1)).
- svar_*: the SVAR-backed dataset, var_fields ["alt", "ilen", "start", "dosage"].

spliced_variable.npz: the spliced dataset of tests/data/gvl_expected_b/make_expected.py
(POTEH, OR11H1, IL17RA exons; SPLICE_SAMPLES) read with with_len("variable"): haplotypes
(transcript, sample, ploidy, longest) and reference (transcript, sample, longest) as uint8,
samples in GenVarLoader's order; and its spliced "variants" output (variants_*: alt, ilen,
start of each (transcript, sample, ploidy), exon after exon).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
FASTA = DATA / "grch37.chr22_1-22000000.fa.bgz"
VCF_DS = DATA / "dosages.chr22_16.049-16.140Mb.6s.vcf.gz"
STARTS = [16049600, 16051800, 16055400, 16063900, 16136300]
STRANDS = ["+", "-", "+", "+", "-"]
LENGTH = 1000
MIN_AF, MAX_AF = 0.05, 0.5
RC_MASK = np.arange(30) % 3 == 0


def regions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "chrom": ["22"] * len(STARTS),
            "chromStart": STARTS,
            "chromEnd": [s + LENGTH for s in STARTS],
            "name": [f"r{i}" for i in range(len(STARTS))],
            "score": [0] * len(STARTS),
            "strand": STRANDS,
        }
    )


def af_number_1(src: Path, dst: Path) -> None:
    """`src` with its header's AF declared Number=1 (bcftools reheader), indexed."""
    header = subprocess.run(["bcftools", "view", "-h", str(src)], check=True, capture_output=True, text=True).stdout
    fixed = dst.parent / "header.txt"
    fixed.write_text(header.replace("<ID=AF,Number=A,", "<ID=AF,Number=1,"))
    subprocess.run(["bcftools", "reheader", "-h", str(fixed), "-o", str(dst), str(src)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(dst)], check=True)


def _ragged(rag) -> tuple[np.ndarray, np.ndarray]:
    """(data, offsets) of a (b, p, ~v) numeric or string field of GenVarLoader's output."""
    packed = rag.to_packed()
    if getattr(packed, "is_string", False):
        chars = packed.to_chars().to_packed()
        lengths = np.diff(np.asarray(chars._layout.offsets[-1]))
        return np.asarray(chars.data).view(np.uint8), np.asarray(packed.offsets, np.int64), lengths
    return np.asarray(packed.data), np.asarray(packed.offsets, np.int64)


def _save(out: dict, prefix: str, rv, fields: list[str]) -> None:
    for f in fields:
        parts = _ragged(rv[f])
        out[f"{prefix}_{f}"] = parts[0]
        out[f"{prefix}_{f}_offsets"] = parts[1]
        if len(parts) == 3:
            out[f"{prefix}_{f}_lengths"] = parts[2]


def main(out_dir: Path) -> None:
    import genvarloader as gvl
    from genoray import VCF, SparseVar

    version = importlib.metadata.version("genvarloader")
    assert version == "0.43.1", version
    out: dict[str, np.ndarray] = {"version": np.array(version)}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        vcf_path = tmp / VCF_DS.name
        af_number_1(VCF_DS, vcf_path)
        for suffix in ("", ".fai", ".gzi"):
            shutil.copy(f"{FASTA}{suffix}", tmp / f"{FASTA.name}{suffix}")
        fasta = tmp / FASTA.name

        vcf = VCF(vcf_path)
        vcf._write_gvi_index(info=["AF"])
        gvl.write(tmp / "vcf.gvl", regions(), variants=VCF(vcf_path), overwrite=True)
        fields = ["alt", "ilen", "start", "ref", "AF"]
        ds = gvl.Dataset.open(tmp / "vcf.gvl", reference=fasta, var_fields=fields).with_seqs("variants")
        out["samples"] = np.array(ds.samples)
        assert sorted(ds.available_var_fields) == sorted(["alt", "ilen", "start", "ref", "AF"]), ds.available_var_fields
        _save(out, "vcf", ds[:, :], fields)
        rv = ds[:, :]
        _save(out, "pad", rv.pad(AF=-1.0), fields)
        flat = ds[np.arange(30) // 6, np.arange(30) % 6]  # rc_ takes one flag per entry of (batch, ploidy)
        assert flat.shape[:2] == (30, 2), flat.shape
        _save(out, "rc", flat.rc_(RC_MASK), ["alt", "ref"])
        nested = rv.to_nested_tensor_batch(tokenizer="seqpro")
        for key, value in nested.items():
            if isinstance(value, int):
                out[f"nested_{key}"] = np.array(value)
            else:
                out[f"nested_{key}"] = value.values().numpy()
                out[f"nested_{key}_offsets"] = value.offsets().numpy()
        union = ds.with_settings(var_fields=["alt", "ilen", "start"], unphased_union=True)
        _save(out, "union", union[:, :], ["alt", "ilen", "start"])
        ds = ds.with_settings(min_af=MIN_AF, max_af=MAX_AF)
        _save(out, "af", ds[:, :], fields)

        svar = tmp / "ds.svar"
        SparseVar.from_vcf(svar, VCF(vcf_path, dosage_field="DS"), "1g", with_dosages=True)
        gvl.write(tmp / "svar.gvl", regions(), variants=svar, overwrite=True)
        fields = ["alt", "ilen", "start", "dosage"]
        ds = gvl.Dataset.open(tmp / "svar.gvl", reference=fasta, var_fields=fields).with_seqs("variants")
        assert ds.samples == out["samples"].tolist()
        _save(out, "svar", ds[:, :], fields)
    np.savez_compressed(out_dir / "fields.npz", **out)
    spliced_variable(out_dir, version)


def spliced_variable(out_dir: Path, version: str) -> None:
    import genvarloader as gvl
    from genoray import VCF

    sys.path.insert(0, str(DATA / "gvl_expected_b"))
    import make_expected as b  # the spliced dataset's inputs

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = b.copy_inputs(tmp)
        gvl.write(
            tmp / "spliced.gvl",
            b.exon_bed(),
            variants=VCF(files["vcf"]),
            samples=list(b.SPLICE_SAMPLES),
            overwrite=True,
        )
        ds = gvl.Dataset.open(
            tmp / "spliced.gvl", reference=files["fasta"], splice_info=("transcript_id", "exon_number")
        ).with_len("variable")
        haps = ds.with_seqs("haplotypes")[:, :]
        ref = ds.with_seqs("reference")[:, :]
        out = {"version": np.array(version), "samples": np.array(ds.samples)}
        out["haplotypes"] = np.asarray(haps).view(np.uint8)
        out["reference"] = np.asarray(ref).view(np.uint8)
        _save(out, "variants", ds.with_seqs("variants").with_len("ragged")[:, :], ["alt", "ilen", "start"])
        np.savez_compressed(out_dir / "spliced_variable.npz", **out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
