"""VCF genotypes parsed from the text (`readers.vcf_text`) equal cyvcf2's, and every other
case falls back to cyvcf2 with its errors."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import cyvcf2
import numpy as np
import pytest

from _inputs import bgzip
from conftest import VCF, VCF_NORM
from gvl_zarr.errors import InputFileError, UnphasedGenotypeError
from gvl_zarr.readers.vcf import VcfReader
from gvl_zarr.readers.vcf_text import read_text

SPANS = [
    (16_050_000, 16_500_000),
    (16_060_000, 16_061_000),
    (0, 100),
    (16_499_000, 17_000_000),
    (16_200_000, 16_200_001),
]


def _pair(path: str, samples=None, **kw) -> tuple[VcfReader, VcfReader]:
    text, plain = VcfReader(path, samples, **kw), VcfReader(path, samples, **kw)
    plain._sites = None  # cyvcf2 only
    return text, plain


def _same(x, y) -> None:
    for f in ("record_pos", "record_ref_len", "pos", "record_first_variant", "record_alt_map", "genotypes"):
        np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f)
    assert x.ref == y.ref and x.alt == y.alt


@pytest.mark.parametrize("path", [VCF, VCF_NORM])
def test_text_genotypes_equal_cyvcf2_on_the_kit(path: str) -> None:
    """The kit VCFs (normalized biallelic; raw with multiallelics and symbolic SVs, which have
    INFO/END and so go to cyvcf2), all samples and 50 in shuffled order, over the whole span,
    small spans, spans past its ends and a base without records."""
    shuffled = random.Random(1).sample(cyvcf2.VCF(path).samples, 50)
    for samples in (None, shuffled):
        text, plain = _pair(path, samples)
        for start, end in SPANS:
            _same(text.read("22", start, end), plain.read("22", start, end))
        assert text._symbolic == plain._symbolic
    if path == VCF_NORM:  # read from the text, not by cyvcf2
        assert read_text(text._sites, "22", *SPANS[0], text._n_file_samples, None) is not None


def _edited(tmp: Path, name: str, edits: dict[int, str]) -> str:
    """The kit's normalized records 100–399, record i changed by `edits[i]` (fields in place)."""
    with gzip.open(VCF_NORM, "rt") as fh:
        lines = fh.read().splitlines()
    header = [x for x in lines if x.startswith("#")]
    records = [x for x in lines if not x.startswith("#")][100:400]
    for i, edit in edits.items():
        fields = records[i].split("\t")
        edit(fields)
        records[i] = "\t".join(fields)
    return bgzip(tmp, name, header + records)


def _missing(f: list[str]) -> None:
    f[9:13] = [".", "./.", ".|.", "0|."]


def _more_fields(f: list[str]) -> None:
    f[8] = "GT:DP"
    f[9:] = [g + ":7" for g in f[9:]]


def _many_alts(f: list[str]) -> None:
    f[3], f[4] = "A", ",".join(["C", "G", "T", "AC", "AG", "AT", "CA", "GA", "TA", "AAC", "AAG", "AAT"])
    f[9:12] = ["10|2", "12|12", "0|11"]


def _unphased(f: list[str]) -> None:
    f[9] = "0/1"


def test_text_genotypes_equal_cyvcf2_on_edge_calls(tmp_path: Path) -> None:
    """Missing calls in each form, GT followed by other FORMAT fields, allele codes past 9,
    an unphased het (read with allow_unphased, refused alike without): same as cyvcf2."""
    path = _edited(tmp_path, "edge.vcf", {3: _missing, 40: _more_fields, 77: _many_alts, 150: _unphased})
    text, plain = _pair(path, allow_unphased=True)
    assert read_text(text._sites, "22", *SPANS[0], text._n_file_samples, None) is not None
    for start, end in SPANS:
        _same(text.read("22", start, end), plain.read("22", start, end))
    text, plain = _pair(path)
    errors = []
    for reader in (text, plain):
        with pytest.raises(UnphasedGenotypeError) as info:
            reader.read("22", *SPANS[0])
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def _haploid(f: list[str]) -> None:
    f[10] = "1"


def _triploid(f: list[str]) -> None:
    f[10] = "0|1|1"


@pytest.mark.parametrize(("edit", "match"), [(_haploid, "haploid genotype"), (_triploid, "ploidy 3")])
def test_calls_the_text_reader_declines_raise_cyvcf2s_errors(tmp_path: Path, edit, match) -> None:
    """A haploid or triploid call: the text reader declines the span, and the read raises
    the same InputFileError as cyvcf2's reader."""
    path = _edited(tmp_path, "bad.vcf", {60: edit})
    text, plain = _pair(path)
    assert read_text(text._sites, "22", *SPANS[0], text._n_file_samples, None) is None
    messages = []
    for reader in (text, plain):
        with pytest.raises(InputFileError, match=match) as info:
            reader.read("22", *SPANS[0])
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def _info_end(f: list[str]) -> None:
    f[7] = f"{f[7]};END={int(f[1]) + 4000}"  # reaches 4 kb past POS: tabix returns it for later spans


def test_a_record_with_info_end_is_read_by_cyvcf2_and_its_span_followed(tmp_path: Path) -> None:
    """INFO/END changes the span tabix gives a record: the text reader declines it, reads
    equal cyvcf2's (spans starting inside END included), and so do the site pass's fetch_ends."""
    path = _edited(tmp_path, "end.vcf", {50: _info_end})
    text, plain = _pair(path)
    assert read_text(text._sites, "22", *SPANS[0], text._n_file_samples, None) is None
    pos = int(plain.read("22", *SPANS[0]).record_pos[50])
    for start, end in [*SPANS, (pos + 2000, pos + 2001), (pos + 3999, pos + 5000)]:
        _same(text.read("22", start, end), plain.read("22", start, end))
    sites = text.site_reader().read("22", pos + 2000, pos + 2001)
    assert pos in sites.pos.tolist()
