"""Frozen read settings of a Dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

SequenceMode = Literal["haplotypes", "reference", "annotated", "variants"] | None
OutputLength = int | Literal["ragged", "variable"] | None


@dataclass(frozen=True)
class Settings:
    """What a Dataset returns; change with `Dataset.with_settings`.

    Attributes:
        jitter: each instance's window is shifted by a uniform integer in [-jitter, jitter]
            (haplotypes and tracks together); at most the dataset's max_jitter.
        return_sequences: "haplotypes", "annotated" (haplotypes with each base's variant
            and reference coordinate), "reference" or None (no sequences).
        return_tracks: names of tracks to return (empty: none).
        squeeze_tracks: drop the track axis (a single name was given as a str).
        transform: called as transform(*outputs) on every batch; its result is returned.
        rc_neg: reverse-complement sequences and reverse tracks of '-' strand regions.
        fixed_jitter: jitter is a fixed function of (seed, instance index) instead of
            fresh random draws on every read.
        return_indices: also return (dataset, region, sample) indices of the batch.
        seed: seed of the jitter and of random haplotype shifts.
        output_length: None (the stored region_length), an int (that many bases from the
            window start), "variable" (each haplotype's true length, padded with N / 0 to
            the batch's longest) or "ragged" (`Ragged` outputs of true lengths).
        deterministic: as GenVarLoader's: True (default) starts every haplotype at its
            window; False lets a haplotype longer than the output start at a random offset
            in its extra bases (GenVarLoader's random shift).
        insertion_fill: (track name, InsertionFill) pairs; other tracks repeat the anchor.
        region_names: BED column whose values name regions in `subset_to`, `sel` and
            indexing (None: regions by position or BED row only).
        var_fields: fields of `RaggedVariants` besides alt, ilen and start (always given):
            "ref", and the INFO/FORMAT fields the store was written with ("AF", "dosage").
        min_af, max_af: keep only variants whose stored INFO/AF is >= min_af / <= max_af
            in the "variants" output (GenVarLoader's filter; None: no bound).
        unphased_union: the "variants" output folds each instance's haplotypes onto one row
            (haplotype 0's variants, then haplotype 1's), for unphased calls.
    """

    jitter: int = 0
    return_sequences: SequenceMode = "haplotypes"
    return_tracks: tuple[str, ...] = ()
    squeeze_tracks: bool = False
    transform: Callable[..., Any] | None = None
    rc_neg: bool = True
    fixed_jitter: bool = False
    return_indices: bool = False
    seed: int = 0
    output_length: OutputLength = None
    deterministic: bool = True
    insertion_fill: tuple[tuple[str, Any], ...] = ()
    region_names: str | None = None
    var_fields: tuple[str, ...] = ("alt", "ilen", "start")
    min_af: float | None = None
    max_af: float | None = None
    unphased_union: bool = False
