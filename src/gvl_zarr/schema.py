"""The store layout as data: groups, arrays, dims, dtypes and chunk rules.

`docs/format.md` describes the same layout in prose; `validate` checks an opened
store against it and names the array, the expected and the found value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import IncompleteDatasetError

FORMAT_VERSION = 1
"""Bumped whenever an array is added, removed or changes meaning."""

COMPLETE_ATTR = "gvl_zarr_complete"
"""Root attribute written last by `write`; a store without it is not opened."""

REGION_CHUNK = 256
"""Regions per chunk of every (region, ...) array."""

SAMPLE_CHUNK = 512
"""Samples per chunk of every (region, sample, ...) array."""

DATA_CHUNK = 1 << 20
"""Elements per chunk of the flat ragged data arrays (calls, intervals)."""


@dataclass(frozen=True)
class ArraySpec:
    """One array of the store."""

    path: str
    dims: tuple[str, ...]
    dtype: str
    doc: str

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)


REGIONS = (
    ArraySpec("regions/contig", ("region",), "int32", "Index into root attr `contigs`."),
    ArraySpec("regions/start", ("region",), "int64", "0-based start of the resized window."),
    ArraySpec("regions/end", ("region",), "int64", "Exclusive end; end - start == length."),
    ArraySpec("regions/strand", ("region",), "int8", "+1, -1, or 0 when the BED has none."),
    ArraySpec("regions/bed_start", ("region",), "int64", "Start as given in the input BED."),
    ArraySpec("regions/bed_end", ("region",), "int64", "End as given in the input BED."),
    ArraySpec(
        "regions/fetch_end",
        ("region",),
        "int64",
        "End of the reference span a read may need: end + max_jitter + deleted bases.",
    ),
)
SAMPLES = ArraySpec("samples", ("sample",), "str", "Sample names, in VCF order.")
VARIANTS = (
    ArraySpec("variants/contig", ("variant",), "int32", "Index into root attr `contigs`."),
    ArraySpec("variants/pos", ("variant",), "int64", "0-based position of REF's first base."),
    ArraySpec("variants/ref_len", ("variant",), "int32", "Length of REF."),
    ArraySpec("variants/ref_offsets", ("variant_plus_1",), "int64", "CSR offsets into `ref`."),
    ArraySpec("variants/ref", ("ref_byte",), "uint8", "REF alleles, ASCII, concatenated."),
    ArraySpec("variants/alt_offsets", ("variant_plus_1",), "int64", "CSR offsets into `alt`."),
    ArraySpec("variants/alt", ("alt_byte",), "uint8", "ALT alleles, ASCII, concatenated."),
)
GENOTYPES = (
    ArraySpec(
        "genotypes/offsets",
        ("region", "sample", "ploid", "bound"),
        "int64",
        "[start, end) into `variant_index` of the ALT calls of each haplotype.",
    ),
    ArraySpec(
        "genotypes/variant_index",
        ("call",),
        "int32",
        "Variant row of each ALT call, ascending within a haplotype.",
    ),
)


def track_specs(name: str) -> tuple[ArraySpec, ...]:
    """Arrays of the track group `tracks/<name>`: intervals per (region, sample)."""
    base = f"tracks/{name}"
    return (
        ArraySpec(
            f"{base}/offsets",
            ("region", "sample", "bound"),
            "int64",
            "[start, end) into the interval arrays for each (region, sample).",
        ),
        ArraySpec(f"{base}/starts", ("interval",), "int64", "0-based interval start."),
        ArraySpec(f"{base}/ends", ("interval",), "int64", "Exclusive interval end."),
        ArraySpec(f"{base}/values", ("interval",), "float32", "Value over the interval."),
    )


def validate(group, path: str) -> None:
    """Check that `group` is a complete store of this format; raise naming what is wrong."""
    attrs = dict(group.attrs)
    if not attrs.get(COMPLETE_ATTR, False):
        raise IncompleteDatasetError(
            f"{path} is not a complete gvl_zarr dataset (attribute {COMPLETE_ATTR!r} missing): "
            "its write failed or was interrupted. Write it again with overwrite=True."
        )
    found = attrs.get("format_version")
    if found != FORMAT_VERSION:
        raise IncompleteDatasetError(
            f"{path} has format_version {found!r}; this gvl_zarr reads {FORMAT_VERSION}. "
            "Re-write the dataset with this version of gvl_zarr."
        )
    specs = [*REGIONS, SAMPLES]
    if attrs.get("has_genotypes"):
        specs += [*VARIANTS, *GENOTYPES]
    for name in attrs.get("tracks", []):
        specs += list(track_specs(name))
    for spec in specs:
        try:
            arr = group[spec.path]
        except KeyError:
            raise IncompleteDatasetError(
                f"{path} lacks array {spec.path!r} ({spec.doc}); re-write the dataset."
            ) from None
        dims = tuple(arr.metadata.dimension_names or ())
        if dims != spec.dims:
            raise IncompleteDatasetError(f"{path}: array {spec.path!r} has dims {dims}, expected {spec.dims}.")
