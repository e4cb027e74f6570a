"""Writers of a simulated cohort's phased genotypes, one chunk of variants at a time.

Each writer takes the variant table and genotype chunks from ``make_cohort.py`` and writes
one input format gvl_zarr reads: a bgzipped, tabix-indexed VCF (the genotype columns are
formatted with numpy in bulk; a per-record writer such as tskit's ``write_vcf`` is the slow
part at 20,000 samples), a VCF Zarr store in the bio2zarr layout (what
``gvl_zarr.readers.vcz`` reads) or a PLINK 2 fileset through pgenlib's writer.

Genotype chunks are int8 arrays of shape (variants, samples, 2), allele 0 = REF, 1 = ALT,
all phased.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: VCF Zarr chunking: bio2zarr 0.2's defaults (``DEFAULT_VARIANT_CHUNK_SIZE``,
#: ``DEFAULT_SAMPLE_CHUNK_SIZE`` in ``bio2zarr/vcz.py``).
VCZ_VARIANTS_CHUNK = 1_000
VCZ_SAMPLES_CHUNK = 10_000


@dataclass(frozen=True)
class Sites:
    """The cohort's variant table (one contig, sorted, unique positions)."""

    contig: str
    contig_length: int
    pos: np.ndarray  # 1-based VCF POS, int64
    ref: list[str]
    alt: list[str]

    def __len__(self) -> int:
        return len(self.pos)

    def ids(self) -> list[str]:
        """`CHROM:POS:REF:ALT`, as the kit's normalized VCF names its records."""
        return [f"{self.contig}:{p}:{r}:{a}" for p, r, a in zip(self.pos.tolist(), self.ref, self.alt, strict=True)]


class VcfWriter:
    """A VCFv4.2 with GT only, written through a BGZF stream and indexed with tabix."""

    def __init__(self, path: Path, sites: Sites, samples: list[str]) -> None:
        from Bio import bgzf

        self.path = path
        self.sites = sites
        self._ids = sites.ids()
        self._next = 0
        self._out = bgzf.BgzfWriter(str(path), "wb")
        header = [
            "##fileformat=VCFv4.2",
            "##source=gvl_zarr benchmarks/make_cohort.py (msprime)",
            f"##contig=<ID={sites.contig},length={sites.contig_length}>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
        ]
        self._out.write(("\n".join(header) + "\n").encode())

    def write(self, gt: np.ndarray) -> None:
        """Append the next `len(gt)` records; each genotype column is `a|b`."""
        k, n, _ = gt.shape
        cells = np.empty((k, n, 4), np.uint8)
        cells[..., 0] = gt[..., 0] + ord("0")
        cells[..., 1] = ord("|")
        cells[..., 2] = gt[..., 1] + ord("0")
        cells[..., 3] = ord("\t")
        cells[:, -1, 3] = ord("\n")
        s = self.sites
        for i in range(k):
            j = self._next + i
            fixed = f"{s.contig}\t{s.pos[j]}\t{self._ids[j]}\t{s.ref[j]}\t{s.alt[j]}\t.\tPASS\t.\tGT\t"
            self._out.write(fixed.encode() + cells[i].tobytes())
        self._next += k

    def close(self) -> None:
        import pysam

        self._out.close()
        pysam.tabix_index(str(self.path), preset="vcf", force=True)


class VczWriter:
    """A VCF Zarr store (Zarr v3) with the arrays bio2zarr writes and gvl_zarr reads.

    Arrays: ``sample_id``, ``contig_id``, ``contig_length``, ``variant_contig``,
    ``variant_position``, ``variant_allele``, ``variant_id``, ``variant_length``,
    ``call_genotype``, ``call_genotype_phased``, ``call_genotype_mask`` and bio2zarr's
    ``region_index``, each with the dimension names bio2zarr gives it (Zarr v3, as
    ``vcf2zarr convert --zarr-format 3`` writes).
    """

    def __init__(self, path: Path, sites: Sites, samples: list[str]) -> None:
        import zarr
        from zarr.codecs import BloscCodec, BloscShuffle

        self.sites = sites
        self._next = 0
        m, n = len(sites), len(samples)
        root = zarr.open_group(str(path), mode="w", zarr_format=3)
        root.attrs.update({"vcf_zarr_version": "0.4", "source": "gvl_zarr benchmarks/make_cohort.py"})
        # bio2zarr compresses genotypes with Blosc zstd and bit-shuffle.
        blosc = BloscCodec(cname="zstd", clevel=7, shuffle=BloscShuffle.bitshuffle)
        vchunk, schunk = min(VCZ_VARIANTS_CHUNK, max(m, 1)), min(VCZ_SAMPLES_CHUNK, n)

        def put(name: str, data: np.ndarray, dims: list[str], chunks: tuple[int, ...] | None = None) -> None:
            root.create_array(name, data=data, chunks=chunks or data.shape, dimension_names=dims)

        put("sample_id", strings(samples), ["samples"], (schunk,))
        put("contig_id", strings([sites.contig]), ["contigs"])
        put("contig_length", np.array([sites.contig_length], np.int64), ["contigs"])
        put("variant_contig", np.zeros(m, np.int8), ["variants"], (vchunk,))
        put("variant_position", sites.pos.astype(np.int32), ["variants"], (vchunk,))
        lengths = np.array([len(r) for r in sites.ref], np.int32)
        put("variant_length", lengths, ["variants"], (vchunk,))
        put("variant_allele", strings([sites.ref, sites.alt]).T.copy(), ["variants", "alleles"], (vchunk, 2))
        put("variant_id", strings(sites.ids()), ["variants"], (vchunk,))
        put("region_index", region_index(sites.pos, lengths, vchunk), ["region_index_values", "region_index_fields"])
        calls, per_sample = ["variants", "samples", "ploidy"], ["variants", "samples"]

        def calls_array(name: str, shape: tuple[int, ...], dtype: type, fill: object, dims: list[str]) -> zarr.Array:
            chunks = (vchunk, schunk, 2)[: len(shape)]
            return root.create_array(
                name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill, compressors=blosc, dimension_names=dims
            )

        self._gt = calls_array("call_genotype", (m, n, 2), np.int8, -1, calls)
        self._phased = calls_array("call_genotype_phased", (m, n), bool, True, per_sample)
        self._mask = calls_array("call_genotype_mask", (m, n, 2), bool, False, calls)

    def write(self, gt: np.ndarray) -> None:
        """Store the next `len(gt)` variants (aligned to the variant chunks by the caller)."""
        sel = slice(self._next, self._next + len(gt))
        self._gt[sel] = gt
        self._phased[sel] = np.ones(gt.shape[:2], bool)
        self._mask[sel] = np.zeros(gt.shape, bool)
        self._next += len(gt)

    def close(self) -> None:
        """Nothing buffered: every chunk is written by `write`."""


def strings(values: list) -> np.ndarray:
    """Variable-length strings (Zarr's `string` data type), as bio2zarr stores text."""
    return np.array(values, dtype=np.dtypes.StringDType())


def region_index(pos: np.ndarray, lengths: np.ndarray, chunk: int) -> np.ndarray:
    """bio2zarr's `region_index` for one contig: per variant chunk (chunk, contig 0, first POS,
    last POS, max END, records), 1-based inclusive."""
    rows = []
    for c, lo in enumerate(range(0, len(pos), chunk)):
        p, e = pos[lo : lo + chunk], pos[lo : lo + chunk] + lengths[lo : lo + chunk] - 1
        rows.append((c, 0, int(p[0]), int(p[-1]), int(e.max()), len(p)))
    return np.array(rows, np.int32).reshape(-1, 6)


class PgenWriter:
    """A PLINK 2 fileset: `.pgen` through pgenlib, `.pvar` and `.psam` as text."""

    def __init__(self, prefix: Path, sites: Sites, samples: list[str]) -> None:
        import pgenlib

        self.sites = sites
        pvar = prefix.with_suffix(".pvar")
        with open(pvar, "w") as fh:
            fh.write(f"##contig=<ID={sites.contig},length={sites.contig_length}>\n")
            fh.write("#CHROM\tPOS\tID\tREF\tALT\n")
            for i, name in enumerate(sites.ids()):
                fh.write(f"{sites.contig}\t{sites.pos[i]}\t{name}\t{sites.ref[i]}\t{sites.alt[i]}\n")
        with open(prefix.with_suffix(".psam"), "w") as fh:
            fh.write("#IID\n" + "".join(f"{s}\n" for s in samples))
        self._out = pgenlib.PgenWriter(
            os.fsencode(prefix.with_suffix(".pgen")),
            len(samples),
            variant_ct=len(sites),
            nonref_flags=False,
            hardcall_phase_present=True,
        )

    def write(self, gt: np.ndarray) -> None:
        """Append phased hardcalls: per variant the 2n allele codes, haplotypes interleaved."""
        for row in gt:  # one variant at a time: a batch would be an int32 copy of the whole chunk
            self._out.append_alleles(row.reshape(-1).astype(np.int32), all_phased=True)

    def close(self) -> None:
        self._out.close()


WRITERS = {"vcf": VcfWriter, "vcz": VczWriter, "pgen": PgenWriter}
