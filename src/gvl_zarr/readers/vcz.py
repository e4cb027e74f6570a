"""VCF Zarr (the bio2zarr / sgkit layout) read with zarr, from a local path or an fsspec URL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import zarr

from .._variant_fields import INT_MISSING, per_alt
from ..errors import InputFileError, MissingFileError
from ._records import to_block
from .base import RecordBatch, VariantBlock

_LAYOUT_ARRAYS = {
    "variant_contig", "variant_position", "variant_allele", "variant_id", "variant_id_mask", "variant_quality",
    "variant_filter", "variant_length", "call_genotype", "call_genotype_mask", "call_genotype_phased",
}  # fmt: skip
"""Arrays of the VCF Zarr layout itself, not INFO/FORMAT fields."""

REQUIRED = ("sample_id", "contig_id", "variant_contig", "variant_position", "variant_allele", "call_genotype")


def is_vcf_zarr(path: str) -> bool:
    """A path or URL that names a VCF Zarr store rather than a VCF/BCF/PGEN file."""
    stripped = path.rstrip("/")
    if stripped.endswith((".vcz", ".zarr", ".vcf.zarr")):
        return True
    if "://" in path:  # remote VCF/BCF/PGEN are not read; a URL names a Zarr store
        return not stripped.endswith((".vcf", ".vcf.gz", ".bcf", ".pgen"))
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zgroup", ".zattrs")
    )


class VczReader:
    """Reads genotypes of a VCF Zarr store (`call_genotype`, `variant_position`, …).

    Span queries use bio2zarr's `region_index` when the store has one, reading only the
    position chunks a span meets; otherwise every variant's contig, position and length
    are read once. A record's span is `variant_length`, which follows END as a tabix
    index does. Genotypes and alleles are read per queried span.
    """

    kind = "VCF Zarr"

    def __init__(
        self,
        path: str | os.PathLike,
        samples: Sequence[str] | None = None,
        *,
        allow_unphased: bool = False,
        storage_options: dict | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if "://" not in self.path and not os.path.exists(self.path):
            raise MissingFileError(f"VCF Zarr {self.path} does not exist.")
        try:
            self._root = zarr.open_group(self.path, mode="r", storage_options=storage_options)
        except (FileNotFoundError, ValueError, KeyError, OSError) as exc:
            raise InputFileError(
                f"VCF Zarr {self.path} is not a readable Zarr group ({type(exc).__name__}: {exc}). "
                "Fix: convert the VCF with `vcf2zarr convert in.vcf.gz out.vcz`."
            ) from exc
        absent = [a for a in REQUIRED if a not in self._root]
        if absent:
            raise InputFileError(
                f"VCF Zarr {self.path} lacks array(s) {absent}; a genotype store needs {list(REQUIRED)}. "
                "Fix: convert the VCF with `vcf2zarr convert in.vcf.gz out.vcz`."
            )
        file_samples = [str(s) for s in self._root["sample_id"][:]]
        index = {s: i for i, s in enumerate(file_samples)}
        chosen = list(file_samples) if samples is None else [str(s) for s in samples]
        missing = [s for s in chosen if s not in index]
        if missing:
            raise InputFileError(
                f"VCF Zarr {self.path} lacks samples {missing[:5]}{' …' if len(missing) > 5 else ''}; "
                "choose samples it has."
            )
        self.samples = chosen
        self._columns = np.array([index[s] for s in chosen], np.int64)
        self._gt = self._root["call_genotype"]
        if self._gt.ndim != 3 or self._gt.shape[2] != 2:
            raise InputFileError(
                f"VCF Zarr {self.path}: call_genotype has shape {self._gt.shape}; only diploid genotypes are supported."
            )
        self._phased = self._root.get("call_genotype_phased", None)
        self._alleles = self._root["variant_allele"]
        names = [str(c) for c in self._root["contig_id"][:]]
        self.contigs = names
        self.contig_lengths = (
            {c: int(n) for c, n in zip(names, self._root["contig_length"][:], strict=True)}
            if "contig_length" in self._root
            else {}
        )
        self._names = names
        self._region_index = self._load_region_index(names)
        self._rows = self._index_contigs(names) if self._region_index is None else {}
        self.ploidy = 2
        self.allow_unphased = allow_unphased
        self._symbolic: set[tuple[str, int, str]] = set()
        self.fields: list = []  # INFO/FORMAT fields to read (`_variant_fields.resolve`)

    def header_fields(self) -> dict[tuple[str, str], tuple[str, str]]:
        """{(INFO or FORMAT, ID): (Number, Type)} from the store's `variant_<ID>` and
        `call_<ID>` arrays: Number from their dimensions (alt_alleles: A, alleles: R,
        none: 1, another: "."), Type from their dtype."""
        out = {}
        for name in self._root.array_keys():
            source, prefix = ("INFO", "variant_") if name.startswith("variant_") else ("FORMAT", "call_")
            if not name.startswith(prefix) or name in _LAYOUT_ARRAYS:
                continue
            arr = self._root[name]
            dims = list(_dimension_names(arr))[1 + (source == "FORMAT") :]
            number = "1" if not dims else {"alt_alleles": "A", "alleles": "R"}.get(dims[0], ".")
            kind = arr.dtype.kind if isinstance(arr.dtype, np.dtype) else "U"
            out[(source, name[len(prefix) :])] = (
                number,
                {"f": "Float", "i": "Integer", "u": "Integer", "b": "Flag"}.get(kind, "String"),
            )
        return out

    def _field_values(self, f, sel: slice, keep: np.ndarray, n_alts: list[int]) -> np.ndarray:
        """(record[, sample], max ALTs) values of field `f` for rows `sel` kept by `keep`;
        VCF Zarr's missing and fill values (NaN; -1 and -2 for integers) become missing."""
        width = max(n_alts, default=0)
        prefix = "variant_" if f.source == "INFO" else "call_"
        raw = np.asarray(self._root[prefix + f.key][sel])[keep]
        if f.source == "FORMAT":
            raw = raw[:, self._columns]
        if raw.dtype.kind in "iu":
            raw = np.where(raw < 0, INT_MISSING, raw) if raw.dtype.kind == "i" else raw
        raw = raw.astype(f.dtype)
        lead = raw.shape[: 1 + (f.source == "FORMAT")]
        out = np.full((*lead, width), f.missing, f.dtype)
        for r, n_alt in enumerate(n_alts):
            per_alt(raw[r], f.number, n_alt, out[r])
        return out

    def _index_contigs(self, names: list[str]) -> dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Per contig with variants: first row, 0-based positions, record ends and their running max."""
        contig = np.asarray(self._root["variant_contig"][:], np.int64)
        pos = np.asarray(self._root["variant_position"][:], np.int64) - 1
        if "variant_length" in self._root:
            length = np.asarray(self._root["variant_length"][:], np.int64)
        else:
            length = np.array([len(str(a)) for a in self._alleles.get_orthogonal_selection((slice(None), 0))])
        bounds = np.append(np.flatnonzero(np.diff(contig, prepend=-1)), len(contig))
        rows: dict[str, tuple[int, np.ndarray, np.ndarray, np.ndarray]] = {}
        for lo, hi in itertools.pairwise(bounds):
            name = names[int(contig[lo])]
            p = pos[lo:hi]
            if name in rows or (np.diff(p) < 0).any():
                raise InputFileError(
                    f"VCF Zarr {self.path}: variants of contig {name} are not sorted by position in one "
                    f"block (row {int(lo) + 1}). Fix: convert a sorted, indexed VCF."
                )
            e = p + length[lo:hi]
            rows[name] = (int(lo), p, e, np.maximum.accumulate(e))
        return rows

    def _load_region_index(self, names: list[str]) -> dict[str, np.ndarray] | None:
        """bio2zarr's `region_index` per contig, or None when the store has none.

        Rows are (chunk, contig, first POS, last POS, max END, records) per variant chunk and
        contig (1-based, inclusive); with it a span query reads only the position chunks it
        meets instead of every variant's position.
        """
        if "region_index" not in self._root or "variant_length" not in self._root:
            return None
        index = np.asarray(self._root["region_index"][:], np.int64).reshape(-1, 6)
        by_contig: dict[str, np.ndarray] = {}
        bounds = np.append(np.flatnonzero(np.diff(index[:, 1], prepend=-1)), len(index))
        for lo, hi in itertools.pairwise(bounds):
            rows = index[lo:hi]
            name = names[int(rows[0, 1])]
            if name in by_contig or (rows[1:, 2] < rows[:-1, 3]).any():
                raise InputFileError(
                    f"VCF Zarr {self.path}: variants of contig {name} are not sorted by position in one "
                    f"block (variant chunk {int(rows[0, 0])}). Fix: convert a sorted, indexed VCF."
                )
            by_contig[name] = rows
        return by_contig

    def _span_rows(self, contig: str, start: int, end: int) -> np.ndarray:
        """Rows of the records whose span meets [start, end), as a tabix query returns them."""
        if self._region_index is None:
            if contig not in self._rows:
                return np.zeros(0, np.int64)
            lo, pos, ends, ends_max = self._rows[contig]
            i0 = int(np.searchsorted(ends_max, start, side="right"))
            i1 = max(i0, int(np.searchsorted(pos, end, side="left")))
            return lo + i0 + np.flatnonzero(ends[i0:i1] > start)
        rows = self._region_index.get(contig)
        if rows is None:
            return np.zeros(0, np.int64)
        hit = rows[(rows[:, 2] - 1 < end) & (rows[:, 4] > start)]
        if hit.size == 0:
            return np.zeros(0, np.int64)
        size = self._root["variant_position"].chunks[0]
        lo, hi = int(hit[:, 0].min()) * size, (int(hit[:, 0].max()) + 1) * size
        cid = self._names.index(contig)
        c = np.asarray(self._root["variant_contig"][lo:hi])
        p = np.asarray(self._root["variant_position"][lo:hi], np.int64) - 1
        e = p + np.asarray(self._root["variant_length"][lo:hi], np.int64)
        return lo + np.flatnonzero((c == cid) & (p < end) & (e > start))

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Records overlapping [start, end) on `contig` (0-based), multiallelics split."""
        n_samples = len(self.samples)
        rows = self._span_rows(contig, max(start, 0), max(end, 1))
        if rows.size:
            sel = slice(int(rows[0]), int(rows[-1]) + 1)
            keep = rows - rows[0]
            alleles = self._alleles[sel]
            gts = np.asarray(self._gt[sel])[:, self._columns]
            phased = None if self._phased is None else np.asarray(self._phased[sel])[:, self._columns]
            pos = np.asarray(self._root["variant_position"][sel], np.int64) - 1
        else:
            keep = np.zeros(0, np.int64)
            alleles = np.zeros((0, 1), str)
            gts = np.zeros((0, n_samples, 2), np.int8)
            phased = np.zeros((0, n_samples), bool)
            pos = np.zeros(0, np.int64)
        ref = [str(a[0]) for a in alleles]
        alts = [[str(a) for a in alleles[k][1:] if str(a) != ""] for k in keep]
        info, fmt = {}, {}
        for f in self.fields:
            values = self._field_values(f, sel, keep, [len(a) for a in alts]) if rows.size else None
            if values is None:
                shape = (0, 0) if f.source == "INFO" else (0, n_samples, 0)
                values = np.zeros(shape, f.dtype)
            (info if f.source == "INFO" else fmt)[f.name] = values
        batch = RecordBatch(
            contig=contig,
            pos=pos[keep],
            ref=[ref[k] for k in keep],
            alts=alts,
            genotypes=gts[keep],
            phased=np.zeros((len(keep), n_samples), bool) if phased is None else phased[keep],
            info=info,
            format=fmt,
        )
        return to_block(batch, self)

    def data_contigs(self) -> list[str]:
        """Contigs that hold at least one variant."""
        return list(self._rows if self._region_index is None else self._region_index)

    @property
    def n_symbolic_skipped(self) -> int:
        """Distinct symbolic ALT alleles met so far (each reads as reference)."""
        return len(self._symbolic)


def _dimension_names(arr: zarr.Array) -> tuple[str, ...]:
    """An array's dimension names: Zarr v3 metadata, or v2's `_ARRAY_DIMENSIONS` attribute."""
    names = getattr(arr.metadata, "dimension_names", None)
    return tuple(names) if names else tuple(arr.attrs.get("_ARRAY_DIMENSIONS", ()))
