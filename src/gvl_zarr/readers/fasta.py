"""Reference windows from (b)gzipped or plain FASTA through pyfaidx."""

from __future__ import annotations

import os

import numpy as np

from ..errors import MissingFileError

N = ord("N")


class FastaReader:
    """Uppercase reference windows, `N` outside the contig."""

    def __init__(self, path: str | os.PathLike) -> None:
        import pyfaidx

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise MissingFileError(f"reference FASTA {self.path} does not exist.")
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
            out[lo - start : hi - start] = np.frombuffer(seq.encode("ascii"), np.uint8)
        return out

    def close(self) -> None:
        self._fasta.close()
