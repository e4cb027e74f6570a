"""Personal haplotypes from gvl_zarr checked against ``bcftools consensus``.

Two groups of tests:

* ``test_oracle_*`` check the bcftools oracle in ``_oracle.py`` itself, against
  hand-applied variants and a small pure-Python re-implementation, so that a
  disagreement between gvl_zarr and the oracle can be trusted to be a gvl_zarr bug;
* ``test_gvl_*`` write real kit windows with ``gvl.write`` and compare every
  returned haplotype with the oracle.

The ``oracle`` fixture has two parameters: ``committed`` reads the ``bcftools
consensus`` outputs stored in ``tests/data/bcftools_expected/`` (always collected),
``live`` runs bcftools (collected only when bcftools is on PATH or
``GVL_REQUIRE_BCFTOOLS=1``). Tests that need bcftools itself (its warnings, its
refusals, short hand-made windows) carry the ``live_bcftools`` marker.
``test_committed_outputs_match_live_bcftools`` keeps the stored outputs honest.

Windows are chosen by scanning the kit VCF with cyvcf2 for the situations that
matter (SNPs, insertions, deletions, a deletion covering the window start,
insertions anchored just before/at the start, split multiallelic sites,
overlapping records, the ends of the VCF span and of the contig), and the samples
compared are carriers of those alleles plus one non-carrier.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from _oracle import (
    CONTIG,
    CONTIG_LENGTH,
    EXPECTED_HAPLOTYPES,
    FASTA,
    VCF,
    VCF_NORM,
    BcftoolsError,
    BcftoolsOracle,
    EditedVcf,
    Query,
    RecordedOracle,
    RefMismatchVcf,
    live_bcftools,
    live_bcftools_available,
    query_key,
    reverse_complement,
    run_bcftools,
)

ORACLE_SOURCES = ("committed", "live") if live_bcftools_available() else ("committed",)
"""Where expected haplotypes come from; ``live`` only where bcftools can run."""

LENGTH = 512
"""Window length used throughout (bp)."""

SPAN_REGION = (16_000_000, 16_600_000)
"""Reference slice loaded for the pure-Python re-implementation (covers the VCF span)."""


# -----------------------------------------------------------------------------
# The kit VCFs as numpy, for choosing windows and for the Python re-implementation
# -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Record:
    """One VCF record; ``pos`` is 0-based, ``gt`` is (samples, 2) with -1 for missing."""

    pos: int
    ref: str
    alts: tuple[str, ...]
    gt: np.ndarray

    @property
    def is_symbolic(self) -> bool:
        return any(a.startswith("<") for a in self.alts)

    def allele_len_diff(self, allele: int) -> int:
        return len(self.alts[allele - 1]) - len(self.ref)

    def carriers(self, allele: int = 1) -> np.ndarray:
        """Sample indices with ``allele`` on either haplotype."""
        return np.flatnonzero((self.gt == allele).any(axis=1))


@dataclass(frozen=True)
class KitVcf:
    """All records of one kit VCF."""

    path: Path
    samples: tuple[str, ...]
    records: tuple[Record, ...]

    def at(self, pos: int) -> list[Record]:
        return [r for r in self.records if r.pos == pos]

    def in_range(self, beg: int, end: int) -> list[Record]:
        return [r for r in self.records if r.pos < end and r.pos + len(r.ref) > beg]


def load_vcf(path: Path) -> KitVcf:
    """Read a VCF completely with cyvcf2."""
    import cyvcf2

    reader = cyvcf2.VCF(str(path))
    records = []
    for rec in reader:
        gt = rec.genotype.array()[:, :2].astype(np.int16)
        records.append(Record(rec.POS - 1, rec.REF, tuple(rec.ALT), gt))
    samples = tuple(reader.samples)
    reader.close()
    return KitVcf(path, samples, tuple(records))


@pytest.fixture(scope="module")
def kit_norm() -> KitVcf:
    return load_vcf(VCF_NORM)


@pytest.fixture(scope="module")
def kit_orig() -> KitVcf:
    return load_vcf(VCF)


@pytest.fixture(scope="module")
def ref_span() -> str:
    """Upper-case reference over ``SPAN_REGION``."""
    import pyfaidx

    with pyfaidx.Fasta(str(FASTA), as_raw=True) as fa:
        return fa[CONTIG][SPAN_REGION[0] : SPAN_REGION[1]].upper()


# -----------------------------------------------------------------------------
# Pure-Python re-implementation of bcftools' consensus rules (validation only)
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PythonHaplotype:
    """A whole personal sequence over ``SPAN_REGION`` built without bcftools.

    ``surviving[i]`` is the personal offset of reference base ``SPAN_REGION[0] + i``,
    or -1 when that base was removed by an indel.
    """

    seq: str
    surviving: np.ndarray

    def window(self, start: int, length: int) -> bytes:
        """The window starting at the first surviving reference base ``>= start``."""
        rel = start - SPAN_REGION[0]
        first = int(self.surviving[rel + np.flatnonzero(self.surviving[rel:] >= 0)[0]])
        return self.seq[first : first + length].encode()


def python_haplotype(kit: KitVcf, ref: str, sample: int, hap: int) -> PythonHaplotype:
    """Apply one haplotype's alleles (``hap`` 0 or 1) to ``ref`` (``SPAN_REGION``).

    Follows the ``bcftools consensus`` (1.16) overlap rules: records in file order;
    a record is skipped when it starts at or before the last reference base of the
    previous applied record, unless it starts exactly on that base, is an indel
    sharing its first base with REF, and the previous record was not an insertion.
    Symbolic alleles and missing/REF alleles are ignored. Reference bases removed
    by an indel (after its shared anchor base) do not survive.
    """
    beg0 = SPAN_REGION[0]
    edits: list[tuple[int, int, str, bool]] = []  # (ref_beg, ref_end, bases, same_length)
    frozen, prev_insert = -1, False
    for rec in kit.records:
        allele = int(rec.gt[sample, hap])
        if allele <= 0 or rec.is_symbolic:
            continue
        alt = rec.alts[allele - 1]
        diff = len(alt) - len(rec.ref)
        anchored = diff != 0 and alt[0] == rec.ref[0]
        if rec.pos <= frozen and (rec.pos < frozen or not anchored or prev_insert):
            continue
        if anchored:
            edits.append((rec.pos + 1, rec.pos + len(rec.ref), alt[1:], False))
        else:
            edits.append((rec.pos, rec.pos + len(rec.ref), alt, diff == 0))
        frozen, prev_insert = rec.pos + len(rec.ref) - 1, diff > 0

    pieces: list[str] = []
    surviving = np.full(len(ref), -1, dtype=np.int64)
    cursor, out_len = beg0, 0
    for e_beg, e_end, bases, same_length in [*edits, (beg0 + len(ref), beg0 + len(ref), "", True)]:
        n = e_beg - cursor  # unchanged reference up to the edit
        pieces.append(ref[cursor - beg0 : e_beg - beg0])
        surviving[cursor - beg0 : e_beg - beg0] = np.arange(out_len, out_len + n)
        out_len += n
        if same_length:
            surviving[e_beg - beg0 : e_end - beg0] = np.arange(out_len, out_len + len(bases))
        pieces.append(bases.upper())
        cursor, out_len = e_end, out_len + len(bases)
    return PythonHaplotype("".join(pieces), surviving)


# -----------------------------------------------------------------------------
# Test windows, chosen from the VCF contents
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A reference window ``[start, start + LENGTH)`` and the samples to compare there."""

    name: str
    start: int
    samples: tuple[str, ...]
    strand: str = "+"
    note: str = ""

    def bed_row(self) -> tuple[str, int, int, str]:
        """A 1-bp BED region whose gvl resize (``mid - LENGTH // 2``) gives ``start``."""
        mid = self.start + LENGTH // 2
        return (CONTIG, mid, mid + 1, self.strand)


def _pick(kit: KitVcf, indices: Sequence[int], n: int) -> list[str]:
    return [kit.samples[i] for i in list(indices)[:n]]


def _non_carrier(kit: KitVcf, beg: int, end: int) -> str:
    """First sample with no ALT allele on either haplotype in ``[beg, end)``."""
    recs = kit.in_range(beg, end)
    alt_any = np.zeros(len(kit.samples), dtype=bool)
    for r in recs:
        alt_any |= (r.gt > 0).any(axis=1)
    return kit.samples[int(np.flatnonzero(~alt_any)[0])]


def _first(kit: KitVcf, pred: Callable[[Record], bool], *, after: int = 16_100_000) -> Record:
    for rec in kit.records:
        if rec.pos >= after and not rec.is_symbolic and pred(rec) and len(rec.carriers()):
            return rec
    raise LookupError("no record matches")


def _isolated(kit: KitVcf, rec: Record, flank: int = 30) -> bool:
    """True when no other record lies within ``flank`` bp of ``rec``."""
    near = kit.in_range(rec.pos - flank, rec.pos + len(rec.ref) + flank)
    return len(near) == 1 and near[0] is rec


def _indel_free(kit: KitVcf, beg: int, end: int) -> bool:
    return all(r.allele_len_diff(1) == 0 for r in kit.in_range(beg, end))


def choose_windows(kit: KitVcf, orig: KitVcf) -> dict[str, Window]:
    """Scan the normalised VCF (and the original, for the CNV) for test windows."""
    half = LENGTH // 2
    wins: dict[str, Window] = {}

    def add(name: str, start: int, samples: Sequence[str], note: str, strand: str = "+") -> None:
        extra = _non_carrier(kit, start - 100, start + LENGTH + 100)
        wins[name] = Window(name, start, tuple(dict.fromkeys([*samples, extra])), strand, note)

    def is_snp(r: Record) -> bool:
        return len(r.ref) == 1 and all(len(a) == 1 for a in r.alts)

    snp = _first(kit, lambda r: is_snp(r) and _indel_free(kit, r.pos - 600, r.pos + 600))
    add("snp_only", snp.pos - half, _pick(kit, snp.carriers(), 3), "SNPs only, no indel nearby")

    snp2 = _first(kit, is_snp, after=16_300_000)
    add("snp_at_start", snp2.pos, _pick(kit, snp2.carriers(), 2), "SNP on the first base")

    ins = _first(kit, lambda r: r.allele_len_diff(1) >= 3 and _isolated(kit, r))
    add("insertion_inside", ins.pos - half, _pick(kit, ins.carriers(), 3), "insertion mid-window")

    dels = [r for r in kit.records if r.allele_len_diff(1) < 0 and len(r.carriers()) and _isolated(kit, r)]
    long_del = min(dels, key=lambda r: (r.allele_len_diff(1), r.pos))  # longest deletion
    k = -long_del.allele_len_diff(1)
    add(
        "deletion_inside",
        long_del.pos - half,
        _pick(kit, long_del.carriers(), 3),
        f"{k}-bp deletion mid-window",
    )
    add(
        "deletion_covers_start",
        long_del.pos + 1 + k // 2,
        _pick(kit, long_del.carriers(), 3),
        "start lies inside a deletion anchored before the window",
    )
    add(
        "deletion_first_base_at_start",
        long_del.pos + 1,
        _pick(kit, long_del.carriers(), 2),
        "first deleted base is the window start",
    )
    ins2 = _first(kit, lambda r: r.allele_len_diff(1) > 0 and _isolated(kit, r), after=16_200_000)
    add(
        "insertion_anchor_before_start",
        ins2.pos + 1,
        _pick(kit, ins2.carriers(), 2),
        "insertion anchored at start-1 is excluded",
    )
    ins3 = _first(kit, lambda r: r.allele_len_diff(1) > 0 and _isolated(kit, r), after=16_350_000)
    add(
        "insertion_anchor_at_start",
        ins3.pos,
        _pick(kit, ins3.carriers(), 2),
        "insertion anchored on the first base is included",
    )

    # Split multiallelic sites (one record in the original VCF, several in the
    # normalised one): one SNP site and one indel site, carriers of each ALT.
    multi = [r.pos for r in orig.records if len(r.alts) > 1 and not r.is_symbolic]

    def split_site(pred: Callable[[list[Record]], bool]) -> int:
        for p in multi:
            recs = kit.at(p)
            if len(recs) > 1 and pred(recs) and all(len(r.carriers()) for r in recs):
                return p
        raise LookupError("no split multiallelic site found")

    def carriers_of_each(p: int) -> list[str]:
        return [s for r in kit.at(p) for s in _pick(kit, r.carriers(), 2)]

    p_snp = split_site(lambda rs: all(is_snp(r) for r in rs))
    add("multiallelic_snp", p_snp - half, carriers_of_each(p_snp), "split A>C,G-type site")
    p_indel = split_site(lambda rs: any(r.allele_len_diff(1) != 0 for r in rs))
    add("multiallelic_indel", p_indel - half, carriers_of_each(p_indel), "split site with an indel")
    # A site whose original REF is longer than one base (e.g. GA>GAA,G): normalising
    # trims GA>GAA to G>GA, so the window starting on the trimmed base checks that the
    # original record and its normalised form agree.
    p_long = split_site(lambda rs: any(r.allele_len_diff(1) > 0 for r in rs) and any(len(r.ref) > 1 for r in rs))
    add("multiallelic_del_ins", p_long - half, carriers_of_each(p_long), "split site GA>GAA,G-type")
    add(
        "multiallelic_start_on_trimmed_base",
        p_long + 1,
        carriers_of_each(p_long),
        "window starts on the base bcftools norm trims from GA>GAA",
    )

    # Overlapping records carried on one haplotype.
    overlaps: list[tuple[Record, Record, np.ndarray]] = []
    for i, a in enumerate(kit.records):
        for b in kit.records[i + 1 : i + 4]:
            if b.pos <= a.pos + len(a.ref) - 1 and not (a.is_symbolic or b.is_symbolic):
                both = np.flatnonzero(((a.gt > 0) & (b.gt > 0)).any(axis=1))
                if len(both):
                    overlaps.append((a, b, both))
    del_then_snp = next(o for o in overlaps if o[0].allele_len_diff(1) < 0 and o[1].pos > o[0].pos)
    add(
        "overlap_snp_inside_deletion",
        del_then_snp[0].pos - half,
        _pick(kit, del_then_snp[2], 3),
        "SNP on a deleted base of an applied deletion (skipped)",
    )
    shared = next(o for o in overlaps if o[0].pos == o[1].pos and o[1].allele_len_diff(1) < 0)
    add(
        "snp_then_deletion_same_pos",
        shared[0].pos - half,
        _pick(kit, shared[2], 2),
        "T>C then TG>T at one POS: bcftools applies both",
    )

    # Edges of the VCF span (the first window also reaches into the N run before
    # 16,050,000 and covers the symbolic <CN0> record of the original VCF).
    cnv = next(r for r in orig.records if r.is_symbolic)
    first, last = kit.records[0].pos, kit.records[-1].pos
    add(
        "vcf_span_start",
        first - 300,
        [*_pick(orig, cnv.carriers(1), 2), *_pick(kit, kit.records[0].carriers(), 1)],
        "first records, N/ACGT boundary, CNV carriers",
    )
    add("vcf_span_end", last - half, _pick(kit, kit.records[-1].carriers(), 2), "last record")
    add("contig_start", -half, [kit.samples[0]], "half the window before position 0")
    add(
        "contig_end",
        CONTIG_LENGTH - half - 1,
        [kit.samples[0]],
        "all but 257 bases past the contig end",
    )

    # Minus-strand copies (1 bp later, so every window has a distinct start).
    for name in ("deletion_covers_start", "insertion_inside", "multiallelic_indel"):
        w = wins[name]
        add(f"{name}_minus", w.start + 1, w.samples[:-1], f"{w.note}; minus strand", "-")

    starts = [w.start for w in wins.values()]
    assert len(set(starts)) == len(starts), f"window starts collide: {sorted(starts)}"
    return wins


WINDOW_NAMES = (
    "snp_only",
    "snp_at_start",
    "insertion_inside",
    "deletion_inside",
    "deletion_covers_start",
    "deletion_first_base_at_start",
    "insertion_anchor_before_start",
    "insertion_anchor_at_start",
    "multiallelic_snp",
    "multiallelic_indel",
    "multiallelic_del_ins",
    "multiallelic_start_on_trimmed_base",
    "overlap_snp_inside_deletion",
    "snp_then_deletion_same_pos",
    "vcf_span_start",
    "vcf_span_end",
    "contig_start",
    "contig_end",
    "deletion_covers_start_minus",
    "insertion_inside_minus",
    "multiallelic_indel_minus",
)


@pytest.fixture(scope="module")
def windows(kit_norm: KitVcf, kit_orig: KitVcf) -> dict[str, Window]:
    wins = choose_windows(kit_norm, kit_orig)
    assert set(wins) == set(WINDOW_NAMES)
    return wins


def reimplementation_cases(kit: KitVcf, windows: dict[str, Window]) -> list[tuple[int, str]]:
    """(start, sample) windows compared with the Python re-implementation.

    Every plus-strand window inside ``SPAN_REGION`` with its samples, plus 40 random
    windows for 24 random samples (fixed seed).
    """
    rng = random.Random(20240611)
    first, last = kit.records[0].pos, kit.records[-1].pos
    cases = [
        (w.start, s)
        for w in windows.values()
        if w.strand == "+" and SPAN_REGION[0] <= w.start < SPAN_REGION[1] - 2 * LENGTH
        for s in w.samples
    ]
    random_samples = rng.sample(kit.samples, 24)
    cases += [(rng.randrange(first - 200, last), rng.choice(random_samples)) for _ in range(40)]
    return cases


def committed_queries(kit: KitVcf, windows: dict[str, Window]) -> list[Query]:
    """Every window the ``committed`` oracle must answer (plus strand, both haplotypes).

    ``tests/data/bcftools_expected/make_expected.py`` runs bcftools on exactly these.
    """
    starts = [(vcf, w.start, s) for vcf in (VCF_NORM, VCF) for w in windows.values() for s in w.samples]
    starts += [(VCF_NORM, start, s) for start, s in reimplementation_cases(kit, windows)]
    keys = {query_key(vcf, FASTA, s, hap, CONTIG, start, LENGTH) for vcf, start, s in starts for hap in (1, 2)}
    return sorted(keys)


@pytest.fixture(scope="module")
def live_oracle(
    bcftools_oracle: BcftoolsOracle,
    windows: dict[str, Window],
) -> BcftoolsOracle:
    """The session oracle with every window's consensus runs done in one batch."""
    samples = {s for w in windows.values() for s in w.samples}
    spans = [(w.start, LENGTH) for w in windows.values()]
    for vcf in (VCF_NORM, VCF):
        bcftools_oracle.prefetch(vcf, FASTA, sorted(samples), CONTIG, spans)
    return bcftools_oracle


@pytest.fixture(scope="module")
def recorded_oracle() -> RecordedOracle:
    return RecordedOracle()


@pytest.fixture(scope="module", params=ORACLE_SOURCES)
def oracle(request: pytest.FixtureRequest) -> BcftoolsOracle | RecordedOracle:
    """Expected haplotypes: the committed bcftools outputs, or bcftools run now."""
    if request.param == "live":
        return request.getfixturevalue("live_oracle")
    return request.getfixturevalue("recorded_oracle")


def _expected(oracle: BcftoolsOracle, vcf: Path, w: Window, sample: str, hap: int) -> bytes:
    return oracle.haplotype(vcf, FASTA, sample, hap, CONTIG, w.start, LENGTH, strand=w.strand)


def _write_region(path: Path, beg: int, end: int) -> Path:
    """Write reference ``[beg, end)`` as a FASTA named ``22:beg+1-end`` (bcftools region form)."""
    import pyfaidx

    with pyfaidx.Fasta(str(FASTA), as_raw=True) as fa:
        seq = fa[CONTIG][beg:end]
    path.write_text(f">{CONTIG}:{beg + 1}-{end}\n{seq}\n")
    return path


def _describe_mismatch(got: bytes, want: bytes) -> str:
    i = next((j for j, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    lo = max(i - 10, 0)
    return (
        f"first difference at offset {i} (len got {len(got)}, want {len(want)}):\n"
        f"  got  ...{got[lo : i + 30].decode(errors='replace')}\n"
        f"  want ...{want[lo : i + 30].decode(errors='replace')}"
    )


# -----------------------------------------------------------------------------
# The oracle, checked on its own
# -----------------------------------------------------------------------------


def test_oracle_snp_only_window_matches_manual_substitution(
    oracle: BcftoolsOracle, kit_norm: KitVcf, ref_span: str, windows: dict[str, Window]
) -> None:
    """In an indel-free window the haplotype is the reference with that haplotype's SNPs."""
    w = windows["snp_only"]
    recs = kit_norm.in_range(w.start, w.start + LENGTH)
    assert recs
    assert all(len(r.ref) == 1 and len(r.alts[0]) == 1 for r in recs)
    for sample in w.samples:
        s = kit_norm.samples.index(sample)
        for hap in (1, 2):
            seq = bytearray(ref_span[w.start - SPAN_REGION[0] : w.start - SPAN_REGION[0] + LENGTH], "ascii")
            for r in recs:
                allele = int(r.gt[s, hap - 1])
                if allele > 0:
                    seq[r.pos - w.start] = ord(r.alts[allele - 1])
            assert _expected(oracle, VCF_NORM, w, sample, hap) == bytes(seq), (sample, hap)


def test_oracle_windows_exercise_variants(oracle: BcftoolsOracle, ref_span: str, windows: dict[str, Window]) -> None:
    """Each window's carriers differ from the reference and its last sample does not.

    Guards the gvl comparisons against becoming vacuous if window selection drifts:
    indel windows must contain a haplotype shifted by the indel. The exception is
    the insertion anchored just before the window, which must *not* show up.
    """
    off = SPAN_REGION[0]
    for w in windows.values():
        if w.name.startswith("contig_"):
            continue
        ref = ref_span[w.start - off : w.start - off + LENGTH].encode()
        if w.strand == "-":
            ref = reverse_complement(ref)
        haps = [_expected(oracle, VCF_NORM, w, s, h) for s in w.samples for h in (1, 2)]
        assert haps[-2:] == [ref, ref], f"{w.name}: the non-carrier should read the reference"
        if w.name == "insertion_anchor_before_start":
            continue
        assert any(h != ref for h in haps[:-2]), f"{w.name}: no carrier differs from the reference"
        if any(k in w.name for k in ("insertion", "deletion", "indel")):
            n_diff = [sum(a != b for a, b in zip(h, ref, strict=True)) for h in haps]
            assert max(n_diff) > LENGTH // 4, f"{w.name}: no haplotype is shifted by an indel"


@live_bcftools
def test_oracle_window_starting_inside_deletion_by_hand(
    live_oracle: BcftoolsOracle, kit_norm: KitVcf, ref_span: str, windows: dict[str, Window]
) -> None:
    """A window starting inside a carried deletion begins at the first base after it.

    Checked with a short window (20 bp) in which the carrier has no other ALT allele,
    so the expectation is plain reference sequence read from the FASTA.
    """
    w = windows["deletion_covers_start"]
    rec = next(r for r in kit_norm.records if r.pos < w.start < r.pos + len(r.ref))
    del_end = rec.pos + len(rec.ref)  # first reference base after the deletion
    n = 20
    s = int(rec.carriers()[0])
    hap = int(np.flatnonzero(rec.gt[s] == 1)[0])
    others = [r for r in kit_norm.in_range(rec.pos, del_end + n + 5) if r is not rec and r.gt[s, hap] > 0]
    assert not others, "pick a deletion without neighbours on this haplotype"
    off = SPAN_REGION[0]
    want_inside = ref_span[del_end - off : del_end - off + n].encode()
    got = live_oracle.haplotype(VCF_NORM, FASTA, kit_norm.samples[s], hap + 1, CONTIG, w.start, n)
    assert got == want_inside
    # A window starting on the anchor keeps the anchor, then jumps over the deletion.
    want_anchor = (ref_span[rec.pos - off] + ref_span[del_end - off : del_end - off + n - 1]).encode()
    got = live_oracle.haplotype(VCF_NORM, FASTA, kit_norm.samples[s], hap + 1, CONTIG, rec.pos, n)
    assert got == want_anchor
    # The other haplotype / a non-carrier reads plain reference.
    non = windows["deletion_covers_start"].samples[-1]
    got = live_oracle.haplotype(VCF_NORM, FASTA, non, 1, CONTIG, w.start, n)
    assert got == ref_span[w.start - off : w.start - off + n].encode()


@live_bcftools
def test_oracle_insertion_anchor_rules_by_hand(
    live_oracle: BcftoolsOracle, kit_norm: KitVcf, ref_span: str, windows: dict[str, Window]
) -> None:
    """Insertion anchored at ``start`` is included; anchored at ``start - 1`` it is not."""
    off = SPAN_REGION[0]
    for name, included in (("insertion_anchor_at_start", True), ("insertion_anchor_before_start", False)):
        w = windows[name]
        anchor = w.start if included else w.start - 1
        rec = next(r for r in kit_norm.at(anchor) if r.allele_len_diff(1) > 0)
        s = int(rec.carriers()[0])
        hap = int(np.flatnonzero(rec.gt[s] == 1)[0])
        n = 12
        nearby = [r for r in kit_norm.in_range(anchor, anchor + n + 2) if r is not rec and r.gt[s, hap] > 0]
        assert not nearby
        got = live_oracle.haplotype(VCF_NORM, FASTA, kit_norm.samples[s], hap + 1, CONTIG, w.start, n)
        if included:
            want = (rec.alts[0] + ref_span[anchor + 1 - off : anchor + n - off])[:n]
        else:
            want = ref_span[w.start - off : w.start - off + n]
        assert got == want.encode(), name


def test_oracle_matches_python_reimplementation(
    oracle: BcftoolsOracle, kit_norm: KitVcf, ref_span: str, windows: dict[str, Window]
) -> None:
    """bcftools+chain and an independent Python application agree on many windows.

    Covers :func:`reimplementation_cases`, both haplotypes.
    """
    cases = reimplementation_cases(kit_norm, windows)
    oracle.prefetch(VCF_NORM, FASTA, sorted({s for _, s in cases}), CONTIG, [(kit_norm.records[0].pos, LENGTH)])
    personal: dict[tuple[str, int], PythonHaplotype] = {}
    for start, sample in cases:
        s = kit_norm.samples.index(sample)
        for hap in (1, 2):
            if (sample, hap) not in personal:
                personal[sample, hap] = python_haplotype(kit_norm, ref_span, s, hap - 1)
            want = personal[sample, hap].window(start, LENGTH)
            got = oracle.haplotype(VCF_NORM, FASTA, sample, hap, CONTIG, start, LENGTH)
            assert got == want, f"{sample} hap {hap} at {start}: " + _describe_mismatch(got, want)


def test_oracle_split_multiallelics_equal_original_vcf(oracle: BcftoolsOracle, windows: dict[str, Window]) -> None:
    """Splitting multiallelic records (the normalised VCF) does not change any haplotype."""
    for name in (
        "multiallelic_snp",
        "multiallelic_indel",
        "multiallelic_del_ins",
        "multiallelic_start_on_trimmed_base",
        "vcf_span_start",
    ):
        w = windows[name]
        for sample in w.samples:
            for hap in (1, 2):
                norm = _expected(oracle, VCF_NORM, w, sample, hap)
                orig = _expected(oracle, VCF, w, sample, hap)
                assert norm == orig, (name, sample, hap)


@live_bcftools
def test_oracle_skips_symbolic_cnv(
    live_oracle: BcftoolsOracle, kit_orig: KitVcf, windows: dict[str, Window], tmp_path: Path
) -> None:
    """The ``<CN0>`` record is excluded; without the exclusion bcftools aborts."""
    cnv = next(r for r in kit_orig.records if r.is_symbolic)
    s = int(cnv.carriers(1)[0])
    hap = int(np.flatnonzero(cnv.gt[s] == 1)[0]) + 1
    sample = kit_orig.samples[s]
    w = windows["vcf_span_start"]
    assert sample in w.samples
    # Carrier's haplotype over the CNV (22:16,050,654-16,063,474) is not deleted.
    got = live_oracle.haplotype(VCF, FASTA, sample, hap, CONTIG, cnv.pos, LENGTH)
    assert got == live_oracle.haplotype(VCF_NORM, FASTA, sample, hap, CONTIG, cnv.pos, LENGTH)
    region = _write_region(tmp_path / "region.fa", 16_040_000, 16_070_000)
    with pytest.raises(BcftoolsError, match="Symbolic alleles"):
        run_bcftools("consensus", "-s", sample, "-H", str(hap), "-f", region, VCF)


def test_oracle_contig_edges_and_strand(oracle: BcftoolsOracle, windows: dict[str, Window]) -> None:
    """Bases before 0 and after the contig end are N; '-' is the reverse complement."""
    w = windows["contig_start"]
    got = oracle.haplotype(VCF_NORM, FASTA, w.samples[0], 1, CONTIG, w.start, LENGTH)
    assert got[: LENGTH // 2] == b"N" * (LENGTH // 2)  # chr22 starts with a long N run anyway
    w = windows["contig_end"]
    got = oracle.haplotype(VCF_NORM, FASTA, w.samples[0], 1, CONTIG, w.start, LENGTH)
    inside = CONTIG_LENGTH - w.start
    assert len(got) == LENGTH
    assert got[inside:] == b"N" * (LENGTH - inside)
    assert set(got[:inside]) <= set(b"ACGT")
    w = windows["deletion_covers_start"]
    for hap in (1, 2):
        plus = oracle.haplotype(VCF_NORM, FASTA, w.samples[0], hap, CONTIG, w.start, LENGTH)
        minus = oracle.haplotype(VCF_NORM, FASTA, w.samples[0], hap, CONTIG, w.start, LENGTH, strand="-")
        assert minus == reverse_complement(plus)


@live_bcftools
def test_oracle_overlap_rules(live_oracle: BcftoolsOracle, kit_norm: KitVcf, windows: dict[str, Window]) -> None:
    """bcftools skips a SNP on a deleted base, but applies T>C then TG>T at one POS."""
    w = windows["overlap_snp_inside_deletion"]
    dele = next(r for r in kit_norm.at(w.start + LENGTH // 2) if r.allele_len_diff(1) < 0)
    snp = next(r for r in kit_norm.in_range(dele.pos + 1, dele.pos + len(dele.ref)) if r is not dele)
    s = kit_norm.samples.index(w.samples[0])
    hap = int(np.flatnonzero((dele.gt[s] > 0) & (snp.gt[s] > 0))[0]) + 1
    beg, end = live_oracle.region_for(VCF_NORM, FASTA, CONTIG, w.start, LENGTH)
    cons = live_oracle.consensus(VCF_NORM, FASTA, w.samples[0], hap, CONTIG, beg, end)
    assert f"The site {CONTIG}:{snp.pos + 1} overlaps with another variant, skipping..." in (cons.warnings)

    w = windows["snp_then_deletion_same_pos"]
    snp, dele = kit_norm.at(w.start + LENGTH // 2)[:2]
    assert len(snp.ref) == 1
    assert dele.allele_len_diff(1) < 0
    s = kit_norm.samples.index(w.samples[0])
    hap = int(np.flatnonzero((snp.gt[s] > 0) & (dele.gt[s] > 0))[0]) + 1
    got = live_oracle.haplotype(VCF_NORM, FASTA, w.samples[0], hap, CONTIG, snp.pos, 4)
    ref = live_oracle.haplotype(VCF_NORM, FASTA, w.samples[-1], hap, CONTIG, snp.pos, 8)
    deleted = len(dele.ref) - 1
    # SNP applied on the shared base, then the deleted base(s) skipped.
    assert got == (snp.alts[0] + ref[1 + deleted : 4 + deleted].decode()).encode()


def test_modified_vcf_fixtures(
    vcf_with_missing_gt: EditedVcf,
    vcf_with_unphased_het: EditedVcf,
    vcf_with_ref_mismatch: RefMismatchVcf,
) -> None:
    """The derived VCFs contain exactly the advertised edits."""
    import cyvcf2

    for edited, kinds in ((vcf_with_missing_gt, {".|1", ".|."}), (vcf_with_unphased_het, {"0/1"})):
        assert edited.edits
        assert {e.new for e in edited.edits} == kinds
        assert Path(f"{edited.path}.tbi").exists()
        reader = cyvcf2.VCF(str(edited.path))
        idx = {n: i for i, n in enumerate(reader.samples)}
        for e in edited.edits:
            (rec,) = [r for r in reader(f"{CONTIG}:{e.pos}-{e.pos}") if e.ref == r.REF]
            gt = rec.genotypes[idx[e.sample]]
            a = "." if gt[0] < 0 else str(gt[0])
            b = "." if gt[1] < 0 else str(gt[1])
            assert f"{a}{'|' if gt[2] else '/'}{b}" == e.new
    bad = vcf_with_ref_mismatch
    assert bad.vcf_ref != bad.fasta_ref
    (rec,) = [r for r in cyvcf2.VCF(str(bad.path))(f"{CONTIG}:{bad.pos}-{bad.pos}") if [bad.alt] == r.ALT]
    assert bad.vcf_ref == rec.REF


@live_bcftools
def test_bcftools_rejects_ref_mismatch(vcf_with_ref_mismatch: RefMismatchVcf, tmp_path: Path) -> None:
    """bcftools itself refuses the REF that disagrees with the FASTA."""
    bad = vcf_with_ref_mismatch
    region = _write_region(tmp_path / "region.fa", bad.pos - 1000, bad.pos + 1000)
    with pytest.raises(BcftoolsError, match="does not match the REF"):
        run_bcftools("consensus", "-f", region, bad.path)


def test_committed_outputs_cover_every_query(
    recorded_oracle: RecordedOracle, kit_norm: KitVcf, windows: dict[str, Window]
) -> None:
    """The stored table answers every window the tests ask for and names its bcftools."""
    missing = [q for q in committed_queries(kit_norm, windows) if q not in recorded_oracle.rows]
    assert not missing, f"{len(missing)} windows missing from {EXPECTED_HAPLOTYPES}, e.g. {missing[:3]}"
    assert any(line.startswith("bcftools ") for line in recorded_oracle.header), recorded_oracle.header
    assert all(len(seq) == LENGTH for seq in recorded_oracle.rows.values())


@live_bcftools
def test_committed_outputs_match_live_bcftools(
    recorded_oracle: RecordedOracle, live_oracle: BcftoolsOracle, kit_norm: KitVcf, windows: dict[str, Window]
) -> None:
    """Every stored window equals what the installed bcftools gives now."""
    queries = committed_queries(kit_norm, windows)
    live_oracle.prefetch(VCF_NORM, FASTA, sorted({q[5] for q in queries}), CONTIG, [(kit_norm.records[0].pos, LENGTH)])
    paths = {p.name: p for p in (VCF_NORM, VCF, FASTA)}
    stale = [
        q
        for q in queries
        if live_oracle.haplotype(paths[q[0]], paths[q[1]], q[5], q[6], q[2], q[3], q[4]) != recorded_oracle.rows[q]
    ]
    assert not stale, (
        f"{len(stale)} stored windows differ from bcftools, e.g. {stale[:3]}; "
        "re-run `python tests/data/bcftools_expected/make_expected.py`"
    )


# -----------------------------------------------------------------------------
# gvl_zarr against the oracle
# -----------------------------------------------------------------------------

DATASET_CASES = {
    "norm": (VCF_NORM, 0),
    "norm-jitter16": (VCF_NORM, 16),
    "orig": (VCF, 0),
}


@pytest.fixture(scope="module", params=list(DATASET_CASES), ids=list(DATASET_CASES))
def gvl_dataset(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    windows: dict[str, Window],
) -> tuple[object, Path, list[Window]]:
    """Write every window with ``gvl.write`` and open it without tracks or jitter.

    ``norm`` uses the normalised biallelic VCF, ``orig`` the original one (28
    multiallelic records and the symbolic ``<CN0>``, which must be skipped), and
    ``norm-jitter16`` stores ``max_jitter=16`` extra bases on both sides but reads
    with ``jitter=0``, which must not change the window.
    """
    gvl = pytest.importorskip("gvl_zarr")
    import polars as pl

    vcf, max_jitter = DATASET_CASES[request.param]
    order = sorted(windows.values(), key=lambda w: w.start)
    rows = [w.bed_row() for w in order]
    bed = pl.DataFrame(
        {
            "chrom": [r[0] for r in rows],
            "chromStart": [r[1] for r in rows],
            "chromEnd": [r[2] for r in rows],
            "strand": [r[3] for r in rows],
        }
    )
    path = tmp_path_factory.mktemp(f"gvl_{request.param}") / "kit.gvl"
    samples = sorted({s for w in order for s in w.samples})
    gvl.write(
        path,
        bed,
        variants=vcf,
        length=LENGTH,
        max_jitter=max_jitter,
        samples=samples,
        overwrite=True,
    )
    ds = gvl.Dataset.open(path, reference=FASTA).with_settings(return_tracks=False, jitter=0)
    return ds, vcf, order


@pytest.mark.parametrize("name", WINDOW_NAMES)
def test_gvl_haplotypes_match_bcftools(
    gvl_dataset: tuple[object, Path, list[Window]],
    oracle: BcftoolsOracle,
    windows: dict[str, Window],
    name: str,
) -> None:
    """Both haplotypes of every chosen sample equal the bcftools consensus window."""
    ds, vcf, order = gvl_dataset
    w = windows[name]
    region = order.index(w)
    samples = list(ds.samples)  # type: ignore[attr-defined]
    failures = []
    for sample in w.samples:
        haps = np.asarray(ds[region, samples.index(sample)])  # type: ignore[index]
        assert haps.shape == (2, LENGTH)
        assert haps.dtype == np.dtype("S1")
        for h in (0, 1):
            got = haps[h].tobytes()
            want = _expected(oracle, vcf, w, sample, h + 1)
            if got != want:
                failures.append(f"{sample} hap {h + 1}: " + _describe_mismatch(got, want))
    assert not failures, f"{name} ({w.note}) at {CONTIG}:{w.start}{w.strand}\n" + "\n".join(failures)


def test_bcftools_requirement_is_enforced() -> None:
    """With GVL_REQUIRE_BCFTOOLS=1 a missing bcftools fails instead of skipping."""
    if os.environ.get("GVL_REQUIRE_BCFTOOLS") == "1":
        import shutil

        assert shutil.which("bcftools"), "GVL_REQUIRE_BCFTOOLS=1 but bcftools is not installed"
