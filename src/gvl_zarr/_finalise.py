"""Finishing a partitioned write: check every partition is done, then build the store's arrays.

Each partition recorded its row counts (`done.json`); a partition's rows start at the sum of
the counts of the partitions before it (partition order: region block, then sample block),
so every global offset is known before anything is copied. The copy is split into tasks
that never share an output shard object:

- a compressed flat array (calls, variant table, reference): one task per shard;
- a raw track array (one shard per array): one task per track, streaming its parts;
- an offsets grid: one task per grid shard (`schema.GRID_SHARD`), which adds each
  contributing partition's row base to its local offsets.

Tasks run on a dask client when one is given, else one after another in this process.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import _plan, _variant_fields, schema
from ._annotation import annotation_info
from ._arrays import RawAppender, create, empty, write_grid_shards, write_shards
from ._partition import track_stub
from ._parts import PARTS, is_done, part_dir, read_grid, read_marker, read_rows
from ._provenance import provenance
from ._region_labels import write_columns
from .errors import IncompleteDatasetError

Piece = tuple[str | None, int, int, int, int]
"""(part folder or None for a constant row, first source row, rows, value added, first output row)."""

GridPiece = tuple[str, int, int, int, int, int]
"""(part folder, r0, r1, s0, s1, value added): a partition's block of an offsets grid."""

_RAW_STEP = 1 << 20
"""Rows copied at a time into a raw track array (20 MB for starts, ends and values)."""


def missing_partitions(tmp: str, plan: _plan.Plan) -> list[int]:
    return [k for k in range(plan.n_partitions) if not is_done(tmp, k)]


def finalise(tmp: str, client: Any = None, *, out: str | None = None, command: str | None = None) -> None:
    """Build the store in `tmp` from its finished partitions and set its attributes, the
    completion attribute last. Raises `IncompleteDatasetError` naming unfinished partitions."""
    plan = _plan.load(tmp)
    missing = missing_partitions(tmp, plan)
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        target = out or plan.out
        raise IncompleteDatasetError(
            f"the write to {target} is missing {len(missing)} of its {plan.n_partitions} partition(s): {shown} "
            f"(no {part_dir(tmp, missing[0]).name}/done.json under {Path(tmp) / PARTS}). Fix: run "
            f"`gvl-zarr write-partition {target} K` for each (e.g. K={missing[0]}), then "
            f"`{command or f'gvl-zarr write-finalise {target}'}` again."
        )
    markers = [read_marker(tmp, k) for k in range(plan.n_partitions)]
    # a finalise killed part-way is run again from the parts: drop what it had written
    rewritten = ["regions", "samples"] + (
        ["variants", "genotypes", "reference", "tracks"] if plan.n_partitions > 1 else []
    )
    for name in rewritten:
        shutil.rmtree(Path(tmp) / name, ignore_errors=True)
    root = zarr.open_group(zarr.storage.LocalStore(tmp), mode="a", zarr_format=3)
    region_parts = [i * plan.n_sample_blocks for i in range(plan.n_region_blocks)]
    fetch_end = np.concatenate([np.load(part_dir(tmp, k) / "fetch_end.npy") for k in region_parts])
    contig_idx, start, end = _plan.load_regions(tmp)
    bed = _plan.load_bed(tmp)

    from .write import _write_regions  # the write module imports this one

    _write_regions(root, bed, contig_idx, start, end, fetch_end)
    region_columns = write_columns(root, bed)
    create(root, schema.SAMPLES, np.array(plan.samples, dtype=str))
    if plan.n_partitions > 1:
        _copy_parts(tmp, root, plan, markers, client)

    skipped = sum(markers[k]["n_symbolic_skipped"] for k in region_parts)
    if skipped:
        m = markers[0]
        warnings.warn(
            f"{m['variants_kind']} {m['variants_path']}: skipped {skipped} symbolic ALT allele(s) (e.g. <CN0>) "
            "in the regions; haplotypes carrying them read as reference there.",
            stacklevel=3,
        )
    tracks = [track_stub(t) for t in plan.tracks]
    annotations = [track_stub(t) for t in plan.annotations]
    track_info = {t.name: {"source": "bigwig", "max_jitter": int(plan.max_jitter)} for t in tracks}
    track_info.update({t.name: annotation_info(t, plan.max_jitter) for t in annotations})
    root.attrs.update(
        {
            "format_version": schema.FORMAT_VERSION,
            "length": int(plan.length),
            "max_jitter": int(plan.max_jitter),
            "ploidy": int(plan.ploidy),
            "n_samples": plan.n_samples,
            "contigs": plan.contigs,
            "has_genotypes": plan.variants is not None,
            "has_reference": plan.reference is not None,
            "tracks": [t.name for t in tracks + annotations],
            "track_info": track_info,
            "region_columns": region_columns,
            "inputs": {"bed": plan.bed_source, "variants": plan.variants, "reference": plan.reference},
            "provenance": provenance(plan.bed_source, plan.variants, plan.reference, tracks, plan.n_samples),
        }
    )
    if plan.field_specs:
        root.attrs["var_fields"] = {f["name"]: f for f in plan.field_specs}
    shutil.rmtree(Path(tmp) / PARTS, ignore_errors=True)
    shutil.rmtree(Path(tmp) / _plan.PLAN, ignore_errors=True)
    root.attrs[schema.COMPLETE_ATTR] = True


def _copy_parts(tmp: str, root: zarr.Group, plan: _plan.Plan, markers: list[dict], client: Any) -> None:
    n_s = plan.n_sample_blocks
    counts = [m["counts"] for m in markers]
    folders = [str(part_dir(tmp, k)) for k in range(plan.n_partitions)]
    region_parts = [i * n_s for i in range(plan.n_region_blocks)]
    every = list(range(plan.n_partitions))
    flat: list[tuple[schema.ArraySpec, list[Piece], int]] = []
    grids: list[tuple[schema.ArraySpec, tuple[int, ...], list[GridPiece]]] = []
    raw: list[tuple[str, list[Piece]]] = []

    def pieces(path: str, parts: Sequence[int], add: Callable[[int], int] = lambda k: 0, drop_last: bool = False):
        out: list[Piece] = []
        at = 0
        for k in parts:
            n = counts[k][path] - (1 if drop_last else 0)
            out.append((folders[k], 0, n, int(add(k)), at))
            at += n
        return out, at

    def bases(path: str, parts: Sequence[int]) -> dict[int, int]:
        cum = np.concatenate([[0], np.cumsum([counts[k][path] for k in parts])]).astype(np.int64)
        return {k: int(cum[n]) for n, k in enumerate(parts)} | {-1: int(cum[-1])}

    def grid_pieces(path: str, parts: Sequence[int], add: dict[int, int], annotation: bool = False):
        out: list[GridPiece] = []
        for k in parts:
            _, _, r0, r1, s0, s1 = plan.blocks(k)
            out.append((folders[k], r0, r1, 0 if annotation else s0, 1 if annotation else s1, add[k]))
        return out

    if plan.variants is not None:
        by_block = {k: k // n_s for k in every}
        variant_base = bases("variants/pos", region_parts)
        for spec in schema.VARIANTS:
            if spec.path.endswith("_offsets"):
                data = spec.path.replace("_offsets", "")
                byte_base = bases(data, region_parts)
                ps, n = pieces(spec.path, region_parts, lambda k, b=byte_base: b[k], drop_last=True)
                ps.append((None, 0, 1, byte_base[-1], n))
                flat.append((spec, ps, n + 1))
            else:
                flat.append((spec, *pieces(spec.path, region_parts)))
        call_spec = schema.GENOTYPES[1]
        flat.append((call_spec, *pieces(call_spec.path, every, lambda k: variant_base[by_block[k] * n_s])))
        for f in map(lambda d: _variant_fields.FieldSpec(**d), plan.field_specs):
            # INFO values follow the variant rows (region blocks), FORMAT values the calls
            flat.append((f.spec, *pieces(f.spec.path, region_parts if f.source == "INFO" else every)))
        call_base = bases(call_spec.path, every)
        grids.append(
            (
                schema.GENOTYPES[0],
                (plan.n_regions, plan.n_samples, plan.ploidy, 2),
                grid_pieces(schema.GENOTYPES[0].path, every, call_base),
            )
        )
    if plan.reference is not None:
        flat.append((schema.REFERENCE, *pieces(schema.REFERENCE.path, region_parts)))
    for t in plan.tracks + plan.annotations:
        annotation = t in plan.annotations
        parts = region_parts if annotation else every
        specs = schema.track_specs(t["name"])
        raw.append((t["name"], pieces(specs[1].path, parts)[0]))
        base = bases(specs[1].path, parts)
        shape = (plan.n_regions, 1 if annotation else plan.n_samples, 2)
        grids.append((specs[0], shape, grid_pieces(specs[0].path, parts, base, annotation)))

    jobs: list[tuple[Callable, tuple]] = []
    for spec, ps, total in flat:
        arr = empty(root, spec, (total,))
        shard = int(arr.metadata.chunk_grid.chunk_shape[0])
        for a in range(0, total, shard):
            b = min(a + shard, total)
            mine = [p for p in ps if p[4] < b and p[4] + p[2] > a]
            jobs.append((copy_flat, (tmp, spec.path, a, b, mine)))
    for spec, shape, gps in grids:
        arr = empty(root, spec, shape)
        sr, ss = (int(n) for n in arr.metadata.chunk_grid.chunk_shape[:2])
        for r in range(0, shape[0], sr):
            for s in range(0, shape[1], ss):
                box = (r, min(r + sr, shape[0]), s, min(s + ss, shape[1]))
                mine = [g for g in gps if g[1] < box[1] and g[2] > box[0] and g[3] < box[3] and g[4] > box[2]]
                jobs.append((copy_grid, (tmp, spec.path, box, mine)))
    for name, ps in raw:
        jobs.append((copy_raw, (tmp, name, ps)))
    run_jobs(client, jobs)


def run_jobs(client: Any, jobs: list[tuple[Callable, tuple]]) -> None:
    """Run `jobs` on `client` (dask), else in order here."""
    if client is None:
        for fn, args in jobs:
            fn(*args)
        return
    futures = [client.submit(fn, *args, pure=False) for fn, args in jobs]
    try:
        client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise


def _open(tmp: str) -> zarr.Group:
    return zarr.open_group(zarr.storage.LocalStore(tmp), mode="r+", zarr_format=3)


def _gather(ps: Sequence[Piece], a: int, b: int, dtype: np.dtype, path: str) -> np.ndarray:
    """Output rows [a, b) of one flat array from its pieces."""
    out = np.empty(b - a, dtype)
    for folder, src, n, add, at in ps:
        lo, hi = max(a, at), min(b, at + n)
        if hi <= lo:
            continue
        if folder is None:
            out[lo - a : hi - a] = add
        else:
            rows = read_rows(Path(folder), path, dtype, src + lo - at, src + hi - at)
            out[lo - a : hi - a] = rows + np.asarray(add, dtype) if add else rows
    return out


def copy_flat(tmp: str, path: str, a: int, b: int, ps: Sequence[Piece]) -> None:
    """Write shard [a, b) of the compressed flat array `path` (a task)."""
    arr = _open(tmp)[path]
    write_shards(arr, a, _gather(ps, a, b, arr.dtype, path))


def copy_grid(tmp: str, path: str, box: tuple[int, int, int, int], gps: Sequence[GridPiece]) -> None:
    """Write the grid shard `box` (r0, r1, s0, s1) of offsets array `path` (a task)."""
    arr = _open(tmp)[path]
    r0, r1, s0, s1 = box
    block = np.zeros((r1 - r0, s1 - s0, *arr.shape[2:]), arr.dtype)
    for folder, pr0, pr1, ps0, ps1, add in gps:
        local = read_grid(Path(folder), path)
        lo_r, hi_r, lo_s, hi_s = max(r0, pr0), min(r1, pr1), max(s0, ps0), min(s1, ps1)
        block[lo_r - r0 : hi_r - r0, lo_s - s0 : hi_s - s0] = (
            local[lo_r - pr0 : hi_r - pr0, lo_s - ps0 : hi_s - ps0] + add
        )
    write_grid_shards(arr, (r0, s0), block)


def copy_raw(tmp: str, name: str, ps: Sequence[Piece]) -> None:
    """Write the raw interval arrays of track `name` (one shard each) from its parts (a task)."""
    specs = schema.track_specs(name)[1:]
    rows = RawAppender(_open(tmp), specs)
    for folder, src, n, _, _ in ps:
        for lo in range(src, src + n, _RAW_STEP):
            hi = min(lo + _RAW_STEP, src + n)
            rows.append(*(read_rows(Path(folder), s.path, s.np_dtype, lo, hi) for s in specs))
    rows.close()
