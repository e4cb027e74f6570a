"""Type and value checks of `write` arguments, before any file is opened."""

from __future__ import annotations

import numbers
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from .errors import InputFileError, SettingsError

if TYPE_CHECKING:
    from .readers.variants import VariantInput


@dataclass(frozen=True)
class WriteArgs:
    """The arguments `write` and `staged.write_init` share, as given, for `write._prepare`.

    One list of them behind both entry points; the public signatures still spell each one
    out (for users, their docs and type checkers)."""

    bed: Any
    variants: VariantInput | None
    bigwigs: Any
    length: int | None
    max_jitter: int
    samples: Sequence[str] | None
    overwrite: bool
    reference: str | os.PathLike | None
    allow_unphased: bool
    annot_bigwigs: Mapping[str, str | os.PathLike] | None
    max_mem: int | str | None
    regions_per_partition: int | None
    samples_per_partition: int | None
    var_fields: Sequence[str] | None
    dosage_field: str

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> WriteArgs:
        """The write arguments among an entry point's `locals()` (taken before it reassigns
        any of them); its other names are ignored."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls)})


def whole_number(name: str, value: Any, *, minimum: int) -> int:
    """`value` as an int >= `minimum`; a str, float or bool is an error, not converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SettingsError(
            f"{name} must be an integer, got {value!r} ({type(value).__name__}). Fix: pass {name}=<int>."
        )
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def sample_list(samples: Any) -> list[str] | None:
    """`samples` as a list of distinct names, or None (all samples)."""
    if samples is None:
        return None
    if isinstance(samples, (str, bytes, os.PathLike)):
        raise InputFileError(
            f"samples must be a list of sample names, got the single {type(samples).__name__} {samples!r}. "
            f"Fix: samples=[{str(samples)!r}] (CLI: --samples takes a file with one name per line)."
        )
    chosen = [str(s) for s in samples]
    if not chosen:
        raise InputFileError("samples is empty; pass at least one sample name, or None for all samples.")
    dup = sorted(s for s, n in Counter(chosen).items() if n > 1)
    if dup:
        raise InputFileError(f"samples lists {dup[:5]} more than once; each sample may appear once.")
    return chosen


def track_list(bigwigs: Any) -> list[Any]:
    """`bigwigs` as a list of track readers (`BigWigs`)."""
    from .readers.bigwig import BigWigs

    if bigwigs is None:
        return []
    items: Sequence[Any] = [bigwigs] if isinstance(bigwigs, BigWigs) else bigwigs
    if isinstance(bigwigs, (str, bytes, os.PathLike)) or not isinstance(items, Sequence):
        raise InputFileError(
            f"bigwigs must be a BigWigs or a list of them, got {type(bigwigs).__name__} {bigwigs!r}. "
            f'Fix: bigwigs=gvl.BigWigs.from_table("name", {str(bigwigs)!r}).'
        )
    for t in items:
        if not all(hasattr(t, a) for a in ("name", "paths", "samples", "intervals")):
            raise InputFileError(
                f"bigwigs holds a {type(t).__name__} ({t!r}); each item must be a BigWigs. "
                'Fix: gvl.BigWigs.from_table("name", "table.csv").'
            )
    return list(items)
