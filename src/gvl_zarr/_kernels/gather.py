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


@kernel
def plan_ranges(lo, hi, n_rows, dst_lo):
    """dst_lo[i] = where rows [lo[i], hi[i]) start once gathered back to back; returns the
    number of rows, or -1 when a non-empty range lies outside [0, n_rows)."""
    total = 0
    for i in range(lo.shape[0]):
        dst_lo[i] = total
        n = hi[i] - lo[i]
        if n > 0:
            if lo[i] < 0 or hi[i] > n_rows:
                return -1
            total += n
    return total


@kernel
def gather_chunked_many(srcs, chunk_offs, itemsizes, rows_per_chunk, lo, hi, dsts, dst_lo):
    """`gather_chunked` for several arrays with the same rows and chunking in one call
    (a track's starts, ends and values): one dispatch instead of three."""
    for a in range(len(srcs)):
        gather_chunked(srcs[a], chunk_offs[a], rows_per_chunk, itemsizes[a], lo, hi, dsts[a], dst_lo)


@kernel
def take_grid(blocks, regions, samples, rows_per_block, cols_per_block, out):
    """out[i] = value of (regions[i], samples[i]) in a chunk-major grid `blocks` shaped
    (region block, sample block, rows_per_block * cols_per_block, values per pair)."""
    for i in range(regions.shape[0]):
        r = regions[i]
        s = samples[i]
        br = r // rows_per_block
        bs = s // cols_per_block
        pair = blocks[br, bs, (r - br * rows_per_block) * cols_per_block + (s - bs * cols_per_block)]
        for j in range(out.shape[1]):
            out[i, j] = pair[j]
