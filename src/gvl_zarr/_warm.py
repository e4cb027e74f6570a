"""Do, from `Dataset.open`, what a store's first batch would otherwise do first.

A fresh process's first batch of a 1,000-region store with tracks spent ~20 ms mapping the
three track interval shards (reading and checking their 16 MB shard indexes) and ~2-14 ms a
kernel loading numba's cached machine code, five to eight kernels, after numba's ~0.19 s
registry set-up.

- `kernels` runs the registry set-up and the kernel loads in a thread started first thing
  in `open`, which joins it before returning: LLVM's object loading runs without the GIL,
  so it overlaps `open`'s reads. Measured on the kit store (`benchmarks/first_batch.py STORE
  haps+tracks`, five alternating fresh processes): first batch straight after `open` 84-371 ms
  → 21-46 ms, `open` 0.26-0.33 → 0.28-0.46 s, the two together ~0.41 → ~0.36 s. (Loading
  them in the background after `open` instead left a batch straight after it waiting.)
- `start` (local stores) maps the track shards, reads the shard indexes of the chunked arrays
  a first batch reads (~1.5 ms each otherwise) and imports numpy.ma (numpy imports it on the
  first `np.unique`: 8-20 ms) in a thread that outlives `open`; a batch that comes first
  waits only for what it needs (the shard lock). Before a fork the thread is joined, so no
  child inherits a held lock; at exit both threads are joined too (`_shutdown`).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from . import _shutdown
from ._kernels import load_cached, prepare

_loaded = [False]
_threads: list[threading.Thread] = []


def start(data: Any) -> None:
    """Map `data`'s local track shards and read its shard indexes, in a background thread."""
    if data.remote:
        return
    ref = weakref.ref(data)
    thread = threading.Thread(target=_run, args=(ref,), daemon=True, name="gvl_zarr-warm")
    _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
    _shutdown.start(thread)


def _run(ref: weakref.ref) -> None:
    data = ref()
    if data is None:
        return
    try:
        for track in data.tracks.values():
            for mapped in track.intervals.mapped or ():
                mapped.ensure_mapped()
        for arr in _first_read(data):
            arr.read_indexes()
    except Exception:
        pass  # whatever failed here fails again, named, in the batch that needs it
    del data
    # numpy imports numpy.ma on the first np.unique (8-20 ms, inside a first batch otherwise)
    import numpy.ma  # noqa: F401


def kernels() -> threading.Thread | None:
    """Start numba's registry set-up and the read kernels' cached code loading in a thread
    (once per process); `open` joins it before returning. LLVM's object loading runs
    without the GIL, so it overlaps `open`'s own reads."""
    if _loaded[0]:
        return None
    _loaded[0] = True
    thread = threading.Thread(target=_load_kernels, daemon=True, name="gvl_zarr-kernels")
    _shutdown.start(thread)
    return thread


def _load_kernels() -> None:
    prepare()
    load_cached(_read_kernels())


def _first_read(data: Any) -> list[Any]:
    """The chunked arrays a first batch reads through their shard indexes."""
    arrays: list[Any] = []
    if data.has_genotypes:
        arrays += [data.call_offsets, data.calls, data.v_pos, data.v_ref_len, data.alt_offsets, data.alt]
    sequence = getattr(data.ref, "sequence", None)  # a StoreReference's (a FASTA has none)
    if sequence is not None:
        arrays.append(sequence)
    for track in data.tracks.values():
        arrays.append(track.offsets)
        if track.intervals.mapped is None:
            arrays.extend(track.intervals.arrays)
    return arrays


def _read_kernels() -> list[Any]:
    from ._kernels.crc32c import first_bad_chunk
    from ._kernels.gather import gather_chunked_many, plan_ranges, take_grid
    from ._kernels.haplotypes import reconstruct, reference_windows
    from ._kernels.jitter import hashed_shifts
    from ._kernels.tracks import tracks_reference

    return [
        take_grid, plan_ranges, gather_chunked_many, first_bad_chunk, tracks_reference, reconstruct,
        reference_windows, hashed_shifts,
    ]  # fmt: skip


def _join_before_fork() -> None:
    for thread in list(_threads):
        if thread.is_alive():
            thread.join()


os.register_at_fork(before=_join_before_fork)
