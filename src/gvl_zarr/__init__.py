"""gvl_zarr: personal haplotypes and realigned tracks from Zarr stores, for training."""

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
    ReferenceMismatchError,
    SettingsError,
    UnphasedGenotypeError,
)
from .ragged import Ragged
from .readers.bigwig import BigWigs
from .ref_dataset import RefDataset
from .update import update
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
    "RefDataset",
    "ReferenceMismatchError",
    "SettingsError",
    "UnphasedGenotypeError",
    "__version__",
    "concat",
    "update",
    "write",
]
