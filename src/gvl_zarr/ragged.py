"""`Ragged`: arrays whose last axis varies in length, stored as flat data + offsets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """A ragged array: row i (in C order over `shape`) is data[offsets[i]:offsets[i + 1]].

    Attributes:
        data: flat values of every row, concatenated.
        shape: shape of the regular leading axes (the ragged axis is not included).
        offsets: int64 array of length prod(shape) + 1.
    """

    data: np.ndarray
    shape: tuple[int, ...]
    offsets: np.ndarray

    @classmethod
    def from_offsets(cls, data: np.ndarray, shape: int | tuple[int, ...], offsets: np.ndarray) -> Ragged:
        """Build from flat `data`, the leading `shape` and `offsets` (prod(shape) + 1 long)."""
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        offsets = np.asarray(offsets, np.int64)
        n = int(np.prod(shape)) if shape else 1
        if offsets.shape != (n + 1,):
            raise ValueError(f"offsets must have length prod(shape) + 1 = {n + 1}, got {offsets.shape}.")
        if offsets[-1] > len(data) or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must be non-decreasing and end within data.")
        return cls(np.asarray(data), shape, offsets)

    @classmethod
    def from_lengths(cls, data: np.ndarray, lengths: np.ndarray) -> Ragged:
        """Build from flat `data` and the length of each row (lengths' shape is the shape)."""
        lengths = np.asarray(lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths.ravel())]).astype(np.int64)
        return cls.from_offsets(data, lengths.shape, offsets)

    @property
    def lengths(self) -> np.ndarray:
        """Length of each row, with shape `shape`."""
        return np.diff(self.offsets).reshape(self.shape)

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 1

    def row(self, i: int) -> np.ndarray:
        """Row `i` of the raveled leading axes."""
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def __repr__(self) -> str:
        return f"Ragged(shape={self.shape}, dtype={self.data.dtype}, n_values={len(self.data)})"
