"""The house decorator: every kernel is nogil and cached on disk."""

from __future__ import annotations

import os

import numba

# PyTorch DataLoader workers fork the process; GNU OpenMP aborts after fork ("fork() called
# from a process already using GNU OpenMP"), so pick a fork-safe layer unless the user chose.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "forksafe"


def kernel(fn=None, *, parallel: bool = False):
    """`numba.njit` with the project's defaults (nogil, cache, optional parallel)."""

    def wrap(f):
        return numba.njit(nogil=True, cache=True, parallel=parallel)(f)

    return wrap(fn) if fn is not None else wrap
