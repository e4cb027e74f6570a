"""VCF Zarr (the bio2zarr / sgkit layout) read with zarr, from a local path or an fsspec URL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import zarr

from ..errors import InputFileError, MissingFileError
from ._records import to_block
from .base import RecordBatch, VariantBlock

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
        batch = RecordBatch(
            contig=contig,
            pos=pos[keep],
            ref=[ref[k] for k in keep],
            alts=[[str(a) for a in alleles[k][1:] if str(a) != ""] for k in keep],
            genotypes=gts[keep],
            phased=np.zeros((len(keep), n_samples), bool) if phased is None else phased[keep],
        )
        return to_block(batch, self)

    def data_contigs(self) -> list[str]:
        """Contigs that hold at least one variant."""
        return list(self._rows if self._region_index is None else self._region_index)

    @property
    def n_symbolic_skipped(self) -> int:
        """Distinct symbolic ALT alleles met so far (each reads as reference)."""
        return len(self._symbolic)
