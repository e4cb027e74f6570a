"""Do, in the background from `Dataset.open`, what a local store's first batch would do first.

A fresh process's first batch of a 1,000-region store with tracks spent ~20 ms mapping the
three track interval shards (reading and checking their 16 MB shard indexes) and ~2-14 ms a
kernel loading numba's cached machine code, five to eight kernels (first batch 80-120 ms
after `open`; 23 ms with both done beforehand). `start` runs both in a thread: the mapping
overlaps `open`'s own set-up, and the kernels load while the caller configures the dataset
or builds its DataLoader. It also reads the shard indexes of the chunked arrays a first
batch reads (~1.5 ms each otherwise) and imports numpy.ma, which numpy imports on the first
`np.unique`. A batch that comes first waits only for what it needs (the shard
lock, numba's compiler lock). Before a fork the thread is joined, so no child inherits a
held lock; at exit it is joined too (`_shutdown`).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from . import _shutdown
from ._kernels import load_cached

_loaded = [False]
_threads: list[threading.Thread] = []


def start(data: Any) -> None:
    """Map `data`'s local track shards and load the read kernels, in a background thread."""
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

    if not _loaded[0]:
        _loaded[0] = True
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
