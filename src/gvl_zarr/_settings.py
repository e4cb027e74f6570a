"""Frozen read settings of a Dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

SequenceMode = Literal["haplotypes", "reference"] | None


@dataclass(frozen=True)
class Settings:
    """What a Dataset returns; change with `Dataset.with_settings`.

    Attributes:
        jitter: each instance's window is shifted by a uniform integer in [-jitter, jitter]
            (haplotypes and tracks together); at most the dataset's max_jitter.
        return_sequences: "haplotypes", "reference" or None (no sequences).
        return_tracks: names of tracks to return (empty: none).
        squeeze_tracks: drop the track axis (a single name was given as a str).
        transform: called as transform(*outputs) on every batch; its result is returned.
        rc_neg: reverse-complement sequences and reverse tracks of '-' strand regions.
        deterministic: jitter is a fixed function of (seed, instance index) instead of
            fresh random draws on every read.
        return_indices: also return (dataset, region, sample) indices of the batch.
        seed: seed of the jitter.
        region_names: BED column whose values name regions in `subset_to`, `sel` and
            indexing (None: regions by position or BED row only).
    """

    jitter: int = 0
    return_sequences: SequenceMode = "haplotypes"
    return_tracks: tuple[str, ...] = ()
    squeeze_tracks: bool = False
    transform: Callable[..., Any] | None = None
    rc_neg: bool = True
    deterministic: bool = False
    return_indices: bool = False
    seed: int = 0
    region_names: str | None = None
