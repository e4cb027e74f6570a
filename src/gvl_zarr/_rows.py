"""Row operations on flat outputs addressed by (start, length) per row."""

from __future__ import annotations

import numpy as np

COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    COMPLEMENT[_a] = _b


def reverse_rows(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, complement: bool = False) -> None:
    """Reverse (and complement, for bases) rows flat[starts[i]:][:lengths[i]] in place, in
    a few vectorised passes whatever the row count; padding after a row stays in place."""
    starts = np.asarray(starts, np.int64).ravel()
    lengths = np.asarray(lengths, np.int64).ravel()
    total = int(lengths.sum())
    if total == 0:
        return
    row = np.repeat(np.arange(len(starts)), lengths)
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    first = starts[row]
    values = flat[first + lengths[row] - 1 - within]
    flat[first + within] = COMPLEMENT[values] if complement else values
