"""Checks that a VCF/BCF and its index can be trusted before and while reading it.

htslib trusts its inputs: a truncated `.vcf.gz` can hang a query, and a plain-gzip file,
or an index built for another (e.g. sorted) version of the file, makes indexed queries
return no records without any error, so a store would be written with 0 variants. These
checks are cheap (a few BGZF blocks per file) and run before the first query:

- BGZF framing: the file starts with a BGZF header (gzip with the `BC` extra field) and
  ends with the 28-byte BGZF EOF block (SAM/BAM spec §4.1.2), else it is plain gzip or
  truncated;
- a tabix index is parsed (tabix spec, SAMtools hts-specs) and the virtual offsets of its
  linear index are followed into the file: each must lie inside the file, point at the
  start of a record of the indexed contig, and the positions met must not decrease. An
  index of a different file points mid-line or at records out of order. A CSI index of a
  text VCF has no linear index; the `loffset` of its finest bins plays the same role. For
  BCF (binary records) only the framing is checked here;
- while reading, the records every query returns must be in order (`check_sorted`).

Comparing the index's per-contig record counts with the file would need a full pass over
the file (minutes for a whole-chromosome VCF), so it is not done.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .errors import InputFileError

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_UNSET_OFFSET = 2**64 - 1
_MAX_PROBES_PER_CONTIG = 32
_ALLOWED_BASES = "ACGTNacgtn"


def check_bgzf(path: str) -> None:
    """Raise `InputFileError` unless `path` is whole BGZF (bgzip) data."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(18)
        if size >= len(BGZF_EOF):
            fh.seek(size - len(BGZF_EOF))
            tail = fh.read()
        else:
            tail = b""
    if head[:2] != b"\x1f\x8b":
        fix = (
            "it may not be a VCF at all, or was renamed; re-create it with `bgzip`"
            if path.endswith((".gz", ".bgz", ".bcf"))
            else f"`bgzip {path}` then `bcftools index -t {path}.gz`"
        )
        raise InputFileError(
            f"VCF {path} is not bgzip-compressed data (indexed VCFs must be bgzipped text or BCF). Fix: {fix}."
        )
    if not (head[3] & 4 and head[12:14] == b"BC"):
        raise InputFileError(
            f"VCF {path} is plain gzip, not bgzip (BGZF), so its index cannot point into it and "
            f"indexed reads would find no records. Fix: `zcat {path} | bgzip > fixed.vcf.gz && "
            "bcftools index -t fixed.vcf.gz`."
        )
    if tail != BGZF_EOF:
        raise InputFileError(
            f"VCF {path} is truncated: it lacks the BGZF end-of-file block (an interrupted download or "
            "copy?). Fix: download or copy it again and compare its checksum, then re-index it."
        )


def check_tabix(path: str, contigs: Iterable[str], windows: dict[str, Sequence[int]] | None = None) -> None:
    """Follow the linear index of `path`.tbi into the file for `contigs`; raise on mismatch.

    `windows` maps a contig to the 0-based positions whose 16 kb index windows to probe
    (default: evenly spread over the contig's index, at most 32 per contig).
    """
    tbi, csi = path + ".tbi", path + ".csi"
    index = tbi if os.path.exists(tbi) else csi if os.path.exists(csi) and _is_text(path) else None
    if index is None:
        return  # BCF with CSI: its records are checked for order as they are read
    try:
        names, linear = _read_tbi(tbi) if index == tbi else _read_csi(csi)
    except (OSError, EOFError, struct.error, zlib.error, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"index {index} cannot be read ({exc}). Fix: rebuild it with `bcftools index -f {path}`."
        ) from None
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        for contig in contigs:
            if contig not in names:
                continue
            offsets = linear[names.index(contig)]
            if not offsets:
                continue
            if windows and windows.get(contig):
                wins = sorted({min(int(p) >> 14, len(offsets) - 1) for p in windows[contig] if p >= 0})
            else:
                wins = sorted(set(np.linspace(0, len(offsets) - 1, _MAX_PROBES_PER_CONTIG).astype(int).tolist()))
            _probe(fh, path, size, contig, offsets, wins[: _MAX_PROBES_PER_CONTIG * 4])


def _stale(path: str, detail: str) -> InputFileError:
    return InputFileError(
        f"the index of VCF {path} does not match the file ({detail}): the VCF was changed (re-sorted, "
        f"truncated, replaced) after it was indexed, or it is not sorted. Fix: `bcftools sort` it if "
        f"needed and rebuild its index with `bcftools index -f -t {path}` (`-c` for a .csi)."
    )


def _probe(fh, path: str, size: int, contig: str, offsets: list[int], wins: list[int]) -> None:
    last_pos = -1
    seen: set[int] = set()
    for w in wins:
        voff = offsets[w]
        if voff in seen or voff == 0 or voff == _UNSET_OFFSET:  # windows before any record
            continue
        seen.add(voff)
        coff, uoff = voff >> 16, voff & 0xFFFF
        if coff >= size:
            raise _stale(path, f"the index points to byte {coff:,} of a {size:,}-byte file")
        block = _block(fh, coff)
        if block is None or uoff > len(block):
            raise _stale(path, f"no BGZF block at byte {coff:,}")
        if uoff > 0 and block[uoff - 1 : uoff] != b"\n":
            raise _stale(path, f"the index points mid-record at {contig} window {w}")
        line = block[uoff : uoff + 4096].split(b"\n", 1)[0]
        if uoff == len(block) or len(line.split(b"\t", 2)) < 3:
            nxt = _block(fh, coff + _block_size(fh, coff))
            line = (line + (nxt or b"")).split(b"\n", 1)[0]
        fields = line.split(b"\t", 2)
        if len(fields) < 2 or fields[0].decode(errors="replace") != contig or not fields[1].isdigit():
            raise _stale(path, f"the index's record for {contig} window {w} starts {line[:40]!r}")
        pos = int(fields[1])
        if pos < last_pos:
            raise _stale(path, f"records at {contig}:{last_pos} and {contig}:{pos} are out of order")
        last_pos = pos


def _block_size(fh, coff: int) -> int:
    fh.seek(coff)
    head = fh.read(18)
    return struct.unpack("<H", head[16:18])[0] + 1


def _block(fh, coff: int) -> bytes | None:
    """The decompressed BGZF block at compressed offset `coff`, or None if there is none."""
    fh.seek(coff)
    head = fh.read(18)
    if len(head) < 18 or head[:2] != b"\x1f\x8b" or head[12:14] != b"BC":
        return None
    bsize = struct.unpack("<H", head[16:18])[0] + 1
    data = fh.read(bsize - 18)
    try:
        return zlib.decompress(data[:-8], -15)
    except zlib.error:
        return None


def _read_tbi(tbi: str) -> tuple[list[str], list[list[int]]]:
    """Contig names and linear-index virtual offsets (one per 16 kb window) of a tabix index."""
    with gzip.open(tbi, "rb") as fh:
        buf = fh.read()
    if buf[:4] != b"TBI\x01":
        raise OSError("not a tabix index")
    n_ref, _fmt, _cs, _cb, _ce, _meta, _skip, l_nm = struct.unpack_from("<8i", buf, 4)
    at = 36
    names = [n.decode() for n in buf[at : at + l_nm].split(b"\0")[:n_ref]]
    at += l_nm
    linear: list[list[int]] = []
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", buf, at)
        at += 4
        for _ in range(n_bin):
            _bin, n_chunk = struct.unpack_from("<Ii", buf, at)
            at += 8 + 16 * n_chunk
        (n_intv,) = struct.unpack_from("<i", buf, at)
        at += 4
        linear.append(list(struct.unpack_from(f"<{n_intv}Q", buf, at)))
        at += 8 * n_intv
    return names, linear


def _is_text(path: str) -> bool:
    """Whether bgzipped `path` holds VCF text (not BCF)."""
    with open(path, "rb") as fh:
        block = _block(fh, 0)
    return block is not None and block.startswith(b"##")


def _read_csi(csi: str) -> tuple[list[str], list[list[int]]]:
    """Contig names and, per contig, the first-record virtual offsets of its finest bins in
    position order (the CSI counterpart of the tabix linear index) of a VCF's CSI index."""
    with gzip.open(csi, "rb") as fh:
        buf = fh.read()
    if buf[:4] != b"CSI\x01":
        raise OSError("not a CSI index")
    _min_shift, depth, l_aux = struct.unpack_from("<3i", buf, 4)
    aux = buf[16 : 16 + l_aux]
    if l_aux < 28:
        raise OSError("CSI index without contig names")
    l_nm = struct.unpack_from("<i", aux, 24)[0]
    names = [n.decode() for n in aux[28 : 28 + l_nm].split(b"\0") if n]
    at = 16 + l_aux
    (n_ref,) = struct.unpack_from("<i", buf, at)
    at += 4
    first_leaf = ((1 << (3 * depth)) - 1) // 7
    n_leaves = 1 << (3 * depth)
    linear: list[list[int]] = []
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", buf, at)
        at += 4
        leaves: list[tuple[int, int]] = []
        for _ in range(n_bin):
            bin_id, loffset, n_chunk = struct.unpack_from("<IQi", buf, at)
            at += 16 + 16 * n_chunk
            if first_leaf <= bin_id < first_leaf + n_leaves:
                leaves.append((bin_id, loffset))
        linear.append([off for _, off in sorted(leaves)])
    return names[:n_ref], linear


def check_sorted(path: str, contig: str, positions: Sequence[int]) -> None:
    """Raise if the 1-based `positions` an indexed query returned are not in order."""
    pos = np.asarray(positions, np.int64)
    if pos.size > 1:
        bad = np.flatnonzero(np.diff(pos) < 0)
        if bad.size:
            i = int(bad[0])
            raise _stale(path, f"records at {contig}:{pos[i]} and {contig}:{pos[i + 1]} are out of order")


def check_alleles(path: str, contig: str, pos: int, ref: str, alts: Sequence[str]) -> None:
    """Raise naming the record if REF or a (non-symbolic) ALT has a base outside ACGTN."""
    for allele in (ref, *alts):
        if allele.strip(_ALLOWED_BASES):
            raise InputFileError(
                f"VCF {path}, record {contig}:{pos}: allele {allele!r} has bases outside A, C, G, T, N "
                "(IUPAC ambiguity codes and 'X' have no single haplotype sequence). Fix: drop or "
                'recode such records, e.g. `bcftools view -e \'REF!~"^[ACGTN]+$" || ALT~"[^ACGTN,*]"\'`.'
            )


def check_haploid(path: str, contig: str, pos: int, arr: np.ndarray, samples: Sequence[str]) -> None:
    """Raise if a sample has a haploid call in a diploid record.

    cyvcf2 pads a haploid call (`GT=1`) with -2 in the second allele; read as "missing" it
    would silently give that sample a reference second haplotype.
    """
    hap = np.flatnonzero((arr[:, 0] >= 0) & (arr[:, 1] == -2))
    if hap.size:
        raise InputFileError(
            f"VCF {path}, record {contig}:{pos}, sample {samples[int(hap[0])]}: haploid genotype in a "
            f"diploid file ({hap.size} such sample(s) in this record), so its second haplotype is "
            "undefined. Fix: write haploid regions (e.g. chrX/Y of males) separately, or recode the "
            "calls as homozygous diploid (`bcftools +fixploidy -- -f 2` after setting ploidy 2)."
        )


def header_problem(path: str, limit: int = 64 << 20) -> str | None:
    """Why htslib rejected the header of text VCF `path`, where it is something we can name."""
    try:
        with gzip.open(path, "rt", errors="replace") as fh:
            read = 0
            for line in fh:
                read += len(line)
                if line.startswith("#CHROM"):
                    samples = line.rstrip("\n").split("\t")[9:]
                    dup = sorted({s for s, k in Counter(samples).items() if k > 1})
                    if dup:
                        return (
                            f"sample name(s) {dup[:5]} appear more than once in its #CHROM line. "
                            "Fix: give every sample a unique name (`bcftools reheader -s names.txt`)"
                        )
                    return None
                if not line.startswith("#") or read > limit:
                    return "it has no #CHROM header line (is it a VCF?)"
    except (OSError, EOFError, UnicodeError):
        return None
    return None
