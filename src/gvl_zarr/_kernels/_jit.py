"""The house decorator: every kernel is nogil and cached on disk."""

from __future__ import annotations

import numba


def kernel(fn=None, *, parallel: bool = False):
    """`numba.njit` with the project's defaults (nogil, cache, optional parallel)."""

    def wrap(f):
        return numba.njit(nogil=True, cache=True, parallel=parallel)(f)

    return wrap(fn) if fn is not None else wrap
