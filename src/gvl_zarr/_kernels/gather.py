"""Copy rows out of a memory-mapped shard of raw inner chunks."""

from __future__ import annotations

from ._jit import kernel
from ._memcpy import copy_into


@kernel
def gather_chunked(src, chunk_off, rows_per_chunk, itemsize, lo, hi, dst, dst_lo):
    """Rows [lo[i], hi[i]) of a raw sharded array whose chunk c starts at byte chunk_off[c]
    of `src` (uint8), copied to rows dst_lo[i]... of `dst` (uint8 view of the output).
    A range crossing a chunk boundary skips the 4 checksum bytes between chunks."""
    for i in range(lo.shape[0]):
        r = lo[i]
        k = dst_lo[i] * itemsize
        while r < hi[i]:
            c = r // rows_per_chunk
            w = r - c * rows_per_chunk
            n = min(hi[i] - r, rows_per_chunk - w)
            copy_into(dst, k, src, chunk_off[c] + w * itemsize, n * itemsize)
            k += n * itemsize
            r += n
