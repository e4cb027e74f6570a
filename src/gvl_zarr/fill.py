"""Insertion fills: how a realigned track is valued over an insertion.

The names are GenVarLoader's (0.43.1 `genvarloader._dataset._insertion_fill`). An
insertion's stretch is its anchor base and the inserted bases after it (d + 1 bases for an
ALT d bases longer than REF); every other haplotype base takes its reference base's value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._kernels.haplotypes import CONSTANT, CUBIC, FLANK_SAMPLE, INTERPOLATE, REPEAT, REPEAT_NORM
from .errors import SettingsError


class InsertionFill:
    """Base class of the insertion fills."""


@dataclass(frozen=True)
class Repeat5p(InsertionFill):
    """The stretch repeats the anchor's value (the default)."""


@dataclass(frozen=True)
class Repeat5pNormalized(InsertionFill):
    """Each base of the stretch takes anchor value / (d + 1): a fully written stretch sums
    to the anchor's value."""


@dataclass(frozen=True)
class Constant(InsertionFill):
    """Every base of the stretch takes `value` (default NaN, to mask insertions)."""

    value: float = math.nan


@dataclass(frozen=True)
class FlankSample(InsertionFill):
    """Every base of the stretch (anchor included) takes a value drawn with replacement from
    the 2 * flank_width + 1 reference values centred on the anchor (clamped at the stored
    window's ends). Draws are fixed per stored variant and base (splitmix64 of both): an
    instance reads the same values in every epoch and process, and each sample draws from
    its own track's values. GenVarLoader draws from the same pool with its own generator,
    so the values differ from its; a width of 0 (the anchor's value) equals its output."""

    flank_width: int = 5

    def __post_init__(self) -> None:
        if (
            isinstance(self.flank_width, bool)
            or not isinstance(self.flank_width, (int, np.integer))
            or (self.flank_width < 0)
        ):
            raise SettingsError(
                f"FlankSample(flank_width={self.flank_width!r}): the width must be a whole number >= 0, e.g. 5."
            )


@dataclass(frozen=True)
class Interpolate(InsertionFill):
    """Interpolation across the stretch, as GenVarLoader 0.43.1. order=1: linear from the
    anchor's value a towards the next reference base's value b, base k of the stretch (k = 0
    the anchor) takes a + (b - a) * k / (d + 1). order=2 or 3: the Lagrange cubic through
    two reference values on each side of the insertion (GenVarLoader uses ceil((order + 1)
    / 2) = 2 a side for both); the anchor keeps its value."""

    order: int = 1

    def __post_init__(self) -> None:
        if self.order not in (1, 2, 3) or isinstance(self.order, bool):
            raise SettingsError(f"Interpolate(order={self.order!r}): the order must be 1, 2 or 3.")


_NAMES: dict[str, InsertionFill] = {
    "repeat": Repeat5p(),
    "repeat_normalized": Repeat5pNormalized(),
    "interpolate": Interpolate(),
    "nan": Constant(),
}


def as_fill(value: object, track: str | None = None) -> InsertionFill:
    """An InsertionFill from an instance, a name ("repeat", "repeat_normalized",
    "interpolate", "nan") or a number (a constant)."""
    if isinstance(value, InsertionFill):
        return value
    if isinstance(value, str) and value in _NAMES:
        return _NAMES[value]
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return Constant(float(value))
    where = f" for track {track!r}" if track else ""
    raise SettingsError(
        f"unknown insertion fill {value!r}{where}; use Repeat5p(), Repeat5pNormalized(), Constant(value), "
        f"Interpolate(order), FlankSample(flank_width), a number (a constant), or one of {sorted(_NAMES)}."
    )


def lower(fills: list[InsertionFill]) -> tuple[np.ndarray, np.ndarray]:
    """(modes int8, params float32) for the haplotype kernel, one per track."""
    modes = np.zeros(len(fills), np.int8)
    params = np.zeros(len(fills), np.float32)
    for i, f in enumerate(fills):
        if isinstance(f, Repeat5pNormalized):
            modes[i] = REPEAT_NORM
        elif isinstance(f, Constant):
            modes[i], params[i] = CONSTANT, f.value
        elif isinstance(f, Interpolate):
            modes[i] = INTERPOLATE if f.order == 1 else CUBIC
        elif isinstance(f, FlankSample):
            modes[i], params[i] = FLANK_SAMPLE, f.flank_width
        else:
            modes[i] = REPEAT
    return modes, params
