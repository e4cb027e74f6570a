"""BED regions as a polars table with columns chrom, chromStart, chromEnd, strand."""

from __future__ import annotations

import os
from typing import Any

import polars as pl

from .._tables import from_pandas
from ..errors import InputFileError, MissingFileError

BED_COLUMNS = ["chrom", "chromStart", "chromEnd", "name", "score", "strand"]


def read_bed(bed: str | os.PathLike | pl.DataFrame | Any) -> pl.DataFrame:
    """Read a BED path or table; strand defaults to '.'. Rows keep their order."""
    source = "BED table"
    if isinstance(bed, (str, os.PathLike)):
        source = os.fspath(bed)
        if not os.path.exists(source):
            raise MissingFileError(f"BED file {source} does not exist.")
        if os.path.isdir(source):
            raise InputFileError(f"BED path {source} is a directory; pass a BED file inside it.")
        df = _read_bed_file(source)
    elif isinstance(bed, pl.DataFrame):
        df = bed
    elif hasattr(bed, "to_dict") and hasattr(bed, "columns"):  # pandas
        df = from_pandas(bed, source)
    else:
        raise InputFileError(f"bed must be a path or a DataFrame, got {type(bed).__name__}.")
    missing = {"chrom", "chromStart", "chromEnd"} - set(df.columns)
    if missing:
        raise InputFileError(f"{source} lacks columns {sorted(missing)}; expected BED columns {BED_COLUMNS[:3]}.")
    if df.height == 0:
        raise InputFileError(f"{source} has no regions; pass at least one BED row.")
    if "strand" not in df.columns:
        df = df.with_columns(pl.lit(".").alias("strand"))
    df = df.with_columns(
        pl.col("chrom").cast(pl.Utf8),
        pl.col("chromStart").cast(pl.Int64),
        pl.col("chromEnd").cast(pl.Int64),
        pl.col("strand").cast(pl.Utf8).fill_null("."),
    )
    bad = df.with_row_index("row").filter((pl.col("chromEnd") <= pl.col("chromStart")) | (pl.col("chromStart") < 0))
    if bad.height:
        r = bad.row(0, named=True)
        raise InputFileError(
            f"{source}, row {r['row'] + 1}: region {r['chrom']}:{r['chromStart']}-{r['chromEnd']} "
            "has end <= start or a negative start; BED is 0-based half-open."
        )
    bad = df.with_row_index("row").filter(~pl.col("strand").is_in(["+", "-", "."]))
    if bad.height:
        r = bad.row(0, named=True)
        raise InputFileError(f"{source}, row {r['row'] + 1}: strand {r['strand']!r} is not +, - or '.'.")
    return df


def _read_bed_file(path: str) -> pl.DataFrame:
    """Columns are named by BED_COLUMNS, or by a `#chrom<TAB>…` header line when the file
    has one (then every column is kept, e.g. an exon BED's transcript and exon number)."""
    rows: list[list[str]] = []
    header: list[str] | None = None
    with open(path) as fh:
        for line in fh:
            if line.startswith("#chrom\t") and not rows:
                header = line[1:].rstrip("\n").split("\t")
                continue
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            rows.append(line.rstrip("\n").split("\t"))
    if not rows:
        raise InputFileError(f"BED file {path} has no regions.")
    width = min(len(r) for r in rows)
    if width < 3:
        raise InputFileError(f"BED file {path} needs at least 3 tab-separated columns.")
    names = header if header is not None and len(header) >= 3 else BED_COLUMNS
    width = min(width, len(names))
    data = {names[i]: [r[i] for r in rows] for i in range(width)}
    try:
        df = pl.DataFrame(data).with_columns(pl.col("chromStart").cast(pl.Int64), pl.col("chromEnd").cast(pl.Int64))
    except pl.exceptions.InvalidOperationError as exc:
        raise InputFileError(f"BED file {path}: start/end columns must be integers ({exc}).") from None
    return df
