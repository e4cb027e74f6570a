"""PyTorch integration; the only module that imports torch."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ._store import over_network
from .annotated import AnnotatedHaps
from .errors import MissingDependencyError, SettingsError
from .ragged import Ragged
from .sampler import InstanceBatchSampler, NumberedBatch
from .variants import RaggedVariants

if TYPE_CHECKING:
    from .dataset import Dataset

try:
    import torch
    from torch.utils.data import BatchSampler, DataLoader, Sampler
    from torch.utils.data import Dataset as _TorchDatasetBase
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise MissingDependencyError(
        "PyTorch is not installed; install it with `pip install gvl-zarr[torch]` "
        "(or follow https://pytorch.org/get-started/locally/)."
    ) from exc


def to_nested_tensor(r: Ragged) -> torch.Tensor:
    """A `Ragged` as a jagged-layout torch nested tensor with one row per raveled leading
    index (shape (prod(r.shape), j)); bytes become uint8. Shares r's memory (no copy)."""
    data = r.data.view(np.uint8) if r.data.dtype.kind == "S" else r.data
    values = torch.from_numpy(np.ascontiguousarray(data))
    offsets = torch.from_numpy(np.ascontiguousarray(r.offsets, np.int64))
    return torch.nested.nested_tensor_from_jagged(values, offsets=offsets)


def _to_torch(x: Any) -> Any:
    if isinstance(x, Ragged):
        return to_nested_tensor(x)
    if isinstance(x, AnnotatedHaps):
        return tuple(_to_torch(v) for v in (x.haps, x.var_idxs, x.ref_coords))
    if isinstance(x, RaggedVariants):
        more = ([x.ref] if x.ref is not None else []) + list(x.extra.values())
        return tuple(_to_torch(v) for v in (x.start, x.ilen, x.var_idxs, x.alt, *more))
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "S":
            x = x.view(np.uint8)
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, tuple):
        return tuple(_to_torch(v) for v in x)
    return x


class TorchDataset(_TorchDatasetBase):
    """Map-style torch dataset whose `__getitem__` takes a list of raveled indices and
    returns the whole batch (haplotype bytes as uint8 tensors, `Ragged` outputs as nested
    tensors, annotated haplotypes as a (haplotypes, variant ids, coordinates) tuple, variants
    as a (start, ilen, variant ids, ALT bases per variant[, REF bases per variant], other
    var_fields in order) tuple).

    Given the `sampler` (an `InstanceBatchSampler(numbered=True)`), a `NumberedBatch` also
    starts fetching what comes `ahead` of it in this process (`Dataset.prefetch`)."""

    def __init__(self, dataset: Dataset, sampler: InstanceBatchSampler | None = None, ahead: int = 0) -> None:
        self.dataset = dataset
        self.sampler = sampler
        self.ahead = ahead
        self._submitted: dict[int, list] = {}  # per process: keys last passed to prefetch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices: Any) -> Any:
        if isinstance(indices, NumberedBatch):
            if self.sampler is not None and self.ahead > 0:
                info = torch.utils.data.get_worker_info()  # workers take batches in turn
                stride = info.num_workers if info is not None else 1
                ahead = self.sampler.upcoming(indices.epoch, indices.number, stride, self.ahead)
                keys = [k for k, _ in ahead]
                if keys != self._submitted.get(os.getpid()):  # a window's batches list the same
                    self._submitted[os.getpid()] = keys
                    self.dataset.prefetch([b for _, b in ahead], keys=keys)
            indices = indices.indices
        return _to_torch(self.dataset[np.asarray(indices, np.int64)])


def make_dataloader(
    dataset: Dataset,
    *,
    batch_size: int = 1,
    shuffle: bool | str = False,
    sampler: Sampler | None = None,
    drop_last: bool = False,
    distributed: bool = False,
    seed: int = 0,
    shuffle_window: int = 16,
    shuffle_block: tuple[int, int] | None = None,
    prefetch: bool | int = True,
    **kwargs: Any,
) -> DataLoader:
    """DataLoader calling the dataset once per batch.

    Without `sampler`, batches come from an `InstanceBatchSampler`: shuffle False (dataset
    order), True/"random" or "chunks" (chunk-aware block shuffle, `gvl_zarr.sampler`), seeded
    by `seed` (`shuffle_window` blocks of `shuffle_block` (regions, samples), default
    `sampler.default_block`, pooled per window) and a different order every epoch (call `loader.sampler.set_epoch(e)` to pin
    one). `distributed=True` shards batches across the ranks of the initialised
    `torch.distributed` process group without overlap. A `sampler` of single indices is
    wrapped in a `BatchSampler`; one that yields batches is used as it is.

    `prefetch` (remote stores, built-in sampler): fetch in the background what the next
    batches need while the current one is read: with shuffle="chunks" the window of blocks
    in use and the next `prefetch` windows (True: 1), otherwise the next `prefetch` batches
    of each process (True: 8). False or 0: off. See docs/cloud.md."""
    if sampler is None and shuffle in (True, "random") and _over_network(dataset):
        warnings.warn(
            f"shuffle={shuffle!r} on a store read over the network fetches each instance's chunks "
            "by requests of their own (~80 a batch of 32 over S3: ~1% of local throughput in "
            "benchmarks/remote.py); shuffle='chunks' draws blocks of instances that share their "
            "chunks and reads 60-100% of local. See docs/cloud.md, 'Chunk-aware shuffling'.",
            stacklevel=3,
        )
    ahead = 0
    if sampler is None and prefetch is not False and getattr(dataset, "remote", False):
        ahead = int(prefetch) if prefetch is not True else (1 if shuffle == "chunks" else 8)
    if sampler is None:
        rank, world = 0, 1
        if distributed:
            import torch.distributed as dist

            if not (dist.is_available() and dist.is_initialized()):
                raise SettingsError(
                    "to_dataloader(distributed=True) needs an initialised process group: call "
                    "torch.distributed.init_process_group(...) first (e.g. under torchrun)."
                )
            rank, world = dist.get_rank(), dist.get_world_size()
        sampler = InstanceBatchSampler(
            dataset,
            batch_size,
            shuffle=shuffle,
            seed=seed,
            window=shuffle_window,
            block=shuffle_block,
            drop_last=drop_last,
            rank=rank,
            world_size=world,
            numbered=ahead > 0,
        )
    elif shuffle or distributed:
        raise SettingsError("pass either sampler or shuffle/distributed, not both.")
    if not (isinstance(sampler, BatchSampler) or getattr(sampler, "yields_batches", False)):
        sampler = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
    kwargs.setdefault("collate_fn", _identity)
    if kwargs.get("num_workers", 0) > 0 and not getattr(dataset, "fork_safe", True):
        # obstore's runtime does not survive fork (see _store.for_this_process): workers
        # start fresh and reopen the store from the pickled dataset
        kwargs.setdefault("multiprocessing_context", "spawn")
    torch_dataset = TorchDataset(dataset, sampler if ahead > 0 else None, ahead)
    return DataLoader(torch_dataset, sampler=sampler, batch_size=None, **kwargs)


def _over_network(dataset: Any) -> bool:
    data = getattr(dataset, "_data", None)
    return data is not None and over_network(data.group.store)


def _identity(batch: Any) -> Any:
    return batch
