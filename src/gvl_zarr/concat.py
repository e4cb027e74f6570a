"""Joining datasets into a new store: `concat(out, [ds1, ds2], axis="regions"|"samples")`.

The inputs must describe the same kind of data: same window length, max_jitter, ploidy,
variant source (the VCF they were written from), reference presence and tracks. Along
regions they must have the same samples in the same order; along samples the same regions
(same BED rows and windows) and no shared sample. Flat arrays (variants, calls, intervals,
reference) are copied block by block through the streaming appenders, with their row
numbers shifted; only the per-region and (region, sample) offset grids are held whole, as
`write` does. The result is written to `<out>.partial-<id>` and renamed onto `out`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import zarr

from . import schema
from ._arrays import appender, create
from ._partial import check_replaceable
from ._store import as_store, consolidate, describe
from .errors import InputFileError, SettingsError
from .write import _remove, _replace

_BLOCK = 1 << 22
"""Rows copied per read of a flat array (32 MiB of int64)."""


class _Source:
    """One input dataset's root group and attributes."""

    def __init__(self, item: Any) -> None:
        from .dataset import Dataset

        if isinstance(item, Dataset):
            if item.n_regions != len(item._data.r_start) or item.n_samples != len(item._data.samples):
                raise InputFileError(
                    f"concat takes whole datasets; {item._data.name} is a subset ({item.n_regions} of "
                    f"{len(item._data.r_start)} regions, {item.n_samples} of {len(item._data.samples)} samples). "
                    "Fix: write the subset as its own dataset first, or pass the dataset's path."
                )
            location = item._data.location
        else:
            location = item
        self.name = describe(location)
        self.group = zarr.open_group(as_store(location), mode="r", zarr_format=3)
        schema.validate(self.group, self.name)
        self.attrs = dict(self.group.attrs)
        self.n_regions = int(self.group["regions/start"].shape[0])
        self.samples = self.group["samples"][:].tolist()

    def __getitem__(self, path: str) -> Any:
        return self.group[path]


def concat(
    out: str | os.PathLike,
    datasets: Sequence[Any],
    axis: Literal["regions", "samples"] = "regions",
    *,
    overwrite: bool = False,
) -> None:
    """Write a new dataset at `out` joining `datasets` (Datasets, paths or stores) along `axis`."""
    out = os.fspath(out)
    if axis not in ("regions", "samples"):
        raise SettingsError(f"axis must be 'regions' or 'samples', got {axis!r}.")
    if len(datasets) < 2:
        raise InputFileError(f"concat needs at least two datasets, got {len(datasets)}.")
    check_replaceable(out, overwrite)  # overwrite replaces a gvl_zarr dataset only
    sources = [_Source(d) for d in datasets]
    _check_compatible(sources, axis)
    tmp = f"{out.rstrip('/')}.partial-{uuid.uuid4().hex[:8]}"
    try:
        root = zarr.open_group(zarr.storage.LocalStore(tmp), mode="w", zarr_format=3)
        attrs = (_concat_regions if axis == "regions" else _concat_samples)(root, sources)
        root.attrs.update(attrs)
        root.attrs[schema.COMPLETE_ATTR] = True
        consolidate(tmp)
        _remove(_replace(tmp, out))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------- checks
def _check_compatible(sources: list[_Source], axis: str) -> None:
    first = sources[0]
    keys = {
        "length": "window length",
        "max_jitter": "max_jitter",
        "ploidy": "ploidy",
        "has_genotypes": "having variants",
        "has_reference": "a stored reference",
    }
    for other in sources[1:]:
        for key, what in keys.items():
            if first.attrs.get(key) != other.attrs.get(key):
                raise InputFileError(
                    f"cannot concat {first.name} and {other.name}: they differ in {what} "
                    f"({first.attrs.get(key)!r} vs {other.attrs.get(key)!r}). Fix: write them with the same settings."
                )
        v1 = (first.attrs.get("inputs") or {}).get("variants")
        v2 = (other.attrs.get("inputs") or {}).get("variants")
        if first.attrs.get("has_genotypes") and os.path.realpath(v1 or "") != os.path.realpath(v2 or ""):
            raise InputFileError(
                f"cannot concat {first.name} and {other.name}: they were written from different variant "
                f"sources ({v1} vs {v2}). Fix: write both from the same VCF."
            )
        if first.attrs.get("tracks") != other.attrs.get("tracks"):
            raise InputFileError(
                f"cannot concat {first.name} and {other.name}: their tracks differ "
                f"({first.attrs.get('tracks')} vs {other.attrs.get('tracks')}). Fix: add the missing tracks "
                "with gvl.update, or write both with the same tracks."
            )
        for name in first.attrs.get("tracks", []):
            a, b = first.attrs["track_info"][name], other.attrs["track_info"][name]
            if bool(a.get("annotation")) != bool(b.get("annotation")) or a.get("max_jitter") != b.get("max_jitter"):
                raise InputFileError(
                    f"cannot concat {first.name} and {other.name}: track {name!r} is stored differently ({a} vs {b})."
                )
        if axis == "regions" and other.samples != first.samples:
            raise InputFileError(
                f"cannot concat {first.name} and {other.name} along regions: their samples differ "
                f"({len(first.samples)} vs {len(other.samples)} samples, or another order). "
                "Fix: write both with the same samples= list."
            )
        if axis == "samples":
            _check_same_regions(first, other)
    if axis == "samples":
        seen: dict[str, str] = {}
        for src in sources:
            for s in src.samples:
                if s in seen:
                    raise InputFileError(
                        f"cannot concat along samples: sample {s!r} is in both {seen[s]} and {src.name}. "
                        "Fix: write the datasets with disjoint samples= lists."
                    )
                seen[s] = src.name


def _check_same_regions(a: _Source, b: _Source) -> None:
    same = a.n_regions == b.n_regions and np.array_equal(
        np.asarray(a.attrs["contigs"])[a["regions/contig"][:]], np.asarray(b.attrs["contigs"])[b["regions/contig"][:]]
    )
    for path in ("regions/start", "regions/end", "regions/strand", "regions/bed_start", "regions/bed_end"):
        same = same and np.array_equal(a[path][:], b[path][:])
    if not same:
        raise InputFileError(
            f"cannot concat {a.name} and {b.name} along samples: their regions differ. "
            "Fix: write both from the same BED with the same length."
        )
    if not np.array_equal(a["regions/fetch_end"][:], b["regions/fetch_end"][:]):
        raise InputFileError(
            f"cannot concat {a.name} and {b.name} along samples: their stored reference spans differ "
            "(deletions in reach differ, so they were written from different variants)."
        )


# --------------------------------------------------------------- copying
def _copy_flat(root: Any, specs: tuple[schema.ArraySpec, ...], parts: list[tuple[list[Any], int]]) -> list[int]:
    """Append `parts` — (source arrays, one per spec; shift added to every value) — into new
    arrays `specs`, block by block. Returns each part's first row."""
    app = appender(root, specs)
    firsts = []
    for arrays, shift in parts:
        firsts.append(app.n_rows)
        n = arrays[0].shape[0]
        for a in range(0, n, _BLOCK):
            b = min(a + _BLOCK, n)
            blocks = [np.asarray(arr[a:b]) for arr in arrays]
            if shift:
                blocks[0] = blocks[0] + np.asarray(shift, blocks[0].dtype)
            app.append(*blocks)
    app.close()
    return firsts


def _copy_csr(root: Any, spec_offsets: schema.ArraySpec, spec_data: schema.ArraySpec, sources, off: str, dat: str):
    """Concatenate CSR (offsets, data) pairs: data appended, offsets shifted and joined."""
    firsts = _copy_flat(root, (spec_data,), [([s[dat]], 0) for s in sources])
    app = appender(root, (spec_offsets,))
    for i, (src, first) in enumerate(zip(sources, firsts, strict=True)):
        arr = src[off]
        n = arr.shape[0]
        for a in range(0 if i == 0 else 1, n, _BLOCK):
            app.append(np.asarray(arr[a : min(a + _BLOCK, n)]) + first)
    app.close()


def _variants(root: Any, sources: list[_Source], contig_maps: list[np.ndarray]) -> list[int]:
    """Concatenate the variant tables; returns each source's first variant row."""
    contig, pos, ref_len, ref_offsets, ref, alt_offsets, alt = schema.VARIANTS
    app = appender(root, (contig,))
    for src, cmap in zip(sources, contig_maps, strict=True):
        arr = src[contig.path]
        for a in range(0, arr.shape[0], _BLOCK):
            app.append(cmap[np.asarray(arr[a : a + _BLOCK])].astype(np.int32))
    app.close()
    firsts = _copy_flat(root, (pos,), [([s[pos.path]], 0) for s in sources])
    _copy_flat(root, (ref_len,), [([s[ref_len.path]], 0) for s in sources])
    _copy_csr(root, ref_offsets, ref, sources, ref_offsets.path, ref.path)
    _copy_csr(root, alt_offsets, alt, sources, alt_offsets.path, alt.path)
    return firsts


def _calls(root: Any, sources: list[_Source], variant_firsts: list[int]) -> list[int]:
    return _copy_flat(
        root,
        schema.GENOTYPES[1:],
        [([s[schema.GENOTYPES[1].path]], first) for s, first in zip(sources, variant_firsts, strict=True)],
    )


def _var_fields(root: Any, sources: list[_Source]) -> dict:
    """Variant fields every source holds alike, joined in the order the variant tables and
    calls are (source by source); returns them for the root attribute `var_fields`."""
    common = dict(sources[0].attrs.get("var_fields") or {})
    for src in sources[1:]:
        other = src.attrs.get("var_fields") or {}
        common = {n: f for n, f in common.items() if other.get(n) == f}
    for f in common.values():
        spec = schema.var_field_spec(f["name"], f["source"], f["key"], f["dtype"])
        _copy_flat(root, (spec,), [([s[spec.path]], 0) for s in sources])
    return common


def _track_rows(root: Any, name: str, sources: list[_Source]) -> list[int]:
    specs = schema.track_specs(name)
    return _copy_flat(root, specs[1:], [([s[sp.path] for sp in specs[1:]], 0) for s in sources])


def _shifted(arr: Any, first: int) -> np.ndarray:
    """A whole offsets grid with `first` added (empty ranges stay empty)."""
    return np.asarray(arr[...]) + first


def _common_columns(sources: list[_Source]) -> list[str]:
    cols = list(sources[0].attrs.get("region_columns", []))
    return [c for c in cols if all(c in s.attrs.get("region_columns", []) for s in sources[1:])]


def _concat_regions(root: Any, sources: list[_Source]) -> dict:
    contigs: list[str] = []
    maps = []
    for src in sources:
        for c in src.attrs["contigs"]:
            if c not in contigs:
                contigs.append(c)
        maps.append(np.array([contigs.index(c) for c in src.attrs["contigs"]], np.int32))
    values = {spec.path: np.concatenate([s[spec.path][:] for s in sources]) for spec in schema.REGIONS}
    values["regions/contig"] = np.concatenate(
        [m[s["regions/contig"][:]] for s, m in zip(sources, maps, strict=True)]
    ).astype(np.int32)
    for spec in schema.REGIONS:
        create(root, spec, values[spec.path], sharded=False)
    columns = _common_columns(sources)
    for col in columns:
        spec = schema.ArraySpec(f"regions/columns/{col}", ("region",), "str", f"BED column {col!r}.")
        create(root, spec, np.concatenate([np.asarray(s[spec.path][:].tolist(), str) for s in sources]), sharded=False)
    create(root, schema.SAMPLES, np.array(sources[0].samples, dtype=str))
    first = sources[0].attrs
    fields: dict = {}
    if first["has_genotypes"]:
        v_firsts = _variants(root, sources, maps)
        c_firsts = _calls(root, sources, v_firsts)
        fields = _var_fields(root, sources)
        spec = schema.GENOTYPES[0]
        create(root, spec, np.concatenate([_shifted(s[spec.path], f) for s, f in zip(sources, c_firsts, strict=True)]))
    if first.get("has_reference"):
        _copy_flat(root, (schema.REFERENCE,), [([s[schema.REFERENCE.path]], 0) for s in sources])
    for name in first.get("tracks", []):
        firsts = _track_rows(root, name, sources)
        spec = schema.track_specs(name)[0]
        create(root, spec, np.concatenate([_shifted(s[spec.path], f) for s, f in zip(sources, firsts, strict=True)]))
    return _attrs(sources, contigs, len(sources[0].samples), columns, "regions", fields)


def _concat_samples(root: Any, sources: list[_Source]) -> dict:
    first_src = sources[0]
    for spec in schema.REGIONS:
        create(root, spec, first_src[spec.path][:], sharded=False)
    columns = list(first_src.attrs.get("region_columns", []))
    for col in columns:
        spec = schema.ArraySpec(f"regions/columns/{col}", ("region",), "str", f"BED column {col!r}.")
        create(root, spec, np.asarray(first_src[spec.path][:].tolist(), str), sharded=False)
    samples = [s for src in sources for s in src.samples]
    create(root, schema.SAMPLES, np.array(samples, dtype=str))
    first = first_src.attrs
    fields: dict = {}
    if first["has_genotypes"]:
        identity = [np.arange(len(s.attrs["contigs"]), dtype=np.int32) for s in sources]
        v_firsts = _variants(root, sources, identity)
        c_firsts = _calls(root, sources, v_firsts)
        fields = _var_fields(root, sources)
        spec = schema.GENOTYPES[0]
        grids = [_shifted(s[spec.path], f) for s, f in zip(sources, c_firsts, strict=True)]
        create(root, spec, np.concatenate(grids, axis=1))
    if first.get("has_reference"):
        _copy_flat(root, (schema.REFERENCE,), [([first_src[schema.REFERENCE.path]], 0)])
    for name in first.get("tracks", []):
        spec = schema.track_specs(name)[0]
        if first["track_info"][name].get("annotation"):
            _track_rows(root, name, [first_src])
            create(root, spec, first_src[spec.path][...])
            continue
        firsts = _track_rows(root, name, sources)
        grids = [_shifted(s[spec.path], f) for s, f in zip(sources, firsts, strict=True)]
        create(root, spec, np.concatenate(grids, axis=1))
    return _attrs(sources, list(first["contigs"]), len(samples), columns, "samples", fields)


def _attrs(
    sources: list[_Source], contigs: list[str], n_samples: int, columns: list[str], axis: str, fields: dict
) -> dict:
    first = sources[0].attrs
    attrs = {k: v for k, v in first.items() if k not in (schema.COMPLETE_ATTR, "var_fields")}
    if fields:
        attrs["var_fields"] = fields  # those every source holds alike
    inputs = dict(first.get("inputs") or {})
    inputs["bed"] = f"concat along {axis} of " + ", ".join(s.name for s in sources)
    attrs.update({"contigs": contigs, "n_samples": n_samples, "region_columns": columns, "inputs": inputs})
    return attrs
