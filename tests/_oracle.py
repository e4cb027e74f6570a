"""Independent expectations for gvl_zarr tests, computed with ``bcftools``.

The central piece is :func:`bcftools_haplotype`: the personal haplotype of one
reference window, produced by ``bcftools consensus`` (not by any gvl_zarr code) and
cut out of the consensus sequence with the chain file bcftools writes alongside.

Window semantics (the contract gvl_zarr is tested against)
----------------------------------------------------------
For a 0-based reference window ``[start, start + length)``:

* the haplotype starts at the personal base aligned to the first reference base
  ``>= start`` that survives in the haplotype. So a window whose ``start`` falls
  inside a deletion begins right after the deletion, and an insertion anchored on
  ``start - 1`` is *not* part of the window, while one anchored on ``start`` is;
* exactly ``length`` bases are returned: a longer personal sequence is cut on the
  right, a shorter one keeps reading downstream;
* positions before 0 or past the contig end read as ``N``;
* output is upper case; for ``strand="-"`` the whole window is reverse-complemented.

Which reference bases "survive" is read from the chain file, after trimming the
alleles the way ``bcftools norm`` would: an un-normalised record such as
``GA>GAA`` keeps its ``A`` (it is the insertion ``G>GA``), so the original and
the normalised kit VCFs give identical windows.

Overlapping variants follow ``bcftools consensus``: records are applied in file
order and a record that overlaps an already applied one is skipped ("first wins"),
except that an indel whose anchor base is the last base of the previous applied
variant is still applied (for example ``T>C`` followed by ``TG>T`` at the same
POS gives ``C`` with the ``G`` deleted). Missing alleles (``.``) keep the
reference. Symbolic alleles (``<CN0>``, ``<DEL>``...) are excluded with
``-e 'ALT~"<.*>"'``: bcftools 1.16 aborts on ``<CN0>`` whenever the chosen
haplotype carries it, and gvl_zarr skips symbolic alleles.

Committed outputs and the live oracle
-------------------------------------
``tests/data/bcftools_expected/haplotypes.tsv.gz`` holds the ``bcftools consensus``
windows the tests compare against, written by
``tests/data/bcftools_expected/make_expected.py`` (its header names the bcftools
version). :class:`RecordedOracle` reads them, so the comparisons run on a machine
without bcftools. Tests that need bcftools itself carry the ``live_bcftools``
marker: they are collected only when bcftools is on PATH or ``GVL_REQUIRE_BCFTOOLS=1``
(then a missing bcftools is a failure), never skipped; one of them checks the
committed outputs against a live run.

Fixtures for modified inputs (missing or unphased genotypes, a REF that disagrees
with the FASTA, an unindexed VCF, a BED past the contig end and a BigWig table
naming a sample the VCF lacks) are defined at the bottom; they are built in
``tmp_path`` from the real kit files with pysam (bgzip and tabix from htslib), so
they need no bcftools. To use them from a test module, import them by name (or
list this module in ``pytest_plugins``).
"""

from __future__ import annotations

import atexit
import bisect
import csv
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parent / "data"
FASTA = DATA_DIR / "grch37.chr22_1-22000000.fa.bgz"
VCF = DATA_DIR / "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz"
VCF_NORM = DATA_DIR / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz"
BIGWIG_STAT1 = DATA_DIR / "GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"
BIGWIG_NA24385 = DATA_DIR / "NA24385_WGS_coverage_500bp.grch37_22.bw"
BIGWIG_CHR22_NAMED = DATA_DIR / "STAT1.chr22_named.subset.bw"
CONTIG = "22"
CONTIG_LENGTH = 22_000_000

REQUIRE_ENV = "GVL_REQUIRE_BCFTOOLS"
EXCLUDE_SYMBOLIC = 'ALT~"<.*>"'
_COMPLEMENT = bytes.maketrans(b"ACGTNacgtnRYKMBVDHrykmbvdh", b"TGCANtgcanYRMKVBHDyrmkvbhd")


def bcftools_path() -> str | None:
    """Return the ``bcftools`` executable, or None when it is not installed."""
    return shutil.which("bcftools")


def live_bcftools_available() -> bool:
    """True when tests that run bcftools are collected: it is on PATH or required."""
    return bcftools_path() is not None or os.environ.get(REQUIRE_ENV) == "1"


live_bcftools = pytest.mark.live_bcftools
"""Marks a test that runs bcftools itself.

``conftest.py`` leaves such tests out of the collection (reported as deselected, with
a line in the report header) when :func:`live_bcftools_available` is false, so a
machine without bcftools runs every other test and skips none. With
``GVL_REQUIRE_BCFTOOLS=1`` they are always collected and a missing bcftools fails
with :class:`BcftoolsError`.
"""

requires_bcftools = live_bcftools
"""Alias of :data:`live_bcftools`."""

EXPECTED_DIR = DATA_DIR / "bcftools_expected"
EXPECTED_HAPLOTYPES = EXPECTED_DIR / "haplotypes.tsv.gz"
EXPECTED_COLUMNS = ("vcf", "fasta", "chrom", "start", "length", "sample", "hap", "sequence")


class BcftoolsError(RuntimeError):
    """bcftools is missing or one of its commands failed."""


def _bcftools() -> str:
    exe = bcftools_path()
    if exe is None:
        raise BcftoolsError(
            "bcftools is required for this test but was not found on PATH; install it (e.g. `apt-get install bcftools`)"
        )
    return exe


def run_bcftools(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``bcftools ARGS``; raise :class:`BcftoolsError` with its stderr on failure."""
    cmd = [_bcftools(), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise BcftoolsError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    return proc


def reverse_complement(seq: bytes) -> bytes:
    """Reverse-complement a DNA byte string (IUPAC codes and case kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def contig_lengths(fasta: str | os.PathLike[str]) -> dict[str, int]:
    """Contig lengths from the FASTA's ``.fai`` index."""
    with open(f"{os.fspath(fasta)}.fai") as fh:
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in fh if line.strip()}


@dataclass(frozen=True)
class Consensus:
    """One ``bcftools consensus`` result for a reference region ``[beg, end)``.

    ``blocks`` holds the chain's ungapped blocks as ``(ref_start, cons_start,
    size)`` in absolute 0-based coordinates; ``seq[i]`` is consensus coordinate
    ``beg + i`` (bcftools starts both sides of the chain at the region start).
    """

    chrom: str
    beg: int
    end: int
    seq: bytes
    blocks: tuple[tuple[int, int, int], ...]
    warnings: tuple[str, ...] = field(default=())

    def ref_to_consensus(self, pos: int) -> int:
        """Consensus coordinate of the first reference base ``>= pos`` kept in the haplotype.

        Reference bases in a chain gap (deleted, or replaced by a complex
        allele) are not kept, so a position inside a deletion maps to the base
        that follows the deletion.
        """
        if not self.beg <= pos < self.end:
            raise ValueError(f"{pos} is outside the consensus region [{self.beg}, {self.end})")
        ends = [t + size for t, _, size in self.blocks]
        i = bisect.bisect_right(ends, pos)
        if i == len(self.blocks):  # only a gap remains up to the region end
            return self.beg + len(self.seq)
        t, q, _ = self.blocks[i]
        return q + max(pos - t, 0)


def parse_chain(text: str, beg: int, end: int) -> tuple[tuple[int, int, int], ...]:
    """Parse a single-chain file written by ``bcftools consensus -c``."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0][0] != "chain":
        raise BcftoolsError(f"unexpected chain file contents: {text[:200]!r}")
    header = lines[0]
    t_start, t_end, q_start = int(header[5]), int(header[6]), int(header[10])
    if (t_start, t_end) != (beg, end) or q_start != beg:
        raise BcftoolsError(
            f"chain covers reference [{t_start}, {t_end}) from consensus {q_start}, expected [{beg}, {end}) from {beg}"
        )
    blocks: list[tuple[int, int, int]] = []
    t, q = t_start, q_start
    for fields in lines[1:]:
        size = int(fields[0])
        blocks.append((t, q, size))
        t += size
        q += size
        if len(fields) == 3:
            t += int(fields[1])
            q += int(fields[2])
    if t != t_end:
        raise BcftoolsError(f"chain blocks end at {t}, header says {t_end}")
    return tuple(blocks)


def trim_replacement_gaps(
    blocks: tuple[tuple[int, int, int], ...], ref: bytes, cons: bytes, beg: int
) -> tuple[tuple[int, int, int], ...]:
    """Align the shared bases inside chain gaps that replace reference bases.

    bcftools only strips the first base of an indel, so a multiallelic record such
    as ``GA>GAA`` is chained as a gap replacing ``A`` by ``AA`` and the ``A`` would
    count as removed, while its normalised form ``G>GA`` keeps it. Trimming each
    such gap's common suffix, then its common prefix (the order ``bcftools norm``
    trims alleles), makes a record and its normalised form give the same window.
    ``ref`` and ``cons`` are the region's reference and consensus, both starting at
    coordinate ``beg``.
    """
    out: list[tuple[int, int, int]] = []
    for i, (t, q, size) in enumerate(blocks):
        out.append((t, q, size))
        if i + 1 == len(blocks):
            break
        t0, q0 = t + size, q + size
        t1, q1 = blocks[i + 1][0], blocks[i + 1][1]
        r_gap = ref[t0 - beg : t1 - beg].upper()
        c_gap = cons[q0 - beg : q1 - beg].upper()
        if not r_gap or not c_gap:
            continue
        n = min(len(r_gap), len(c_gap))
        suffix = next((k for k in range(n) if r_gap[-1 - k] != c_gap[-1 - k]), n)
        n -= suffix
        prefix = next((k for k in range(n) if r_gap[k] != c_gap[k]), n)
        if prefix:
            out.append((t0, q0, prefix))
        if suffix:
            out.append((t1 - suffix, q1 - suffix, suffix))
    merged: list[tuple[int, int, int]] = []
    for t, q, size in out:
        if merged and merged[-1][0] + merged[-1][2] == t and merged[-1][1] + merged[-1][2] == q:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
        else:
            merged.append((t, q, size))
    return tuple(merged)


def _write_region_fasta(fasta: Path, chrom: str, beg: int, end: int, out: Path) -> None:
    """Write reference ``chrom:[beg, end)`` as a FASTA named ``chrom:beg+1-end``."""
    import pyfaidx

    with pyfaidx.Fasta(str(fasta), sequence_always_upper=False, as_raw=True) as ref:
        seq = ref[chrom][beg:end]
    tmp = out.with_suffix(".part")
    with tmp.open("w") as fh:
        fh.write(f">{chrom}:{beg + 1}-{end}\n")
        for i in range(0, len(seq), 60):
            fh.write(seq[i : i + 60])
            fh.write("\n")
    os.replace(tmp, out)


def _digest(key: tuple[str, ...]) -> str:
    return hashlib.sha1("\0".join(key).encode()).hexdigest()[:16]


def _read_fasta_seq(path: Path) -> bytes:
    with path.open("rb") as fh:
        lines = fh.read().splitlines()
    if not lines or not lines[0].startswith(b">"):
        raise BcftoolsError(f"{path} is not a FASTA file")
    return b"".join(lines[1:])


class BcftoolsOracle:
    """Personal haplotypes from ``bcftools consensus``, cached on disk and in memory.

    One consensus is run per (VCF, FASTA, sample, haplotype, region). The region
    is the VCF's variant span on the contig widened by ``pad`` (so all windows in
    the span share one run per haplotype); a window away from every variant gets
    its own small region instead.
    """

    def __init__(self, workdir: str | os.PathLike[str], *, pad: int = 50_000) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pad = pad
        self._lock = threading.Lock()
        self._results: dict[tuple[str, ...], Consensus] = {}
        self._spans: dict[tuple[str, str], tuple[int, int] | None] = {}
        self._regions: dict[tuple[str, str, int, int], Path] = {}

    # -- public API -------------------------------------------------------------
    def haplotype(
        self,
        vcf: str | os.PathLike[str],
        fasta: str | os.PathLike[str],
        sample: str,
        hap: int,
        chrom: str,
        start: int,
        length: int,
        *,
        strand: str = "+",
    ) -> bytes:
        """Expected haplotype ``hap`` (1 or 2) of ``sample`` over a reference window.

        See the module docstring for the exact semantics.
        """
        if hap not in (1, 2):
            raise ValueError(f"hap must be 1 or 2, got {hap!r}")
        if strand not in ("+", "-"):
            raise ValueError(f"strand must be '+' or '-', got {strand!r}")
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        clen = contig_lengths(fasta)[chrom]

        left_n = min(max(-start, 0), length)
        pos = max(start, 0)
        need = length - left_n
        body = b""
        if need and pos < clen:
            beg, end = self.region_for(vcf, fasta, chrom, pos, need)
            cons = self.consensus(vcf, fasta, sample, hap, chrom, beg, end)
            i = cons.ref_to_consensus(pos) - cons.beg
            body = cons.seq[i : i + need]
            if len(body) < need and end < clen:
                raise BcftoolsError(
                    f"consensus region {chrom}:{beg}-{end} too short for window at {start}; increase pad"
                )
        out = (b"N" * left_n + body.upper()).ljust(length, b"N")
        return reverse_complement(out) if strand == "-" else out

    def consensus(
        self,
        vcf: str | os.PathLike[str],
        fasta: str | os.PathLike[str],
        sample: str,
        hap: int,
        chrom: str,
        beg: int,
        end: int,
        *,
        source: Path | None = None,
    ) -> Consensus:
        """Run (or fetch from cache) ``bcftools consensus`` for reference ``chrom:[beg, end)``.

        ``source`` is a sample subset of ``vcf`` to read instead (same records,
        fewer genotype columns, so much faster); results are cached under ``vcf``.
        """
        vcf_p, fasta_p = Path(vcf).resolve(), Path(fasta).resolve()
        key = (str(vcf_p), str(fasta_p), sample, str(hap), chrom, str(beg), str(end))
        with self._lock:
            hit = self._results.get(key)
        if hit is not None:
            return hit

        region_fa = self._region_fasta(fasta_p, chrom, beg, end)
        stem = _digest(key)
        out_fa = self.workdir / f"{stem}.fa"
        chain = self.workdir / f"{stem}.chain"
        proc = run_bcftools(
            "consensus",
            "--exclude", EXCLUDE_SYMBOLIC,
            "--sample", sample,
            "--haplotype", str(hap),
            "--fasta-ref", region_fa,
            "--chain", chain,
            "--output", out_fa,
            source or vcf_p,
        )  # fmt: skip
        seq = _read_fasta_seq(out_fa)
        blocks = parse_chain(chain.read_text(), beg, end)
        blocks = trim_replacement_gaps(blocks, _read_fasta_seq(region_fa), seq, beg)
        q_end = blocks[-1][1] + blocks[-1][2] if blocks else beg
        if q_end > beg + len(seq):
            raise BcftoolsError(f"chain for {out_fa} runs past the consensus sequence")
        warnings = tuple(
            line
            for line in proc.stderr.decode(errors="replace").splitlines()
            if line and not line.startswith("Applied ")
        )
        result = Consensus(chrom, beg, end, seq, blocks, warnings)
        with self._lock:
            self._results[key] = result
        return result

    def prefetch(
        self,
        vcf: str | os.PathLike[str],
        fasta: str | os.PathLike[str],
        samples: Iterable[str],
        chrom: str,
        windows: Iterable[tuple[int, int]],
        *,
        workers: int | None = None,
    ) -> None:
        """Run the consensus jobs for ``samples`` x both haplotypes x ``windows`` up front.

        The requested samples are first cut out of ``vcf`` with ``bcftools view -s``
        (records unchanged), so each consensus run parses a few genotype columns
        instead of thousands; jobs then run on a thread pool.
        """
        clen = contig_lengths(fasta)[chrom]
        regions = sorted(
            {
                self.region_for(vcf, fasta, chrom, max(start, 0), length)
                for start, length in windows
                if max(start, 0) < clen and length > 0
            }
        )
        vcf_p, fasta_p = Path(vcf).resolve(), Path(fasta).resolve()
        with self._lock:
            todo = [
                (s, h, r)
                for s in dict.fromkeys(samples)
                for h in (1, 2)
                for r in regions
                if (str(vcf_p), str(fasta_p), s, str(h), chrom, str(r[0]), str(r[1])) not in self._results
            ]
        if not todo:
            return
        names = sorted({s for s, _, _ in todo})
        subset = self.workdir / f"subset_{_digest((str(vcf_p), *names))}.vcf.gz"
        if not subset.exists():
            part = subset.with_name(f"{subset.name}.part.vcf.gz")
            run_bcftools("view", "--no-version", "-s", ",".join(names), "-Oz", "-o", part, vcf_p)
            run_bcftools("index", "-t", "-f", part)
            os.replace(f"{part}.tbi", f"{subset}.tbi")
            os.replace(part, subset)
        n = workers or min(len(todo), os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [
                pool.submit(self.consensus, vcf_p, fasta_p, s, h, chrom, beg, end, source=subset)
                for s, h, (beg, end) in todo
            ]
            for fut in futures:
                fut.result()

    def region_for(
        self,
        vcf: str | os.PathLike[str],
        fasta: str | os.PathLike[str],
        chrom: str,
        start: int,
        length: int,
    ) -> tuple[int, int]:
        """Reference region whose consensus serves the window ``[start, start + length)``.

        Windows near variants share one region per contig (the variant span widened
        by ``pad``) as long as they sit at least ``pad // 2`` inside it; others get
        the window widened by ``pad``, merged with the shared region if they touch it.
        """
        clen = contig_lengths(fasta)[chrom]

        def clip(beg: int, end: int) -> tuple[int, int]:
            return max(beg, 0), min(end, clen)

        beg, end = clip(start - self.pad, start + length + self.pad)
        span = self.variant_span(vcf, chrom)
        if span is None:
            return beg, end
        shared_beg, shared_end = clip(span[0] - self.pad, span[1] + self.pad)
        if end <= shared_beg or shared_end <= beg:
            return beg, end
        margin = self.pad // 2
        need_beg, need_end = clip(start - margin, start + length + margin)
        if shared_beg <= need_beg and need_end <= shared_end:
            return shared_beg, shared_end
        return min(beg, shared_beg), max(end, shared_end)

    def variant_span(self, vcf: str | os.PathLike[str], chrom: str) -> tuple[int, int] | None:
        """0-based ``[first POS, last record end)`` of ``chrom`` in ``vcf`` (None if empty)."""
        key = (str(Path(vcf).resolve()), chrom)
        if key not in self._spans:
            proc = run_bcftools("query", "-r", chrom, "-f", "%POS\t%END\n", vcf)
            rows = [line.split("\t") for line in proc.stdout.decode().splitlines() if line]
            span = None
            if rows:
                span = (min(int(p) for p, _ in rows) - 1, max(int(e) for _, e in rows))
            self._spans[key] = span
        return self._spans[key]

    # -- helpers ------------------------------------------------------------------
    def _region_fasta(self, fasta: Path, chrom: str, beg: int, end: int) -> Path:
        key = (str(fasta), chrom, beg, end)
        with self._lock:
            path = self._regions.get(key)
            if path is None:
                path = self.workdir / f"region_{_digest(tuple(map(str, key)))}.fa"
                _write_region_fasta(fasta, chrom, beg, end, path)
                self._regions[key] = path
        return path


Query = tuple[str, str, str, int, int, str, int]
"""One committed window: (VCF file name, FASTA file name, chrom, start, length, sample, hap)."""


def query_key(
    vcf: str | os.PathLike[str],
    fasta: str | os.PathLike[str],
    sample: str,
    hap: int,
    chrom: str,
    start: int,
    length: int,
) -> Query:
    """The committed-table key of a window (files by name, so any checkout matches)."""
    return (Path(vcf).name, Path(fasta).name, chrom, int(start), int(length), sample, int(hap))


def write_expected(path: Path, header: Sequence[str], rows: dict[Query, bytes]) -> None:
    """Write ``rows`` as a gzipped TSV with ``# `` header lines (byte-reproducible: mtime 0)."""
    lines = [f"# {line}" for line in header]
    lines.append("\t".join(EXPECTED_COLUMNS))
    lines += ["\t".join([*map(str, key), seq.decode()]) for key, seq in sorted(rows.items())]
    data = ("\n".join(lines) + "\n").encode()
    tmp = path.with_name(f"{path.name}.part")
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
        fh.write(data)
    os.replace(tmp, path)


def read_expected(path: Path = EXPECTED_HAPLOTYPES) -> tuple[list[str], dict[Query, bytes]]:
    """Read a table written by :func:`write_expected`: (header lines, rows)."""
    header: list[str] = []
    rows: dict[Query, bytes] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("# "):
                header.append(line[2:])
            elif line and not line.startswith(EXPECTED_COLUMNS[0] + "\t"):
                vcf, fasta, chrom, start, length, sample, hap, seq = line.split("\t")
                rows[(vcf, fasta, chrom, int(start), int(length), sample, int(hap))] = seq.encode()
    return header, rows


class RecordedOracle:
    """The :class:`BcftoolsOracle` interface over committed ``bcftools consensus`` outputs.

    Rows hold plus-strand windows; a minus-strand query is their reverse complement,
    as in the live oracle. A window missing from the table raises ``LookupError``
    naming the script that regenerates it.
    """

    def __init__(self, path: Path = EXPECTED_HAPLOTYPES) -> None:
        self.path = path
        self.header, self.rows = read_expected(path)

    def haplotype(
        self,
        vcf: str | os.PathLike[str],
        fasta: str | os.PathLike[str],
        sample: str,
        hap: int,
        chrom: str,
        start: int,
        length: int,
        *,
        strand: str = "+",
    ) -> bytes:
        """Committed haplotype ``hap`` of ``sample`` over a reference window."""
        key = query_key(vcf, fasta, sample, hap, chrom, start, length)
        seq = self.rows.get(key)
        if seq is None:
            raise LookupError(
                f"{key} is not among the committed bcftools outputs in {self.path}; "
                "add it to committed_queries() in tests/test_oracle_bcftools.py and run "
                "`python tests/data/bcftools_expected/make_expected.py` (needs bcftools)"
            )
        return reverse_complement(seq) if strand == "-" else seq

    def prefetch(self, *args: object, **kwargs: object) -> None:
        """Nothing to run: the outputs are already on disk."""


_default_oracle: BcftoolsOracle | None = None


def default_oracle() -> BcftoolsOracle:
    """A process-wide oracle whose cache lives in a temporary folder removed at exit."""
    global _default_oracle
    if _default_oracle is None:
        workdir = tempfile.mkdtemp(prefix="gvl_bcftools_oracle_")
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        _default_oracle = BcftoolsOracle(workdir)
    return _default_oracle


def bcftools_haplotype(
    vcf: str | os.PathLike[str],
    fasta: str | os.PathLike[str],
    sample: str,
    hap: int,
    chrom: str,
    start: int,
    length: int,
    *,
    strand: str = "+",
) -> bytes:
    """Expected personal haplotype of a reference window, computed by ``bcftools consensus``.

    Args:
        vcf: bgzipped, indexed VCF.
        fasta: reference FASTA (plain or bgzipped with ``.fai``/``.gzi``).
        sample: sample name in ``vcf``.
        hap: 1 or 2, the GT allele to apply (regardless of phasing).
        chrom: contig name shared by VCF and FASTA.
        start: 0-based reference start of the window (may be negative).
        length: number of bases to return.
        strand: ``"-"`` reverse-complements the result.

    Returns:
        ``length`` upper-case bases; see the module docstring for the semantics.
    """
    return default_oracle().haplotype(vcf, fasta, sample, hap, chrom, start, length, strand=strand)


# -----------------------------------------------------------------------------
# Fixtures: modified inputs, generated from the real kit files
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GenotypeEdit:
    """One genotype changed in a derived VCF (``pos`` is the 1-based VCF POS)."""

    pos: int
    ref: str
    alt: str
    sample: str
    old: str
    new: str


@dataclass(frozen=True)
class EditedVcf:
    """A derived, bgzipped and indexed VCF plus a record of what was changed."""

    path: Path
    edits: tuple[GenotypeEdit, ...]


@dataclass(frozen=True)
class RefMismatchVcf:
    """A derived VCF whose REF at ``pos`` no longer matches the FASTA."""

    path: Path
    pos: int
    fasta_ref: str
    vcf_ref: str
    alt: str


def _edit_vcf(
    src: Path,
    dst: Path,
    edit_line: Callable[[list[str], list[str]], list[str] | None],
) -> None:
    """Rewrite ``src`` into ``dst`` (bgzipped + tabix index, with pysam) via ``edit_line``.

    ``edit_line(fields, samples)`` receives the tab-split data line and the sample
    names; it returns replacement fields or None to keep the line.
    """
    import pysam

    with gzip.open(src, "rt") as fh:
        text = fh.read()
    samples: list[str] = []
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("#CHROM"):
            samples = line.split("\t")[9:]
        elif not line.startswith("#"):
            new = edit_line(line.split("\t"), samples)
            if new is not None:
                line = "\t".join(new)
        out.append(line)
    plain = dst.with_name(dst.name.removesuffix(".gz"))
    plain.write_text("\n".join(out) + "\n")
    # bgzip + .tbi, removing the plain file; the name it writes is plain + ".gz".
    written = pysam.tabix_index(str(plain), preset="vcf", force=True)
    if Path(written) != dst:
        os.replace(written, dst)
        os.replace(f"{written}.tbi", f"{dst}.tbi")


def _pick_genotype_edits(
    src: Path,
    *,
    first_pos: int,
    per_kind: int,
    wanted: Sequence[tuple[str, str]],
) -> dict[tuple[int, int], str]:
    """Choose genotype cells of ``src`` to rewrite.

    Walks the records at or after ``first_pos`` (symbolic records skipped). For
    each ``(old, new)`` in ``wanted`` it takes, on up to ``per_kind`` different
    records, the first cell whose GT is exactly ``old``, never reusing a sample.
    Returns ``{(record_index, sample_index): new}``; ``record_index`` counts the
    data lines of the whole file.
    """
    chosen: dict[tuple[int, int], str] = {}
    used_samples: set[int] = set()
    taken = [0] * len(wanted)
    with gzip.open(src, "rt") as fh:
        records = (line for line in fh if not line.startswith("#"))
        for rec, line in enumerate(records):
            if min(taken) >= per_kind:
                break
            fields = line.rstrip("\n").split("\t")
            if int(fields[1]) < first_pos or "<" in fields[4]:
                continue
            gts = [cell.split(":", 1)[0] for cell in fields[9:]]
            for k, (old, new) in enumerate(wanted):
                if taken[k] >= per_kind:
                    continue
                sample = next((s for s, gt in enumerate(gts) if gt == old and s not in used_samples), None)
                if sample is not None:
                    chosen[(rec, sample)] = new
                    used_samples.add(sample)
                    taken[k] += 1
    return chosen


def _apply_genotype_edits(src: Path, dst: Path, chosen: dict[tuple[int, int], str]) -> EditedVcf:
    edits: list[GenotypeEdit] = []
    counter = {"rec": -1}

    def edit(fields: list[str], samples: list[str]) -> list[str] | None:
        counter["rec"] += 1
        rec = counter["rec"]
        hits = {s: new for (r, s), new in chosen.items() if r == rec}
        if not hits:
            return None
        for s, new in hits.items():
            parts = fields[9 + s].split(":")
            edits.append(GenotypeEdit(int(fields[1]), fields[3], fields[4], samples[s], parts[0], new))
            parts[0] = new
            fields[9 + s] = ":".join(parts)
        return fields

    _edit_vcf(src, dst, edit)
    return EditedVcf(dst, tuple(edits))


@pytest.fixture
def vcf_with_missing_gt(tmp_path: Path) -> EditedVcf:
    """Normalised kit VCF with a few genotypes set to ``.|.`` and ``.|1``.

    Cells are taken from records at or after 22:16,100,000: three ``1|1`` become
    ``.|1`` (haplotype 1 missing, haplotype 2 still ALT) and three ``0|1`` or
    ``1|0`` become ``.|.``; each edit uses a different sample. The edits are
    listed in ``.edits``.
    """
    chosen = _pick_genotype_edits(
        VCF_NORM,
        first_pos=16_100_000,
        per_kind=3,
        wanted=(("1|1", ".|1"), ("0|1", ".|."), ("1|0", ".|.")),
    )
    return _apply_genotype_edits(VCF_NORM, tmp_path / "missing_gt.vcf.gz", chosen)


@pytest.fixture
def vcf_with_unphased_het(tmp_path: Path) -> EditedVcf:
    """Normalised kit VCF in which a few ``0|1`` calls are written unphased as ``0/1``."""
    chosen = _pick_genotype_edits(VCF_NORM, first_pos=16_100_000, per_kind=5, wanted=(("0|1", "0/1"),))
    return _apply_genotype_edits(VCF_NORM, tmp_path / "unphased_het.vcf.gz", chosen)


@pytest.fixture
def vcf_with_ref_mismatch(tmp_path: Path) -> RefMismatchVcf:
    """Normalised kit VCF whose REF base at the first SNP past 22:16,200,000 was changed.

    The new REF is a base that is neither the FASTA base nor the ALT, so the record
    disagrees with the FASTA (``bcftools consensus`` refuses this file).
    """
    state: dict[str, object] = {}

    def edit(fields: list[str], samples: list[str]) -> list[str] | None:
        ref, alt = fields[3], fields[4]
        if state or int(fields[1]) < 16_200_000 or len(ref) != 1 or len(alt) != 1:
            return None
        new_ref = next(b for b in "ACGT" if b not in (ref.upper(), alt.upper()))
        state.update(pos=int(fields[1]), fasta_ref=ref, vcf_ref=new_ref, alt=alt)
        fields[3] = new_ref
        return fields

    path = tmp_path / "ref_mismatch.vcf.gz"
    _edit_vcf(VCF_NORM, path, edit)
    return RefMismatchVcf(path, **state)  # type: ignore[arg-type]


@pytest.fixture
def vcf_unindexed(tmp_path: Path) -> Path:
    """A copy of the normalised kit VCF with no ``.tbi``/``.csi`` beside it."""
    dst = tmp_path / "unindexed.vcf.gz"
    shutil.copyfile(VCF_NORM, dst)
    return dst


@pytest.fixture
def bed_past_contig_end(tmp_path: Path) -> Path:
    """BED (contig ``22``, length 22,000,000) with regions running past the contig end.

    Rows: a normal region inside the VCF span, one straddling the end
    (21,999,000-22,001,000) and one starting after the end (22,000,500-22,001,500).
    """
    path = tmp_path / "past_contig_end.bed"
    rows = [
        (CONTIG, 16_100_000, 16_101_000, "inside_vcf_span"),
        (CONTIG, CONTIG_LENGTH - 1_000, CONTIG_LENGTH + 1_000, "straddles_end"),
        (CONTIG, CONTIG_LENGTH + 500, CONTIG_LENGTH + 1_500, "after_end"),
    ]
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


@pytest.fixture
def bigwig_table_missing_sample(tmp_path: Path) -> Path:
    """BigWig table (CSV ``sample,path``) where one sample is absent from the VCF.

    NA12878 (in the VCF) maps to the GM12878 STAT1 track; NA24385 (HG002, a real
    GIAB sample that is *not* in 1000 Genomes phase 3) maps to its coverage track.
    """
    path = tmp_path / "bigwigs_missing_sample.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sample", "path"])
        writer.writerow(["NA12878", str(BIGWIG_STAT1)])
        writer.writerow(["NA24385", str(BIGWIG_NA24385)])
    return path


@pytest.fixture(scope="session")
def bcftools_oracle(tmp_path_factory: pytest.TempPathFactory) -> BcftoolsOracle:
    """A session-wide :class:`BcftoolsOracle` caching its runs under pytest's tmp dir."""
    return BcftoolsOracle(tmp_path_factory.mktemp("bcftools_oracle"))
