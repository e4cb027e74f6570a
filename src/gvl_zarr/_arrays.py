"""Creating the store's arrays from their `schema` specs (shared by write paths)."""

from __future__ import annotations

import numpy as np
import zarr

from . import schema

COMPRESSOR = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")


def grid_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Chunks of a (region, sample, ...) array: region and sample blocks, the rest whole."""
    return (min(shape[0], schema.REGION_CHUNK) or 1, min(shape[1], schema.SAMPLE_CHUNK) or 1, *shape[2:])


def create(group: zarr.Group, spec: schema.ArraySpec, data: np.ndarray, chunks: tuple[int, ...] | None = None):
    """Create `spec`'s array in `group` holding `data` (flat arrays: DATA_CHUNK chunks)."""
    dtype = str if spec.dtype == "str" else spec.np_dtype
    if chunks is None:
        chunks = tuple(max(1, min(n, schema.DATA_CHUNK)) for n in data.shape) if data.ndim == 1 else data.shape
    arr = group.create_array(
        spec.path,
        shape=data.shape,
        dtype=dtype,
        chunks=tuple(max(1, c) for c in chunks),
        dimension_names=list(spec.dims),
        compressors=None if spec.dtype == "str" else COMPRESSOR,
        attributes={"description": spec.doc},
    )
    if data.size:
        arr[...] = data
    return arr


def create_track(
    group: zarr.Group, name: str, offsets: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> None:
    """Write track `name`: (region, sample, 2) offsets and the concatenated interval parts."""
    specs = schema.track_specs(name)
    create(group, specs[0], offsets, chunks=grid_chunks(offsets.shape))
    for i, spec in enumerate(specs[1:]):
        create(group, spec, np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, spec.np_dtype))
