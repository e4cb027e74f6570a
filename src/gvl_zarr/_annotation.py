"""Sample-independent annotation tracks: one BigWig per track, stored once per region.

An annotation track is written as an ordinary track group whose sample axis has length 1
(the stand-in sample `ANNOTATION`); `track_info[name]["annotation"]` marks it, and reads map
every sample to that one column, so the values are broadcast to all samples and realigned
to each haplotype like any other track.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import InputFileError
from .readers.bigwig import BigWigs

ANNOTATION = "__annotation__"
"""Sample name under which an annotation track's single BigWig is written."""


def annotation_tracks(annot_bigwigs: Mapping[str, str | os.PathLike] | None) -> list[BigWigs]:
    """One single-file `BigWigs` per annotation track."""
    if annot_bigwigs is None:
        return []
    if not isinstance(annot_bigwigs, Mapping):
        raise InputFileError(
            f"annot_bigwigs must be a mapping {{track name: BigWig path}}, got {type(annot_bigwigs).__name__}."
        )
    return [BigWigs(str(name), {ANNOTATION: path}) for name, path in annot_bigwigs.items()]


def annotation_info(track: BigWigs, max_jitter: int) -> dict:
    """The `track_info` entry of an annotation track."""
    return {"source": "bigwig", "max_jitter": int(max_jitter), "annotation": True, "path": track.paths[ANNOTATION]}


def is_annotation(info: Mapping) -> bool:
    return bool(info.get("annotation", False))
