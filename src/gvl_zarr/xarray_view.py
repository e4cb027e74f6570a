"""`Dataset.to_xarray`: a lazy `xarray.Dataset` of a Dataset's selection and settings.

Every variable is an `InstanceArray`: a (region, sample, ...) array whose reads are outer
blocks of instances, each read by one call of the Dataset's own read path (`Dataset.__getitem__`
with broadcast region × sample indices: one kernel call per block). `to_xarray` wraps them in
dask arrays whose blocks follow the store's (region, sample) chunk grid; the `gvl_zarr` xarray
engine (`xarray_backend.py`) wraps the same arrays in xarray's lazy indexing instead.

Arrays pickle by the store's location, selection and settings, never by open handles;
unpickled in another process (a dask worker) they open the store once per process
(`open_data`), and every task there shares that store's chunk cache.
"""

from __future__ import annotations

import difflib
import os
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing
from xarray.indexes import PandasIndex

from . import _summaries, schema
from ._query import StoreData
from ._settings import Settings
from .readers.bed import read_bed

if TYPE_CHECKING:
    from .dataset import Dataset

TARGET_BLOCK_BYTES = 64 << 20
"""Default dask block size: whole store chunks of regions, grown until the largest variable's
block (float32 tracks per haplotype) reaches about this many bytes."""

_OPEN: dict[Any, StoreData] = {}
_OPEN_LOCK = threading.Lock()


def open_data(location: Any, reference: str | None, cache_bytes: int, preload: bool) -> StoreData:
    """The StoreData of `location` in this process, opened on first use and kept: every task
    of a dask worker reads through one store and one chunk cache."""
    try:
        key: Any = (location, reference, cache_bytes, preload)
        hash(key)
    except TypeError:
        key = (repr(location), reference, cache_bytes, preload)
    with _OPEN_LOCK:
        data = _OPEN.get(key)
        if data is None:
            data = _OPEN[key] = StoreData(location, reference, cache_bytes, preload)
    return data


def _rebuild(location, reference, cache_bytes, preload, regions, samples, settings) -> Source:
    from .dataset import Dataset

    data = open_data(location, reference, cache_bytes, preload)
    return Source(Dataset(data, regions, samples, settings))


def view_settings(settings: Settings) -> Settings:
    """The settings the view reads with: no transform or indices, and fixed jitter shifts
    (a function of seed and instance) so that every variable and every recomputation of a
    block sees the same windows."""
    return replace(
        settings, transform=None, return_indices=False, fixed_jitter=settings.fixed_jitter or bool(settings.jitter)
    )


class Source:
    """A Dataset (store, selection, settings) that pickles by location, not by handles."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def __reduce__(self):
        ds, d = self.ds, self.ds._data
        location = os.fspath(d.location) if isinstance(d.location, os.PathLike) else d.location
        return (_rebuild, (location, d.reference, d.cache.budget, d.preload, ds._regions, ds._samples, ds.settings))

    def read(self, kind: str, r: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Variable `kind` of the outer block regions r × samples s (local int indices):
        shape (len(r), len(s), ...), by one read of the Dataset."""
        ds = self.ds
        rr, ss = r[:, None], s[None, :]
        if kind == "haplotypes":
            return ds.with_settings(return_sequences="haplotypes", return_tracks=None)[rr, ss]
        if kind == "reference":
            return ds.with_settings(return_sequences="reference", return_tracks=None)[rr, ss]
        if kind in ("n_variants", "haplotype_length"):
            shape = (len(r), len(s), ds.ploidy)
            out = _summaries.instances(ds, np.repeat(r, len(s)), np.tile(s, len(r)))
            return out[0 if kind == "n_variants" else 1].reshape(shape)
        name = kind.removeprefix("track:")
        if ds.settings.return_sequences == "haplotypes":
            return ds.with_settings(return_tracks=name)[rr, ss][1]
        return ds.with_settings(return_sequences=None, return_tracks=name)[rr, ss]


class InstanceArray(BackendArray):
    """One variable of the view: dims (region[, sample], ...), read in outer blocks.

    Indexed with xarray's explicit indexers (outer indexing) or with NumPy-style keys of ints
    and slices (as dask's getter does); a variable without a sample dim (`reference` at
    jitter 0) reads sample 0's identical windows.
    """

    def __init__(self, source: Source, kind: str, shape: tuple[int, ...], dtype: Any, has_sample: bool) -> None:
        self.source = source
        self.kind = kind
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.has_sample = has_sample

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, indexing.ExplicitIndexer):
            return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._outer)
        return self._outer(key if isinstance(key, tuple) else (key,))

    def _outer(self, key: tuple) -> np.ndarray:
        key = key + (slice(None),) * (len(self.shape) - len(key))
        axes = [_as_indices(k, n) for k, n in zip(key, self.shape, strict=True)]
        r = axes[0]
        s = axes[1] if self.has_sample else np.zeros(1, np.int64)
        rest = axes[2:] if self.has_sample else axes[1:]
        if len(r) == 0 or len(s) == 0 or (self.shape[1:] and 0 in self.shape[1:]):
            block = np.zeros((len(r), len(s), *self.shape[2 if self.has_sample else 1 :]), self.dtype)
        else:
            block = self.source.read(self.kind, r, s)
        if not self.has_sample:
            block = block[:, 0]
        lead = 2 if self.has_sample else 1
        for axis, idx in enumerate(rest, start=lead):
            if len(idx) != block.shape[axis] or np.any(idx != np.arange(block.shape[axis])):
                block = np.take(block, idx, axis=axis)
        drop = tuple(0 if isinstance(k, (int, np.integer)) else slice(None) for k in key)
        return np.ascontiguousarray(block[drop])


def _as_indices(key: Any, n: int) -> np.ndarray:
    if isinstance(key, (int, np.integer)):
        return np.array([key + n if key < 0 else key], np.int64)
    if isinstance(key, slice):
        return np.arange(n, dtype=np.int64)[key]
    arr = np.asarray(key, dtype=np.int64).ravel()
    return np.where(arr < 0, arr + n, arr)


class LabelIndex(PandasIndex):
    """The index of `region` and `sample`: a PandasIndex whose KeyError for unknown labels
    names them with their closest known labels (xarray's own names only the index)."""

    def sel(self, labels: dict[Any, Any], method: Any = None, tolerance: Any = None) -> Any:
        try:
            return super().sel(labels, method=method, tolerance=tolerance)
        except KeyError:
            (value,) = labels.values()
            wanted = np.atleast_1d(np.asarray(getattr(value, "values", value), dtype=object)).ravel()
            known = [str(label) for label in self.index]
            known_set = set(known)
            missing = [str(v) for v in wanted if str(v) not in known_set]
            if not missing:
                raise
            hints = "; ".join(
                f"{m!r} (close matches: {difflib.get_close_matches(m, known, n=3, cutoff=0.6) or 'none'})"
                for m in missing[:5]
            )
            raise KeyError(f"{self.dim} label(s) not in this view: {hints}") from None


def _labelled(x: xr.Dataset) -> xr.Dataset:
    """`x` with LabelIndex on region and sample, without the ploid coordinate when no
    variable has that dim (a store without genotypes read in reference coordinates)."""
    if not any("ploid" in v.dims for v in x.data_vars.values()):
        x = x.drop_vars("ploid")
    return x.drop_indexes(["region", "sample"]).set_xindex("region", LabelIndex).set_xindex("sample", LabelIndex)


# ------------------------------------------------------------------------------ assembly
def variables(ds: Dataset) -> dict[str, tuple[tuple[str, ...], InstanceArray]]:
    """(dims, lazy array) of every variable the view of `ds` has."""
    ds = _with_view_settings(ds)
    src = Source(ds)
    st, d = ds.settings, ds._data
    nr, ns, p, length = ds.n_regions, ds.n_samples, ds.ploidy, ds.region_length
    out: dict[str, tuple[tuple[str, ...], InstanceArray]] = {}
    hap_dims = ("region", "sample", "ploid", "position")
    if st.return_sequences == "haplotypes":
        out["haplotypes"] = (hap_dims, InstanceArray(src, "haplotypes", (nr, ns, p, length), "S1", True))
    if d.ref is not None:
        if st.jitter == 0:
            ref = InstanceArray(src, "reference", (nr, length), "S1", False)
            out["reference"] = (("region", "position"), ref)
        else:
            ref = InstanceArray(src, "reference", (nr, ns, length), "S1", True)
            out["reference"] = (("region", "sample", "position"), ref)
    for name in st.return_tracks:
        if st.return_sequences == "haplotypes":
            out[name] = (hap_dims, InstanceArray(src, f"track:{name}", (nr, ns, p, length), np.float32, True))
        else:
            dims = ("region", "sample", "position")
            out[name] = (dims, InstanceArray(src, f"track:{name}", (nr, ns, length), np.float32, True))
    if d.has_genotypes:
        for kind, dtype in (("n_variants", np.int32), ("haplotype_length", np.int64)):
            out[kind] = (("region", "sample", "ploid"), InstanceArray(src, kind, (nr, ns, p), dtype, True))
    return out


def _with_view_settings(ds: Dataset) -> Dataset:
    from .dataset import Dataset

    return Dataset(ds._data, ds._regions, ds._samples, view_settings(ds.settings))


def coordinates(ds: Dataset) -> dict[str, Any]:
    """Labels of the view's dims: regions (chrom:start-end of the BED row, with chrom,
    start, end, strand, window_start/end and the BED name when known), samples, ploid,
    position (0-based offset in the window)."""
    bed = ds.get_bed()
    chrom = bed["chrom"].to_numpy().astype(str)
    start, end = bed["chromStart"].to_numpy(), bed["chromEnd"].to_numpy()
    labels = np.array([f"{c}:{a}-{b}" for c, a, b in zip(chrom, start, end, strict=True)], dtype=object)
    coords: dict[str, Any] = {
        "region": labels,
        "chrom": ("region", chrom),
        "start": ("region", start),
        "end": ("region", end),
        "strand": ("region", bed["strand"].to_numpy().astype(str)),
        "window_start": ("region", bed["window_start"].to_numpy()),
        "window_end": ("region", bed["window_end"].to_numpy()),
        "sample": np.asarray(ds.samples, dtype=object),
        "ploid": np.arange(ds.ploidy),
        "position": np.arange(ds.region_length),
    }
    names = bed_names(ds._data)
    if names is not None:
        coords["name"] = ("region", names[ds._regions])
    return coords


def bed_names(data: StoreData) -> np.ndarray | None:
    """The name column of the BED the store was written from, when that file is still
    there, has names and holds the store's regions in order; else None."""
    path = (data.attrs.get("inputs") or {}).get("bed")
    if not isinstance(path, str) or not os.path.isfile(path):
        return None
    try:
        bed = read_bed(path)
    except (OSError, ValueError):
        return None
    if "name" not in bed.columns or bed.height != len(data.r_start):
        return None
    same = np.array_equal(bed["chromStart"].to_numpy(), data.r_bed_start) and np.array_equal(
        bed["chromEnd"].to_numpy(), data.r_bed_end
    )
    return bed["name"].cast(str).to_numpy().astype(object) if same else None


def attributes(ds: Dataset) -> dict[str, Any]:
    st, d = view_settings(ds.settings), ds._data
    return {
        "store": d.name,
        "format_version": schema.FORMAT_VERSION,
        "length": ds.region_length,
        "ploidy": ds.ploidy,
        "jitter": int(st.jitter),
        "max_jitter": ds.max_jitter,
        "jitter_seed": int(st.seed),
        "rc_neg": int(st.rc_neg),
        "sequences": st.return_sequences or "none",
        "tracks": list(d.tracks),
    }


def default_chunks(ds: Dataset, chunks: dict[str, int] | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(region block sizes, sample block sizes): the sizes asked for in `chunks`
    ({"region": n, "sample": m}, either optional), else runs of the selection within the
    store's GRID_INNER chunks (8 regions × 32 samples), regions merged up to about
    TARGET_BLOCK_BYTES."""
    chunks = chunks or {}
    cr, cs = schema.GRID_INNER
    per_block = cr * cs * ds.ploidy * ds.region_length * 4
    regions = _fixed(ds.n_regions, chunks["region"]) if "region" in chunks else None
    samples = _fixed(ds.n_samples, chunks["sample"]) if "sample" in chunks else None
    return (
        regions or _aligned(ds._regions, cr * max(1, TARGET_BLOCK_BYTES // per_block), cr),
        samples or _aligned(ds._samples, cs, cs),
    )


def _fixed(n: int, size: int) -> tuple[int, ...]:
    size = max(1, int(size))
    return tuple(min(size, n - lo) for lo in range(0, n, size)) or (0,)


def _aligned(global_idx: np.ndarray, size: int, chunk: int) -> tuple[int, ...]:
    """Block sizes over a selection: a new block starts where the store chunk changes after
    `size` or more items (or after 2 × size items), so blocks of an ascending selection
    hold whole store chunks."""
    n = len(global_idx)
    if n == 0:
        return (0,)
    ids = global_idx // chunk
    sizes, lo = [], 0
    for i in range(1, n + 1):
        if i == n or (i - lo >= size and ids[i] != ids[i - 1]) or i - lo >= 2 * size:
            sizes.append(i - lo)
            lo = i
    return tuple(sizes)


def to_xarray(ds: Dataset, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """The dask-backed view of `ds` (see `Dataset.to_xarray`)."""
    import dask
    import dask.array as da
    from dask.base import tokenize

    from ._dask_slices import optimize

    if dask.config.get("array_optimize", None) is None:  # a user's own optimisation stays
        dask.config.set({"array_optimize": optimize})

    r_chunks, s_chunks = default_chunks(ds, chunks)
    d = ds._data
    token = tokenize(
        d.name, d.reference, ds._regions.tobytes(), ds._samples.tobytes(), repr(view_settings(ds.settings))
    )
    data_vars = {}
    for name, (dims, arr) in variables(ds).items():
        block = tuple(
            r_chunks if dim == "region" else s_chunks if dim == "sample" else (n,)
            for dim, n in zip(dims, arr.shape, strict=True)
        )
        lazy = da.from_array(
            arr,
            chunks=block,
            name=f"gvl_zarr-{name}-{token}",
            lock=False,
            asarray=False,
            meta=np.empty((0,) * len(dims), arr.dtype),
        )
        data_vars[name] = (dims, lazy)
    return _labelled(xr.Dataset(data_vars, coords=coordinates(ds), attrs=attributes(ds)))


def to_lazy_xarray(ds: Dataset, drop_variables: Any = None) -> xr.Dataset:
    """The view with xarray's lazy indexing instead of dask (the `gvl_zarr` engine): each
    read of a selection is one outer read of its instances."""
    drop = {drop_variables} if isinstance(drop_variables, str) else set(drop_variables or ())
    r_chunks, s_chunks = default_chunks(ds)
    data_vars = {}
    for name, (dims, arr) in variables(ds).items():
        if name in drop:
            continue
        var = xr.Variable(dims, indexing.LazilyIndexedArray(arr))
        preferred = {"region": r_chunks[0], "sample": s_chunks[0]}
        var.encoding["preferred_chunks"] = {dim: preferred.get(dim, n) for dim, n in zip(dims, arr.shape, strict=True)}
        data_vars[name] = var
    return _labelled(xr.Dataset(data_vars, coords=coordinates(ds), attrs=attributes(ds)))
