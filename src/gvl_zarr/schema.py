"""The store layout as data: groups, arrays, dims, dtypes and chunk rules.

`docs/format.md` describes the same layout in prose; `validate` checks an opened
store against it and names the array, the expected and the found value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import IncompleteDatasetError

FORMAT_VERSION = 2
"""Bumped whenever an array is added, removed or changes meaning. 2: sharded arrays with
crc32c-checked inner chunks, the reference stored in the store, track intervals as
uncompressed int32/int32/float32."""

COMPLETE_ATTR = "gvl_zarr_complete"
"""Root attribute written last by `write`; a store without it is not opened."""

INNER_CHUNK_BYTES = 8 * 1024
"""Decoded bytes per inner chunk of a flat data array (calls, intervals, variants,
reference): a random instance reads and decodes a few of these, not megabytes. 8 KiB over
32 KiB: shuffled tracks reads with a cache smaller than the data went 17k → 21k
instances/s on the kit (fewer bytes decoded and staged per instance); fixed per-chunk costs
(~25 µs) make smaller chunks no better."""

ROWS_PER_CHUNK = {"interval": 2048}
"""Rows per inner chunk where arrays of one row dimension differ in itemsize: a track's
starts, ends (int64) and values (float32) share their chunk boundaries, so a batch reads the
same chunks of all three and one row numbering serves them. Other flat arrays:
`INNER_CHUNK_BYTES // itemsize` rows."""

CHUNKS_PER_SHARD = 4096
"""Inner chunks per shard object of a flat array (32 MiB decoded): few files locally,
byte-range reads remotely."""

GRID_INNER = (8, 32)
"""Regions × samples per inner chunk of every (region, sample, ...) array (8 KiB of
genotype offsets)."""

GRID_SHARD = (256, 2048)
"""Regions × samples per shard of every (region, sample, ...) array."""


@dataclass(frozen=True)
class ArraySpec:
    """One array of the store."""

    path: str
    dims: tuple[str, ...]
    dtype: str
    doc: str

    raw: bool = False
    """Stored uncompressed in one shard (inner chunks `bytes` → crc32c): read in place from
    memory-mapped files locally (see MAPPED_ARRAYS in docs/format.md)."""

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
REFERENCE = ArraySpec(
    "reference/sequence",
    ("ref_byte_window",),
    "uint8",
    "Reference of every region over [start - max_jitter, fetch_end), uppercase ASCII, concatenated in region order.",
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
        ArraySpec(f"{base}/starts", ("interval",), "int32", "0-based interval start.", raw=True),
        ArraySpec(f"{base}/ends", ("interval",), "int32", "Exclusive interval end.", raw=True),
        ArraySpec(f"{base}/values", ("interval",), "float32", "Value over the interval.", raw=True),
    )


def var_field_spec(name: str, source: str, key: str, dtype: str) -> ArraySpec:
    """An optional variant field (root attr `var_fields`): INFO values parallel to the
    variant table, or FORMAT values parallel to `genotypes/variant_index`."""
    if source == "INFO":
        return ArraySpec(f"variants/info/{name}", ("variant",), dtype, f"INFO/{key} of each variant.")
    return ArraySpec(f"genotypes/fields/{name}", ("call",), dtype, f"FORMAT/{key} of each ALT call.")


def validate(group, path: str) -> None:
    """Check that `group` is a complete store of this format; raise naming what is wrong."""
    attrs = dict(group.attrs)
    if not attrs.get(COMPLETE_ATTR, False):
        raise IncompleteDatasetError(
            f"{path} is not a complete gvl_zarr dataset (attribute {COMPLETE_ATTR!r} missing): "
            "its write failed or was interrupted. Write it again with overwrite=True."
        )
    found = attrs.get("format_version")
    if isinstance(found, int) and found > FORMAT_VERSION:
        raise IncompleteDatasetError(
            f"{path} has format_version {found}, written by a newer gvl_zarr; this version reads format_version "
            f"{FORMAT_VERSION}. Fix: upgrade gvl_zarr (pip install -U gvl-zarr), or re-write the dataset with this one."
        )
    if found != FORMAT_VERSION:
        inputs = attrs.get("inputs") or {}
        source = ", ".join(f"{k}={v}" for k, v in inputs.items() if v) or "its original inputs"
        age = "an older" if isinstance(found, int) and found < FORMAT_VERSION else "a different"
        raise IncompleteDatasetError(
            f"{path} has format_version {found!r}, written by {age} gvl_zarr; this version reads "
            f"format_version {FORMAT_VERSION} (sharded, checksummed chunks for bounded-memory random access). "
            f"Fix: re-write it with gvl.write(...) or `gvl-zarr write` from {source}."
        )
    specs = [*REGIONS, SAMPLES]
    if attrs.get("has_genotypes"):
        specs += [*VARIANTS, *GENOTYPES]
    if attrs.get("has_reference"):
        specs.append(REFERENCE)
    for name in attrs.get("tracks", []):
        specs += list(track_specs(name))
    for name, field in (attrs.get("var_fields") or {}).items():  # optional: stores without have none
        specs.append(var_field_spec(name, field["source"], field["key"], field["dtype"]))
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
