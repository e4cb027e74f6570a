"""PyTorch integration; the only module that imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .annotated import AnnotatedHaps
from .errors import MissingDependencyError
from .ragged import Ragged
from .variants import RaggedVariants

if TYPE_CHECKING:
    from .dataset import Dataset

try:
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler
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
        return tuple(_to_torch(v) for v in (x.start, x.ilen, x.var_idxs, x.alt))
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
    as a (start, ilen, variant ids, ALT bases per variant) tuple)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices: Any) -> Any:
        return _to_torch(self.dataset[np.asarray(indices, np.int64)])


def make_dataloader(
    dataset: Dataset,
    *,
    batch_size: int = 1,
    shuffle: bool = False,
    sampler: Sampler | None = None,
    drop_last: bool = False,
    **kwargs: Any,
) -> DataLoader:
    """DataLoader calling the dataset once per batch: the sampler (default sequential or
    random) is wrapped in a `BatchSampler` unless it already yields batches."""
    if sampler is None:
        sampler = RandomSampler(range(len(dataset))) if shuffle else SequentialSampler(range(len(dataset)))
    elif shuffle:
        raise ValueError("pass either sampler or shuffle=True, not both.")
    if not isinstance(sampler, BatchSampler):
        sampler = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
    kwargs.setdefault("collate_fn", _identity)
    return DataLoader(TorchDataset(dataset), sampler=sampler, batch_size=None, **kwargs)


def _identity(batch: Any) -> Any:
    return batch
