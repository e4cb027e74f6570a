"""Copy ranges of staged chunks into compact arrays."""

from __future__ import annotations

from ._jit import kernel
from ._memcpy import copy_into


@kernel
def copy_ranges(src, src_lo, lengths, dst, dst_lo):
    """dst[dst_lo[i] : dst_lo[i] + lengths[i]] = src[src_lo[i] : src_lo[i] + lengths[i]]."""
    for i in range(lengths.shape[0]):
        if lengths[i] > 0:
            copy_into(dst, dst_lo[i], src, src_lo[i], lengths[i])
