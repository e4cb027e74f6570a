"""One exception hierarchy for gvl_zarr.

Every error also subclasses the builtin a caller would naturally catch, and its
message names the file, the record or region, the bad value and the fix.
"""

from __future__ import annotations


class GvlError(Exception):
    """Base class of every error gvl_zarr raises on purpose."""


class InputFileError(GvlError, ValueError):
    """An input file (BED, VCF, BigWig, FASTA, table) is malformed or inconsistent."""


class MissingFileError(GvlError, FileNotFoundError):
    """A file or index the operation needs does not exist."""


class ContigMismatchError(InputFileError):
    """Contig names of two inputs cannot be matched, even after `chr` normalisation."""


class ReferenceMismatchError(InputFileError):
    """A VCF REF allele disagrees with the reference FASTA."""


class UnphasedGenotypeError(InputFileError):
    """A heterozygous genotype is unphased, so its haplotypes are undefined."""


class DatasetExistsError(GvlError, FileExistsError):
    """The output path already holds something and `overwrite=False`."""


class IncompleteDatasetError(GvlError, ValueError):
    """A store is not a finished gvl_zarr dataset (interrupted write or another format)."""


class SettingsError(GvlError, ValueError):
    """A dataset setting has an invalid value."""


class DatasetIndexError(GvlError, IndexError):
    """An index is out of range or of an unsupported form."""


class MissingDependencyError(GvlError, ImportError):
    """An optional dependency is not installed."""


class DamagedStoreError(GvlError, OSError):
    """A store's chunk is missing, truncated or fails its checksum."""


class OutputError(GvlError, OSError):
    """The output location cannot be written (read-only, full disk, file size limit)."""


class RemoteUnreachableError(GvlError, ConnectionError):
    """The server of a remote store cannot be reached."""


class RemoteAccessError(GvlError, PermissionError):
    """A remote store refused the credentials given (or none were found)."""
