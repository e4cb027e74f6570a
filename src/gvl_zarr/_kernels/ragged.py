"""Ragged helpers: gather rows of flat arrays into compact arrays."""

from __future__ import annotations

from ._jit import kernel


@kernel
def gather_rows(src_a, src_b, src_c, bounds, dst_a, dst_b, dst_c, dst_bounds, base):
    """Copy rows bounds[i, 0]:bounds[i, 1] of three parallel arrays into dst at `base`
    onwards, recording each row's new [start, end) in dst_bounds[i]. Returns the end."""
    k = base
    for i in range(bounds.shape[0]):
        dst_bounds[i, 0] = k
        for j in range(bounds[i, 0], bounds[i, 1]):
            dst_a[k] = src_a[j]
            dst_b[k] = src_b[j]
            dst_c[k] = src_c[j]
            k += 1
        dst_bounds[i, 1] = k
    return k
