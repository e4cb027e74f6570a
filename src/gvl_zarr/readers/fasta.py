"""Reference windows from (b)gzipped or plain FASTA through pyfaidx."""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputFileError, MissingFileError

N = ord("N")


class FastaReader:
    """Uppercase reference windows, `N` outside the contig."""

    def __init__(self, path: str | os.PathLike) -> None:
        import pyfaidx

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise MissingFileError(f"reference FASTA {self.path} does not exist.")
        _check_compression_name(self.path)
        try:
            self._fasta = pyfaidx.Fasta(self.path, sequence_always_upper=True, rebuild=False)
        except pyfaidx.UnsupportedCompressionFormat as exc:
            raise MissingFileError(
                f"reference FASTA {self.path} cannot be read ({exc}). "
                "Fix: compress it with bgzip (not gzip), or install biopython for .bgz files."
            ) from None
        self.contig_lengths = {name: len(rec) for name, rec in self._fasta.records.items()}
        self.contigs = list(self.contig_lengths)

    def window(self, contig: str, start: int, end: int) -> np.ndarray:
        """Bytes of [start, end) as uint8, `N` where the window leaves the contig."""
        out = np.full(end - start, N, np.uint8)
        length = self.contig_lengths[contig]
        lo, hi = max(start, 0), min(end, length)
        if hi > lo:
            seq = self._fasta[contig][lo:hi].seq
            if len(seq) != hi - lo:
                raise InputFileError(
                    f"reference FASTA {self.path}: {contig}:{lo}-{hi} read {len(seq)} bases instead of "
                    f"{hi - lo}, so its index does not match the file. Fix: delete {self.path}.fai (and "
                    f".gzi) and re-index it with `samtools faidx {self.path}`."
                )
            out[lo - start : hi - start] = np.frombuffer(seq.encode("ascii"), np.uint8)
        return out

    def close(self) -> None:
        self._fasta.close()


_COMPRESSED_SUFFIXES = (".gz", ".bgz", ".bgzf")


def _check_compression_name(path: str) -> None:
    """pyfaidx tells a compressed FASTA by its name: a gzip file named `x.fa` would be read
    as text, its offsets pointing into compressed bytes. Refuse it by its magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b" and not path.endswith(_COMPRESSED_SUFFIXES):
        raise InputFileError(
            f"reference FASTA {path} is gzip-compressed but its name does not end in .gz or .bgz, "
            "which is how the FASTA reader tells compressed files. Fix: rename it (and its .fai/.gzi) "
            f"to {os.path.basename(path)}.gz, or decompress it."
        )
