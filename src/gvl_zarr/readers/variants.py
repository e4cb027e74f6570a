"""Opening variant inputs: one file of any format, or several files split by contig."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import InputFileError
from .base import VariantBlock, VariantReader

VariantInput = str | os.PathLike | Sequence[str | os.PathLike]


def open_one(path: str | os.PathLike, samples: Sequence[str] | None, allow_unphased: bool) -> VariantReader:
    """A reader for one file chosen by its name: `.pgen`, a VCF Zarr store, else VCF/BCF."""
    from .vcz import VczReader, is_vcf_zarr

    p = os.fspath(path)
    if p.endswith(".pgen"):
        from .pgen import PgenReader

        return PgenReader(p, samples, allow_unphased=allow_unphased)
    if is_vcf_zarr(p):
        return VczReader(p, samples, allow_unphased=allow_unphased)
    from .vcf import VcfReader

    return VcfReader(p, samples, allow_unphased=allow_unphased)


def open_variants(
    variants: VariantInput, samples: Sequence[str] | None = None, *, allow_unphased: bool = False
) -> VariantReader:
    """One reader over `variants`: a path/URL, or a list of them holding different contigs."""
    if isinstance(variants, (str, os.PathLike)):
        return open_one(variants, samples, allow_unphased)
    paths = list(variants)
    if not paths:
        raise InputFileError("variants is an empty list; give at least one VCF, PGEN or VCF Zarr.")
    if len(paths) == 1:
        return open_one(paths[0], samples, allow_unphased)
    readers = [open_one(p, samples, allow_unphased) for p in paths]
    for i, r in enumerate(readers[1:], start=1):
        if r.samples != readers[0].samples and set(r.samples) == set(readers[0].samples):
            readers[i] = open_one(paths[i], readers[0].samples, allow_unphased)  # one sample order for all
    return MultiReader(readers)


def describe(variants: VariantInput | None) -> Any:
    """The `variants` input as the store's attributes record it."""
    if variants is None:
        return None
    if isinstance(variants, (str, os.PathLike)):
        return os.fspath(variants)
    return [os.fspath(v) for v in variants]


class MultiReader:
    """Several variant files, each holding its own contigs (a cohort shipped per chromosome).

    All files must have the same samples; a contig may have records in one file only.
    """

    def __init__(self, readers: list[VariantReader]) -> None:
        first = readers[0]
        for r in readers[1:]:
            if r.samples != first.samples:
                in_r, in_first = set(r.samples), set(first.samples)
                only_a = [s for s in first.samples if s not in in_r]
                only_b = [s for s in r.samples if s not in in_first]
                raise InputFileError(
                    f"variant files {first.path} and {r.path} have different samples "
                    f"(only in the first: {only_a[:5]}, only in the second: {only_b[:5]}). "
                    "Fix: give files of one cohort, or pass samples= with samples all files have."
                )
        self.readers = readers
        self.kind = "variant file"
        self.path = ", ".join(r.path for r in readers)
        self.samples = list(first.samples)
        self.ploidy = first.ploidy
        self._owner: dict[str, VariantReader] = {}
        seen: dict[str, tuple[str, VariantReader]] = {}  # contig without 'chr' → (name, reader)
        for r in readers:
            for c in r.data_contigs():
                key = c[3:] if c.startswith("chr") else c
                if key in seen:
                    other_name, other = seen[key]
                    raise InputFileError(
                        f"variant files {other.path} and {r.path} both hold records on contig {other_name}"
                        f"{'' if other_name == c else f' / {c}'}; each contig must be in one file. "
                        "Fix: give one file per contig (split with `bcftools view -r`), or merge them into "
                        "one file with `bcftools concat`."
                    )
                seen[key] = (c, r)
                self._owner[c] = r
        self.contigs = list(self._owner)
        self.contig_lengths = {}
        for r in readers:
            self.contig_lengths.update({c: n for c, n in r.contig_lengths.items() if c in self._owner})

    def header_fields(self) -> dict[tuple[str, str], tuple[str, str]]:
        """Fields every file declares alike (see `VcfReader.header_fields`)."""
        per_file = [r.header_fields() for r in self.readers]
        return {k: v for k, v in per_file[0].items() if all(other.get(k) == v for other in per_file[1:])}

    @property
    def fields(self) -> list:
        return self.readers[0].fields if hasattr(self.readers[0], "fields") else []

    @fields.setter
    def fields(self, specs: list) -> None:
        for r in self.readers:
            r.fields = specs

    def read(self, contig: str, start: int, end: int) -> VariantBlock:
        """Records of the file that holds `contig`."""
        return self._owner[contig].read(contig, start, end)

    def data_contigs(self) -> list[str]:
        """Contigs that hold at least one record, over all files."""
        return list(self.contigs)

    @property
    def n_symbolic_skipped(self) -> int:
        """Distinct symbolic ALT alleles met so far, over all files."""
        return sum(r.n_symbolic_skipped for r in self.readers)
