"""`copy_into`: an LLVM memcpy between contiguous 1-D arrays, callable from kernels.

Numba lowers `dst[a:b] = src[c:d]` to an element loop behind an overlap check; on this
machine that copied reference windows at ~4 GB/s, against ~40 GB/s for memcpy
(32 × 16 kb windows: 128 µs vs 11 µs).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def copy_into(typingctx, dst, dst_start, src, src_start, count):
    """Copy src[src_start:src_start + count] to dst[dst_start:]; no bounds checks."""
    if not (isinstance(dst, types.Array) and isinstance(src, types.Array) and dst.dtype == src.dtype):
        return None
    sig = types.void(dst, types.intp, src, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        d, d0, s, s0, n = args
        darr = context.make_array(signature.args[0])(context, builder, d)
        sarr = context.make_array(signature.args[2])(context, builder, s)
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        dptr = builder.gep(darr.data, [d0])
        sptr = builder.gep(sarr.data, [s0])
        cgutils.raw_memcpy(builder, dptr, sptr, n, itemsize)
        return context.get_dummy_value()

    return sig, codegen
