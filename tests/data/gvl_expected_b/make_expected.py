"""Expected outputs of GenVarLoader 0.43.1 for tests/test_ref_dataset.py and
tests/test_track_management.py.

Run with the interpreter that has GenVarLoader 0.43.1 (benchmarks/.venv-gvl):

    benchmarks/.venv-gvl/bin/python tests/data/gvl_expected_b/make_expected.py

GenVarLoader writes side files (.gvlfa caches, indexes) next to its inputs, so every input
is copied into a temporary folder first. Regions are 512-bp BED rows, which GenVarLoader
uses as given and gvl_zarr centres to the same window (length=512). Files written here:

- refdataset.npz: `gvl.RefDataset` windows (rc_neg True and False) of 8 genes' centres, a
  window running past the end of contig 22 (22,000,000 bp) and one inside its leading Ns.
  (0.43.1 reverse-complements '-' rows whether or not rc_neg is set, so both arrays match.)
- refonly.npz: a dataset written without variants (per-sample STAT1/coverage BigWigs as
  track "bw", WGS coverage as annotation track "cov"): reference and each track.
- haps_annot.npz: a dataset of the normalised VCF with annotation track "cov": haplotypes
  and the annotation track realigned to them, over 6 windows centred on indels.
- spliced.npz: the exons (exons.grch37…bed, see make_exon_bed.py) of POTEH (11 exons, '-',
  with SNPs and a 3-bp deletion), OR11H1 and IL17RA, opened with
  splice_info=("transcript_id", "exon_number"): personal transcripts of SPLICE_SAMPLES,
  reference transcripts, and the STAT1 track alone in reference coordinates (0.43.1 splices
  sequences or tracks, not both), flattened in (transcript, sample[, haplotype]) order with
  their lengths.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
FASTA = DATA / "grch37.chr22_1-22000000.fa.bgz"
VCF_NORM = DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz"
STAT1 = DATA / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"
COVERAGE = DATA / "NA24385_WGS_coverage_500bp.grch37_22.bw"
GENES = DATA / "genes.grch37.chr22_16.05-22Mb.spliceai_gencode.bed"
SAMPLES = ["NA12878", "HG00096", "NA18486", "NA19238"]
LENGTH = 512
EXONS = DATA / "exons.grch37.chr22_16.05-22Mb.spliceai_gencode.bed"
SPLICE_TRANSCRIPTS = ["POTEH", "OR11H1", "IL17RA"]
SPLICE_SAMPLES = ["NA12878", "HG00096", "HG01958", "HG01990"]
INDEL_CENTRES = [16468604, 16476089, 16482608, 16490104, 16497141, 16499952]


def ref_bed() -> pl.DataFrame:
    """8 genes' centres (rows 2-9 of the genes BED), the contig end and its leading Ns."""
    genes = pl.read_csv(
        GENES,
        separator="\t",
        has_header=False,
        new_columns=["chrom", "chromStart", "chromEnd", "name", "score", "strand"],
    )[1:9]
    mid = (genes["chromStart"] + genes["chromEnd"]) // 2
    bed = pl.DataFrame(
        {
            "chrom": genes["chrom"].cast(pl.Utf8),
            "chromStart": mid - LENGTH // 2,
            "chromEnd": mid - LENGTH // 2 + LENGTH,
            "name": genes["name"],
            "strand": genes["strand"],
        }
    )
    extra = pl.DataFrame(
        {
            "chrom": ["22", "22"],
            "chromStart": [22_000_000 - 200, 1_000],
            "chromEnd": [22_000_000 - 200 + LENGTH, 1_000 + LENGTH],
            "name": ["contig_end", "leading_n"],
            "strand": ["-", "+"],
        }
    )
    return pl.concat([bed, extra])


def indel_bed() -> pl.DataFrame:
    starts = [c - LENGTH // 2 for c in INDEL_CENTRES]
    return pl.DataFrame(
        {
            "chrom": ["22"] * len(starts),
            "chromStart": starts,
            "chromEnd": [s + LENGTH for s in starts],
            "name": [f"indel{i}" for i in range(len(starts))],
            "strand": ["+", "-"] * (len(starts) // 2),
        }
    )


def exon_bed() -> pl.DataFrame:
    """Exon rows of SPLICE_TRANSCRIPTS, in file order."""
    bed = pl.read_csv(EXONS, separator="\t", schema_overrides={"#chrom": pl.Utf8}).rename({"#chrom": "chrom"})
    return bed.filter(pl.col("transcript_id").is_in(SPLICE_TRANSCRIPTS))


def copy_inputs(tmp: Path) -> dict[str, Path]:
    out = {}
    for key, src in {"fasta": FASTA, "vcf": VCF_NORM, "stat1": STAT1, "coverage": COVERAGE}.items():
        for suffix in ("", ".fai", ".gzi", ".tbi"):
            if Path(f"{src}{suffix}").exists():
                shutil.copy(f"{src}{suffix}", tmp / f"{src.name}{suffix}")
        out[key] = tmp / src.name
    return out


def bigwig_paths(files: dict[str, Path]) -> dict[str, str]:
    """Per-sample BigWigs: STAT1 and WGS coverage alternating, as tests/conftest.py does."""
    return {s: str(files["stat1"] if i % 2 == 0 else files["coverage"]) for i, s in enumerate(SAMPLES)}


def main() -> None:
    import genvarloader as gvl
    from genoray import VCF

    version = importlib.metadata.version("genvarloader")
    assert version == "0.43.1", version
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = copy_inputs(tmp)
        reference = gvl.Reference.from_path(files["fasta"], ["22"])

        bed = ref_bed()
        ref = {}
        for rc in (True, False):
            ds = gvl.RefDataset(reference, bed, rc_neg=rc).with_len(LENGTH)
            ref[f"rc_{rc}"] = np.asarray(ds[:]).view(np.uint8)
        np.savez_compressed(HERE / "refdataset.npz", version=version, **ref)

        gvl.write(
            tmp / "refonly.gvl",
            bed[:8],
            tracks=gvl.BigWigs("bw", bigwig_paths(files)),
            annot_tracks={"cov": str(files["coverage"])},
            overwrite=True,
        )
        ds = gvl.Dataset.open(tmp / "refonly.gvl", reference=files["fasta"]).with_len(LENGTH)
        ds = ds.with_seqs("reference")
        # one track per call: with two tracks, 0.43.1 returns an array shaped (regions,
        # samples, tracks, length) whose memory is in (tracks, regions, samples, length) order
        per_track = {}
        for name in ("bw", "cov"):
            seqs, per_track[name] = ds.with_tracks(name)[:, :]
        np.savez_compressed(
            HERE / "refonly.npz",
            version=version,
            samples=np.array(ds.samples),
            reference=np.asarray(seqs).view(np.uint8),
            bw=np.asarray(per_track["bw"], np.float32),
            cov=np.asarray(per_track["cov"], np.float32),
        )

        gvl.write(
            tmp / "haps.gvl",
            indel_bed(),
            variants=VCF(files["vcf"]),
            annot_tracks={"cov": str(files["coverage"])},
            samples=list(SAMPLES),
            overwrite=True,
        )
        ds = gvl.Dataset.open(tmp / "haps.gvl", reference=files["fasta"]).with_len(LENGTH)
        ds = ds.with_seqs("haplotypes").with_tracks("cov")
        haps, tracks = ds[:, :]
        np.savez_compressed(
            HERE / "haps_annot.npz",
            version=version,
            samples=np.array(ds.samples),
            haplotypes=np.asarray(haps).view(np.uint8),
            tracks=np.asarray(tracks, np.float32),
        )

        gvl.write(
            tmp / "spliced.gvl",
            exon_bed(),
            variants=VCF(files["vcf"]),
            tracks=gvl.BigWigs("stat1", {s: str(files["stat1"]) for s in SPLICE_SAMPLES}),
            samples=list(SPLICE_SAMPLES),  # 0.43.1's write sorts the list it is given in place
            overwrite=True,
        )
        ds = gvl.Dataset.open(
            tmp / "spliced.gvl", reference=files["fasta"], splice_info=("transcript_id", "exon_number")
        )
        # 0.43.1 splices sequences or tracks, not both ("not supported"): one call each
        haps = ds.with_seqs("haplotypes").with_tracks(False)[:, :]
        ref = ds.with_seqs("reference").with_tracks(False)[:, :]
        tracks = ds.with_seqs(None).with_tracks("stat1")[:, :]
        order = [ds.samples.index(s) for s in SPLICE_SAMPLES]
        hap_rows, ref_rows, track_rows = [], [], []
        for t in range(len(SPLICE_TRANSCRIPTS)):
            for s in order:
                hap_rows += [np.asarray(haps[t, s, p]).ravel().view(np.uint8) for p in range(2)]
                ref_rows.append(np.asarray(ref[t, s]).ravel().view(np.uint8))
                track_rows.append(np.asarray(tracks[t, s], np.float32).ravel())  # the one track
        np.savez_compressed(
            HERE / "spliced.npz",
            version=version,
            transcripts=np.array(SPLICE_TRANSCRIPTS),
            samples=np.array(SPLICE_SAMPLES),
            hap_lengths=np.array([len(r) for r in hap_rows]),
            haplotypes=np.concatenate(hap_rows),
            ref_lengths=np.array([len(r) for r in ref_rows]),
            reference=np.concatenate(ref_rows),
            tracks=np.concatenate(track_rows),
        )


if __name__ == "__main__":
    main()
