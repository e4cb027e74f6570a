"""Fuse chained selections of a view variable into one read of its instances.

dask fuses `getter(x, block)[i]` into `getter(x, fused)` (`dask.array.optimization.
_optimize_slices`), so a selection reads only what it needs; but it fuses one step only:
the fused node leaves an `Alias` behind and the next getitem stops at it. On dask 2026.8,
`x.haplotypes.sel(sample="NA12878").isel(region=slice(2, 4))` read the whole 16-region
block (sample fused, regions not). `optimize` runs dask's array optimisation, then folds
each whole linear chain of getters that starts at a view array (`InstanceArray`) into one
getter with the composed index. Other graphs are left as dask made them.
"""

from __future__ import annotations

from typing import Any

from dask._task_spec import Alias, DataNode, Task, TaskRef, _execute_subgraph
from dask.array.optimization import GETTERS, fuse_slice
from dask.array.optimization import optimize as dask_optimize


def optimize(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """dask's array optimisation, then `fuse_view_chains`."""
    return fuse_view_chains(dask_optimize(dsk, keys, **kwargs))


def fuse_view_chains(dsk: dict) -> dict:
    """In every fused subgraph, replace each chain of getters over one view array by a
    single getter of the composed index, and drop the nodes no longer needed."""
    from .xarray_view import InstanceArray

    out = dict(dsk)
    for key, node in dsk.items():
        if not (isinstance(node, Task) and node.func is _execute_subgraph and isinstance(node.args[0], dict)):
            continue
        inner, outkey = dict(node.args[0]), node.args[1]
        changed = False
        for k in list(inner):
            chain = _chain(inner, k, dsk)
            if chain is None or len(chain[2]) < 2:
                continue
            base_key, first, indices = chain
            base = inner.get(base_key, dsk.get(base_key))
            if not isinstance(base.value, InstanceArray):
                continue
            try:
                index = indices[0]
                for outer in indices[1:]:
                    index = fuse_slice(index, outer)
            except NotImplementedError:
                continue
            inner[k] = Task(k, first.func, TaskRef(base_key), index, *first.args[2:])
            changed = True
        if changed:
            out[key] = Task(node.key, _execute_subgraph, _reachable(inner, outkey), outkey, *node.args[2:])
    return out


def _reachable(inner: dict, outkey: Any) -> dict:
    """The nodes of `inner` that `outkey` depends on (itself included)."""
    keep, stack = set(), [outkey]
    while stack:
        k = stack.pop()
        if k in keep or k not in inner:
            continue
        keep.add(k)
        stack.extend(inner[k].dependencies)
    return {k: v for k, v in inner.items() if k in keep}


def _chain(inner: dict, outkey: Any, outer: dict) -> tuple[Any, Task, list] | None:
    """(base array key, innermost getter, indices innermost first) of the getter chain
    ending at `outkey`, or None when the chain holds anything but getters and aliases. The
    base array is a data node of the subgraph or, when several blocks share it, of the
    outer graph (`outer`)."""
    indices: list = []
    key = outkey
    while True:
        node = inner.get(key)
        while isinstance(node, Alias):
            node = inner.get(node.target)
        if not (isinstance(node, Task) and node.func in GETTERS and len(node.args) >= 2):
            return None
        ref, index = node.args[0], node.args[1]
        if isinstance(index, DataNode):
            index = index.value
        if not isinstance(ref, TaskRef) or not isinstance(index, tuple):
            return None
        indices.insert(0, index)
        target = inner.get(ref.key, outer.get(ref.key))
        if isinstance(target, DataNode):
            return ref.key, node, indices
        if ref.key not in inner:
            return None
        key = ref.key
