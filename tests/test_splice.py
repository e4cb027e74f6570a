"""Spliced transcripts from an exon BED derived from the spliceai 1.3.1 GENCODE annotation
(tests/data/make_exon_bed.py): each exon checked against `bcftools consensus`, the join
and the tracks against a slow reference, and all of it against GenVarLoader 0.43.1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import gvl_zarr as gvl
from _gvl_expected_b import expected, make_expected
from _oracle import BcftoolsOracle, live_bcftools, reverse_complement
from _slow_reference import apply_calls, bigwig_values, fasta_window, haplotype_calls
from conftest import FASTA, STAT1, VCF_NORM

SAMPLES = make_expected.SPLICE_SAMPLES
SPLICE = ("transcript_id", "exon_number")


def _exons() -> pl.DataFrame:
    return make_expected.exon_bed()


@pytest.fixture(scope="module")
def exon_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bed = _exons()
    path = tmp_path_factory.mktemp("splice") / "exons.gvl"
    gvl.write(
        path,
        bed,
        variants=VCF_NORM,
        reference=FASTA,
        bigwigs=gvl.BigWigs("stat1", dict.fromkeys(SAMPLES, STAT1)),
        samples=SAMPLES,
        length=int((bed["chromEnd"] - bed["chromStart"]).max()),
        progress=False,
    )
    return path


def _transcript_exons(name: str) -> list[tuple[int, int, str]]:
    rows = _exons().filter(pl.col("transcript_id") == name).sort("exon_number")
    return list(zip(rows["chromStart"], rows["chromEnd"], rows["strand"], strict=True))


def _join(pieces: list[bytes], strand: str) -> bytes:
    return b"".join(reverse_complement(p) if strand == "-" else p for p in pieces)


@live_bcftools  # runs bcftools itself: not collected where it is absent
def test_exons_match_bcftools_consensus(exon_store: Path, bcftools_oracle: BcftoolsOracle) -> None:
    ds = gvl.Dataset.open(exon_store, splice_info=SPLICE, return_tracks=False)
    assert ds.transcripts == make_expected.SPLICE_TRANSCRIPTS
    haps = ds[:, :]
    assert haps.shape == (3, 4, 2)
    t = ds.transcripts.index("POTEH")
    exons = _transcript_exons("POTEH")
    assert len(exons) == 11 and exons[0][2] == "-"
    n_with_variants = 0
    for s, sample in enumerate(SAMPLES):
        for p in range(2):
            pieces = []
            for lo, hi, _ in exons:
                beg, end = bcftools_oracle.region_for(VCF_NORM, FASTA, "22", lo, hi - lo)
                cons = bcftools_oracle.consensus(VCF_NORM, FASTA, sample, p + 1, "22", beg, end)
                a, b = cons.ref_to_consensus(lo) - cons.beg, cons.ref_to_consensus(hi) - cons.beg
                pieces.append(cons.seq[a:b].upper())
            got = haps.row((t * 4 + s) * 2 + p).tobytes()
            want = _join(pieces, "-")
            assert got == want, f"{sample} hap {p}"
            ref = _join([fasta_window(FASTA, "22", lo, hi).encode() for lo, hi, _ in exons], "-")
            n_with_variants += got != ref
    assert n_with_variants >= 3  # haplotypes carrying POTEH exon variants (the 3-bp deletion among them)
    assert haps.lengths[t].tolist() == [[1928, 1928], [1928, 1928], [1925, 1928], [1928, 1925]]  # a 3-bp deletion


def test_join_and_tracks_match_slow_reference(exon_store: Path) -> None:
    ds = gvl.Dataset.open(exon_store, splice_info=SPLICE)
    haps, tracks = ds[:, :]
    assert tracks.shape == haps.shape == (3, 4, 2)  # one track name: no tracks axis
    for t, name in enumerate(ds.transcripts):
        exons = _transcript_exons(name)
        for s, sample in enumerate(SAMPLES):
            for p in range(2):
                seq_pieces, val_pieces = [], []
                for lo, hi, strand in exons:
                    calls = haplotype_calls(VCF_NORM, sample, p, "22", lo - 100, hi + 100)
                    ref = fasta_window(FASTA, "22", lo - 100, hi + 100)
                    seq, coords = apply_calls(ref, lo - 100, calls, lo, 2 * (hi - lo) + 50)
                    keep = [i for i, c in enumerate(coords) if c < hi]
                    piece = "".join(seq[i] for i in keep).encode()
                    vals = bigwig_values(STAT1, "22", [coords[i] for i in keep])
                    seq_pieces.append(piece)
                    val_pieces.append(vals[::-1] if strand == "-" else vals)
                row = (t * 4 + s) * 2 + p
                assert haps.row(row).tobytes() == _join(seq_pieces, exons[0][2]), (name, sample, p)
                np.testing.assert_array_equal(tracks.row(row), np.concatenate(val_pieces))
    assert (tracks.data != 0).mean() > 0.2


def test_matches_genvarloader(exon_store: Path) -> None:
    want = expected("spliced")
    assert want["samples"].tolist() == SAMPLES
    ds = gvl.Dataset.open(exon_store, splice_info=SPLICE)
    haps = ds.with_settings(return_tracks=False)[:, :]
    np.testing.assert_array_equal(haps.lengths.ravel(), want["hap_lengths"])
    np.testing.assert_array_equal(haps.data.view(np.uint8), want["haplotypes"])
    ref = ds.with_settings(return_sequences="reference", return_tracks=False)[:, :]
    assert ref.shape == (3, 4)
    np.testing.assert_array_equal(ref.lengths.ravel(), want["ref_lengths"])
    np.testing.assert_array_equal(ref.data.view(np.uint8), want["reference"])
    tracks = ds.with_settings(return_sequences=False)[:, :]
    np.testing.assert_array_equal(tracks.data, want["tracks"])


def test_names_subsets_indices_and_unspliced_rc(exon_store: Path) -> None:
    ds = gvl.Dataset.open(exon_store, splice_info=SPLICE, return_tracks=["stat1"], return_indices=True)
    haps, tracks, idx, t_idx, s_idx = ds["IL17RA", ["HG01990", "NA12878"]]
    assert haps.shape == (2, 2) and tracks.shape == (2, 1, 2)
    assert t_idx.tolist() == [2, 2] and s_idx.tolist() == [3, 0] and idx.tolist() == [11, 8]
    sub = ds.subset_to(transcripts=["IL17RA", "POTEH"], samples=["HG01958"])
    assert sub.shape == (2, 1) and sub.transcripts == ["IL17RA", "POTEH"]
    np.testing.assert_array_equal(sub["POTEH", 0][0].data, ds["POTEH", "HG01958"][0].data)
    fwd = gvl.Dataset.open(exon_store, splice_info=SPLICE, rc_neg=False, return_tracks=False)
    rc = gvl.Dataset.open(exon_store, splice_info=SPLICE, return_tracks=False)
    exons = _transcript_exons("POTEH")
    a, b = fwd["POTEH", 0], rc["POTEH", 0]
    # rc_neg=False: each exon forward, still in exon order
    first = b.row(0)[: exons[0][1] - exons[0][0]].tobytes()
    assert reverse_complement(first) == a.row(0)[: exons[0][1] - exons[0][0]].tobytes()
    with pytest.raises(gvl.DatasetIndexError, match=r"\['NOPE'\] are not in column 'transcript'"):
        ds["NOPE", 0]
    batches = list(ds.to_dataloader(batch_size=5))
    assert len(batches) == 3
    seq, _, flat, _, _ = batches[1]
    # Ragged transcripts arrive as nested tensors, one row per (instance, haplotype)
    assert seq.size(0) == 10 and flat.tolist() == [5, 6, 7, 8, 9]
    want = ds[5:10][0]
    for k, row in enumerate(seq.unbind()):
        np.testing.assert_array_equal(row.numpy(), np.asarray(want.row(k)).view(np.uint8))


def test_bad_splice_inputs(exon_store: Path, tmp_path: Path) -> None:
    with pytest.raises(gvl.SettingsError, match="splicing needs jitter=0"):
        gvl.Dataset.open(exon_store, splice_info=SPLICE).with_settings(jitter=4)
    with pytest.raises(gvl.SettingsError, match="a pair"):
        gvl.Dataset.open(exon_store, splice_info="transcript_id")
    with pytest.raises(gvl.SettingsError, match=r"splice_info column='gene'.*stored columns"):
        gvl.Dataset.open(exon_store, splice_info=("gene", "exon_number"))
    with pytest.raises(gvl.InputFileError, match=r"exon number column 'name' holds 'POTEH_exon11', not an integer"):
        gvl.Dataset.open(exon_store, splice_info=("transcript_id", "name"))
    mixed = (
        _exons()
        .filter(pl.col("transcript_id") == "POTEH")
        .with_columns(pl.when(pl.col("exon_number") == 3).then(pl.lit("+")).otherwise(pl.col("strand")).alias("strand"))
    )
    gvl.write(
        tmp_path / "mixed.gvl",
        mixed,
        bigwigs=gvl.BigWigs("stat1", {"NA12878": STAT1}),
        reference=FASTA,
        length=1000,
        progress=False,
    )
    with pytest.raises(gvl.InputFileError, match=r"transcript 'POTEH' .* has exons on different strands"):
        gvl.Dataset.open(tmp_path / "mixed.gvl", splice_info=SPLICE)
    short = _exons().filter(pl.col("transcript_id") == "IL17RA")
    gvl.write(
        tmp_path / "short.gvl",
        short,
        bigwigs=gvl.BigWigs("stat1", {"NA12878": STAT1}),
        length=500,
        progress=False,
    )
    with pytest.raises(
        gvl.InputFileError, match=r"wider than the stored window \(length 500\).*length >= 7387 \(the longest exon\)"
    ):
        gvl.Dataset.open(tmp_path / "short.gvl", splice_info=SPLICE)


def test_spliced_ref_dataset_needs_no_store(exon_store: Path) -> None:
    """RefDataset(splice_info=...) reads transcripts straight from the FASTA: equal to the
    spliced store's reference and to GenVarLoader's reference transcripts."""
    exons = make_expected.EXONS
    ref = gvl.RefDataset(FASTA, exons, splice_info=SPLICE)
    assert len(ref) == 79  # every gene of the annotation slice
    got = ref[make_expected.SPLICE_TRANSCRIPTS]
    assert got.shape == (3,)
    want = expected("spliced")
    lengths = want["ref_lengths"].reshape(3, 4)[:, 0]
    offsets = np.concatenate([[0], np.cumsum(want["ref_lengths"])])
    rows = [want["reference"][offsets[4 * t] : offsets[4 * t + 1]] for t in range(3)]
    np.testing.assert_array_equal(got.lengths, lengths)
    np.testing.assert_array_equal(got.data.view(np.uint8), np.concatenate(rows))
    store = gvl.Dataset.open(exon_store, splice_info=SPLICE, return_sequences="reference", return_tracks=False)
    np.testing.assert_array_equal(store[:, 0].data, got.data)
    fwd = gvl.RefDataset(FASTA, exons, splice_info=SPLICE, rc_neg=False)["POTEH"].data.tobytes()
    assert fwd == b"".join(fasta_window(FASTA, "22", lo, hi).encode() for lo, hi, _ in _transcript_exons("POTEH"))
    exon_rows = ref.subset_to(["POTEH"]).get_bed()
    assert exon_rows["exon_number"].cast(int).to_list() == list(range(1, 12))
    seqs, idx = ref.with_settings(return_indices=True)[[5, 2]]
    assert idx.tolist() == [5, 2] and seqs.shape == (2,)
    with pytest.raises(gvl.SettingsError, match=r"length=100 cannot be used with splice_info.*Fix: drop length="):
        gvl.RefDataset(FASTA, exons, length=100, splice_info=SPLICE)
    with pytest.raises(gvl.SettingsError, match="splicing needs jitter=0, got jitter=5"):
        gvl.RefDataset(FASTA, exons, jitter=5, splice_info=SPLICE)
    with pytest.raises(gvl.SettingsError, match="splice_info column 'tx' is not a column"):
        gvl.RefDataset(FASTA, exons, splice_info=("tx", "exon_number"))
