"""gvl_zarr: personal haplotypes and realigned tracks from Zarr stores, for training."""

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
    ReferenceMismatchError,
    RemoteAccessError,
    RemoteUnreachableError,
    SettingsError,
    UnphasedGenotypeError,
)
from .ragged import Ragged
from .readers.bigwig import BigWigs
from .write import write

__version__ = "0.1.0"

__all__ = [
    "BigWigs",
    "ContigMismatchError",
    "DamagedStoreError",
    "Dataset",
    "DatasetExistsError",
    "DatasetIndexError",
    "GvlError",
    "IncompleteDatasetError",
    "InputFileError",
    "MissingDependencyError",
    "MissingFileError",
    "Ragged",
    "ReferenceMismatchError",
    "RemoteAccessError",
    "RemoteUnreachableError",
    "SettingsError",
    "UnphasedGenotypeError",
    "__version__",
    "write",
]
