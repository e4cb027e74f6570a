"""Tables given as pandas DataFrames, read without pyarrow."""

from __future__ import annotations

from typing import Any

import polars as pl

from .errors import InputFileError


def from_pandas(df: Any, what: str) -> pl.DataFrame:
    """A polars copy of a pandas DataFrame, column by column.

    `pl.from_pandas` needs pyarrow for object (string) columns such as BED `chrom`; going
    through Python lists needs nothing beyond polars and is fast enough for region and
    sample tables.
    """
    try:
        return pl.DataFrame({str(c): df[c].tolist() for c in df.columns})
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InputFileError(f"{what}: cannot convert the DataFrame ({exc}).") from None
