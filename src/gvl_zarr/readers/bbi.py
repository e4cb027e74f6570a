"""Reading a BigWig's intervals straight into numpy arrays (the write path's fast reader).

pyBigWig returns one Python tuple per interval and holds the GIL while it builds them:
on the kit's ATAC-shaped files (~9,300 intervals per 550 kb) that and turning the tuples
into arrays cost ~2 ms per file, most of a write's time with 2,504 files. This reader
walks the file's R-tree and decodes its zlib data blocks with `np.frombuffer` instead
(format: the UCSC bigWig specification, Kent et al. 2010, as read by libBigWig's
`bwGetOverlappingIntervals`). It returns exactly pyBigWig's intervals (tests compare
them over every test BigWig) and falls back to pyBigWig for byte-swapped files.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
from isal import isal_zlib

from ..errors import InputFileError

BIGWIG_MAGIC = 0x888FFC26
CHROM_TREE_MAGIC = 0x78CA8C91
RTREE_MAGIC = 0x2468ACE0

_SECTION = np.dtype(
    [("chrom", "<u4"), ("start", "<u4"), ("end", "<u4"), ("step", "<u4"), ("span", "<u4"),
     ("type", "u1"), ("reserved", "u1"), ("count", "<u2")]
)  # fmt: skip
_BEDGRAPH = np.dtype([("start", "<u4"), ("end", "<u4"), ("value", "<f4")])
_VARSTEP = np.dtype([("start", "<u4"), ("value", "<f4")])
_LEAF_ITEM = np.dtype([("c0", "<u4"), ("b0", "<u4"), ("c1", "<u4"), ("b1", "<u4"), ("offset", "<u8"), ("size", "<u8")])
_NODE_ITEM = np.dtype([("c0", "<u4"), ("b0", "<u4"), ("c1", "<u4"), ("b1", "<u4"), ("offset", "<u8")])


class Unsupported(Exception):
    """The file is a BigWig this reader does not decode (byte-swapped); use pyBigWig."""


class BigWigFile:
    """One little-endian BigWig opened for interval queries."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        try:
            head = self._read(0, 64)
            if len(head) < 64:
                raise InputFileError(f"{path} is not a readable BigWig file.")
            (magic,) = struct.unpack_from("<I", head)
            if magic != BIGWIG_MAGIC:
                if struct.unpack_from(">I", head)[0] == BIGWIG_MAGIC:
                    raise Unsupported(path)
                raise InputFileError(f"{path} is not a readable BigWig file.")
            chrom_tree, _, index = struct.unpack_from("<QQQ", head, 8)
            self._compressed = struct.unpack_from("<I", head, 52)[0] > 0
            self._chroms = self._read_chroms(chrom_tree)
            self._index = index
        except BaseException:
            os.close(self._fd)
            raise

    def _read(self, offset: int, size: int) -> bytes:
        return os.pread(self._fd, size, offset)

    def _read_chroms(self, offset: int) -> dict[str, tuple[int, int]]:
        """{name: (chrom id, length)} from the chromosome B+ tree."""
        magic, _, key_size, _, _ = struct.unpack("<IIIIQ", self._read(offset, 24))
        if magic != CHROM_TREE_MAGIC:
            raise InputFileError(f"{self.path} is not a readable BigWig file (bad chromosome tree).")
        out: dict[str, tuple[int, int]] = {}
        stack = [offset + 32]
        while stack:
            node = stack.pop()
            is_leaf, _, count = struct.unpack("<BBH", self._read(node, 4))
            item = key_size + 8
            data = self._read(node + 4, count * item)
            for i in range(count):
                key = data[i * item : i * item + key_size].rstrip(b"\0").decode()
                if is_leaf:
                    out[key] = struct.unpack_from("<II", data, i * item + key_size)
                else:
                    stack.append(struct.unpack_from("<Q", data, i * item + key_size)[0])
        return out

    def chroms(self) -> dict[str, int]:
        return {name: length for name, (_, length) in self._chroms.items()}

    def _blocks(self, cid: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """(offset, size) of the data blocks whose span overlaps [lo, hi) of chrom `cid`."""
        magic = struct.unpack("<I", self._read(self._index, 4))[0]
        if magic != RTREE_MAGIC:
            raise InputFileError(f"{self.path} is not a readable BigWig file (bad R-tree index).")
        out = []
        stack = [self._index + 48]
        q_lo, q_hi = (cid << 32) | lo, (cid << 32) | hi
        while stack:
            node = stack.pop()
            is_leaf, _, count = struct.unpack("<BBH", self._read(node, 4))
            dtype = _LEAF_ITEM if is_leaf else _NODE_ITEM
            items = np.frombuffer(self._read(node + 4, count * dtype.itemsize), dtype)
            starts = (items["c0"].astype(np.uint64) << 32) | items["b0"]
            ends = (items["c1"].astype(np.uint64) << 32) | items["b1"]
            hit = items[(starts < q_hi) & (ends > q_lo)]
            if is_leaf:
                out.extend(zip(hit["offset"].tolist(), hit["size"].tolist(), strict=True))
            else:
                stack.extend(reversed(hit["offset"].tolist()))
        out.sort()
        return out

    def intervals(self, contig: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts int64, ends int64, values float32) of the entries overlapping [lo, hi), unclipped.

        A file cut short or damaged after its header was read (e.g. truncated while a write ran)
        raises `InputFileError` naming it, not the decoder's struct/zlib/numpy error."""
        try:
            return self._intervals(contig, lo, hi)
        except InputFileError:
            raise
        except (struct.error, zlib.error, isal_zlib.error, ValueError, IndexError, OSError) as exc:
            raise InputFileError(
                f"{self.path} is not a readable BigWig file: its data over {contig}:{lo}-{hi} is cut short or "
                f"damaged ({exc}). Fix: copy or re-create the file, then write again."
            ) from None

    def _intervals(self, contig: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        entry = self._chroms.get(contig)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
        if entry is None or hi <= lo:
            return empty
        blocks = self._blocks(entry[0], lo, hi)
        if not blocks:
            return empty
        first, last = blocks[0][0], blocks[-1][0] + blocks[-1][1]
        raw = self._read(first, last - first)  # blocks lie back to back: one read
        parts = []
        for offset, size in blocks:
            block = raw[offset - first : offset - first + size]
            # ISA-L inflates the kit's BigWig blocks 1.45x faster than zlib (300 blocks, 5.4 MB:
            # 0.023-0.026 s against 0.034-0.038 s CPU), the same bytes
            parts.extend(self._decode(isal_zlib.decompress(block) if self._compressed else block, entry[0]))
        s = np.concatenate([p[0] for p in parts]) if parts else empty[0]
        e = np.concatenate([p[1] for p in parts]) if parts else empty[1]
        v = np.concatenate([p[2] for p in parts]) if parts else empty[2]
        keep = (e > lo) & (s < hi)
        return s[keep], e[keep], v[keep]

    def _decode(self, data: bytes, cid: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        pos = 0
        while pos + _SECTION.itemsize <= len(data):
            head = np.frombuffer(data, _SECTION, 1, pos)[0]
            pos += _SECTION.itemsize
            kind, n = int(head["type"]), int(head["count"])
            if kind == 1:
                items = np.frombuffer(data, _BEDGRAPH, n, pos)
                starts, ends, values = items["start"], items["end"], items["value"]
            elif kind == 2:
                items = np.frombuffer(data, _VARSTEP, n, pos)
                starts, values = items["start"], items["value"]
                ends = starts + head["span"]
            elif kind == 3:
                values = np.frombuffer(data, "<f4", n, pos)
                starts = head["start"] + head["step"] * np.arange(n, dtype=np.uint32)
                ends = starts + head["span"]
            else:
                raise InputFileError(f"{self.path}: unknown BigWig section type {kind}; the file is damaged.")
            pos += n * (12 if kind == 1 else 8 if kind == 2 else 4)
            if int(head["chrom"]) == cid:
                out.append((starts.astype(np.int64), ends.astype(np.int64), values.astype(np.float32)))
        return out

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
