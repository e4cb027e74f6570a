"""gvl_zarr: personal haplotypes and realigned tracks from Zarr stores, for training."""

from .annotated import AnnotatedHaps
from .concat import concat
from .dataset import Dataset
from .errors import (
    ContigMismatchError,
    DamagedStoreError,
    DatasetExistsError,
    DatasetIndexError,
    GvlError,
    IncompleteDatasetError,
    InputFileError,
    MissingDependencyError,
    MissingFileError,
    OutputError,
    ReferenceMismatchError,
    RemoteAccessError,
    RemoteUnreachableError,
    SettingsError,
    UnphasedGenotypeError,
)
from .fill import Constant, FlankSample, InsertionFill, Interpolate, Repeat5p, Repeat5pNormalized
from .ragged import Ragged
from .readers.bigwig import BigWigs
from .ref_dataset import RefDataset
from .update import update
from .variants import RaggedVariants
from .write import write

__version__ = "0.1.0"

__all__ = [
    "AnnotatedHaps",
    "BigWigs",
    "Constant",
    "ContigMismatchError",
    "DamagedStoreError",
    "Dataset",
    "DatasetExistsError",
    "DatasetIndexError",
    "FlankSample",
    "GvlError",
    "IncompleteDatasetError",
    "InputFileError",
    "InsertionFill",
    "Interpolate",
    "MissingDependencyError",
    "MissingFileError",
    "OutputError",
    "Ragged",
    "RaggedVariants",
    "RefDataset",
    "ReferenceMismatchError",
    "RemoteAccessError",
    "RemoteUnreachableError",
    "Repeat5p",
    "Repeat5pNormalized",
    "SettingsError",
    "UnphasedGenotypeError",
    "__version__",
    "concat",
    "to_nested_tensor",
    "update",
    "write",
]


def __getattr__(name: str):
    if name == "to_nested_tensor":  # imports torch only when asked for
        from .torch_loader import to_nested_tensor

        return to_nested_tensor
    raise AttributeError(f"module 'gvl_zarr' has no attribute {name!r}")
