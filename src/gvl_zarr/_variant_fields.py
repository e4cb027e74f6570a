"""Variant fields: per-variant INFO values and per-call FORMAT values (e.g. dosages).

Write time: `resolve` matches the names asked for (`write(..., var_fields=[...])`) against
the variant file's header; readers fill `RecordBatch.info` / `.format` with one value per
ALT; `FieldWriter` stores INFO values parallel to the variant table
(`variants/info/<name>`) and FORMAT values parallel to `genotypes/variant_index`
(`genotypes/fields/<name>`), in the same call order as `_kernels.calls.sparse_calls`.

Names follow GenVarLoader 0.43.1: a FORMAT dosage is returned as "dosage" (its
`var_fields` name), every other field under its header ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import schema
from ._kernels.calls import fill_call_values
from .errors import InputFileError, SettingsError

BUILTIN = ("alt", "ilen", "start", "ref")
"""Fields every store with genotypes serves (GenVarLoader's default is alt, ilen, start)."""

DOSAGE = "dosage"
INT_MISSING = np.iinfo(np.int32).min
"""Missing Integer values (htslib's own missing value); missing Float values are NaN."""

_DTYPES = {"Float": "float32", "Integer": "int32"}
_NUMBERS = ("A", "R", "1")


@dataclass(frozen=True)
class FieldSpec:
    """One stored field: where it comes from and how it is stored."""

    name: str  # stored and returned name ("dosage" for the dosage field)
    source: str  # "INFO" or "FORMAT"
    key: str  # the ID in the file's header
    number: str  # "A", "R" or "1": how a record's values map onto its ALTs
    dtype: str  # "float32" or "int32"

    @property
    def spec(self) -> schema.ArraySpec:
        return schema.var_field_spec(self.name, self.source, self.key, self.dtype)

    @property
    def missing(self) -> Any:
        return np.float32(np.nan) if self.dtype == "float32" else np.int32(INT_MISSING)


def resolve(reader: Any, var_fields: Sequence[str] | None, dosage_field: str = "DS") -> list[FieldSpec]:
    """Match `var_fields` against `reader`'s header and hand the result to the reader.

    A name is an INFO or FORMAT ID ("AF", "DS"), optionally prefixed ("INFO/AF",
    "FORMAT/GQ"); "dosage" is the FORMAT field `dosage_field`. Raises `InputFileError`
    naming the file, the field and the fix when the file lacks it or it is not one numeric
    value per ALT."""
    if not var_fields:
        reader.fields = []
        return []
    if isinstance(var_fields, str):
        var_fields = [var_fields]
    header = reader.header_fields()  # {(source, ID): (Number, Type)}
    specs: list[FieldSpec] = []
    for asked in var_fields:
        name, source, key = _parse(asked, dosage_field)
        if name in BUILTIN:
            raise SettingsError(
                f"var_fields: {asked!r} is always stored (alt, ilen, start and ref are); "
                "list only INFO/FORMAT fields to store, e.g. var_fields=['AF', 'dosage']."
            )
        sources = [source] if source else ["INFO", "FORMAT"]
        found = [s for s in sources if (s, key) in header]
        if not found:
            raise InputFileError(
                f"{reader.kind} {reader.path} has no {'/'.join(sources)} field {key!r} (asked as {asked!r}). "
                f"Fix: choose one it declares ({_listing(header)}), or add it to the file first"
                + (" (dosages: pass dosage_field= naming the FORMAT field that holds them)." if name == DOSAGE else ".")
            )
        if len(found) > 1:
            raise InputFileError(
                f"{reader.kind} {reader.path} declares {key!r} as both an INFO and a FORMAT field; "
                f"ask for 'INFO/{key}' or 'FORMAT/{key}'."
            )
        if found[0] == "INFO" and name == DOSAGE and asked != DOSAGE:
            name = key  # an INFO field named like dosage_field keeps its own name
        number, kind = header[(found[0], key)]
        if kind not in _DTYPES or number not in _NUMBERS:
            raise InputFileError(
                f"{reader.kind} {reader.path}: {found[0]}/{key} is Number={number}, Type={kind}; only numeric "
                "(Integer, Float) fields with one value per ALT (Number=A, R or 1) can be stored with each "
                "variant. Fix: choose another field, or derive a per-ALT one (e.g. `bcftools +fill-tags`)."
            )
        if name in {s.name for s in specs}:
            raise SettingsError(f"var_fields names {name!r} twice; list each field once.")
        specs.append(FieldSpec(name, found[0], key, number, _DTYPES[kind]))
    reader.fields = specs
    return specs


def _parse(asked: str, dosage_field: str) -> tuple[str, str | None, str]:
    """(stored name, source or None, header ID) of one requested name."""
    if asked == DOSAGE:
        return DOSAGE, "FORMAT", dosage_field
    source, _, key = asked.partition("/")
    if key and source.upper() in ("INFO", "FORMAT", "FMT"):
        source = "FORMAT" if source.upper() in ("FORMAT", "FMT") else "INFO"
        name = DOSAGE if source == "FORMAT" and key == dosage_field else key
        return name, source, key
    return (DOSAGE if asked == dosage_field else asked), None, asked


def _listing(header: dict) -> str:
    names = [f"{s}/{k}" for (s, k), (n, t) in header.items() if t in _DTYPES and n in _NUMBERS and k != "GT"]
    return ", ".join(names[:12]) + (" …" if len(names) > 12 else "") if names else "none that is numeric per ALT"


def per_alt(values: Any, number: str, n_alt: int, out: np.ndarray) -> None:
    """Write one record's values of a field into `out` (ALT k at out[..., k - 1]).

    `values`: None (absent), a scalar, or an array whose last axis is the field's values
    (FORMAT: (sample, values)). Missing stays as `out` was filled."""
    if values is None:
        return
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr[None]
    first = 1 if number == "R" else 0
    if number == "1":
        out[..., :n_alt] = arr[..., :1]
        return
    n = min(n_alt, arr.shape[-1] - first)
    if n > 0:
        out[..., :n] = arr[..., first : first + n]


class FieldWriter:
    """Streams the requested fields beside the genotypes, through a write partition's sink
    (`_parts`): INFO values only when the partition writes the variant table (`table`)."""

    def __init__(self, sink: Any, specs: Sequence[FieldSpec], table: bool = True) -> None:
        self.sink = sink
        self.specs = list(specs)
        self._info = [s for s in self.specs if s.source == "INFO"] if table else []
        self._format = [s for s in self.specs if s.source == "FORMAT"]
        self._info_parts: dict[str, list[np.ndarray]] = {s.name: [] for s in self._info}
        self._calls = sink.rows(tuple(s.spec for s in self._format)) if self._format else None

    def add(self, block: Any, keep: np.ndarray, alt_map: np.ndarray, rec_lo, rec_hi, offsets, base: int) -> None:
        """The values of one region group: INFO of the stored variant rows `keep`, FORMAT
        of every call `sparse_calls` made (offsets from `base`)."""
        for s in self._info:
            self._info_parts[s.name].append(np.asarray(block.info[s.name], s.dtype)[keep])
        if self._calls is None:
            return
        local = offsets - base
        n_calls = int(local[..., 1].max(initial=0))
        parts = []
        for s in self._format:
            out = np.empty(n_calls, s.dtype)
            if n_calls:
                fill_call_values(block.genotypes, alt_map, rec_lo, rec_hi, local, block.format[s.name], out)
            parts.append(out)
        self._calls.append(*parts)

    def finish(self) -> None:
        """Write the INFO arrays and close the FORMAT ones (the store's `var_fields`
        attribute is set when the write is finalised)."""
        for s in self._info:
            parts = self._info_parts[s.name]
            self.sink.array(s.spec, np.concatenate(parts) if parts else np.zeros(0, s.dtype))
        if self._calls is not None:
            self._calls.close()


def stored(attrs: dict) -> dict[str, FieldSpec]:
    """The fields a store holds, from its root attributes (none in stores written without)."""
    return {name: FieldSpec(**spec) for name, spec in (attrs.get("var_fields") or {}).items()}


def check_requested(requested: Sequence[str], available: Sequence[str], store: str) -> tuple[str, ...]:
    """`requested` as a tuple, or a `SettingsError` naming what the store lacks."""
    if isinstance(requested, str):
        requested = [requested]
    names = tuple(requested)
    missing = [n for n in names if n not in available]
    if missing:
        raise SettingsError(
            f"var_fields {missing} are not in {store}; available: {list(available)}. Fix: re-write the dataset "
            f"with write(..., var_fields={missing}) (INFO/FORMAT fields of the variant file), or drop them."
        )
    return names
