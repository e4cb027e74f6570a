"""Expected outputs of GenVarLoader 0.43.1 on the kit data, for tests/test_gvl_parity.py.

Run with GenVarLoader's interpreter (it must be version 0.43.1):

    $GVL_PYTHON tests/data/gvl_expected/make_expected.py [OUT_DIR]

It copies the kit inputs into a temporary folder (GenVarLoader writes side files next to
its inputs), writes a GenVarLoader dataset of `regions.bed` (1 kb regions, three on the
'-' strand, with SNPs, insertions, deletions and a region starting in N bases) for six
samples with one BigWig track, and saves every output the parity tests compare as
compressed `.npz` files in OUT_DIR (default: this folder).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
VCF = "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz"
FASTA = "grch37.chr22_1-22000000.fa.bgz"
BIGWIGS = ["GM12878_STAT1.ENCODE_SYDH.grch37_22.bw", "NA24385_WGS_coverage_500bp.grch37_22.bw"]
SAMPLES = ["NA12878", "HG00096", "HG00097", "NA18486", "NA19238", "HG01595"]
MAX_JITTER = 8
VERSION = "0.43.1"


def packed(r) -> tuple[np.ndarray, np.ndarray]:
    """(flat data, offsets) of a GenVarLoader ragged output over all its rows."""
    r = r.to_packed() if hasattr(r, "to_packed") else r
    return np.asarray(r.data), np.asarray(r.offsets, np.int64)


def main(out_dir: Path) -> None:
    import genvarloader as gvl
    from genoray import VCF as GenorayVCF

    found = importlib.metadata.version("genvarloader")
    if found != VERSION:
        sys.exit(f"expected GenVarLoader {VERSION}, found {found}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in [VCF, VCF + ".tbi", FASTA, FASTA + ".fai", FASTA + ".gzi", *BIGWIGS]:
            shutil.copy(DATA / name, tmp / name)
        table = tmp / "bigwigs.csv"
        paths = [str(tmp / BIGWIGS[i % 2]) for i in range(len(SAMPLES))]
        pl.DataFrame({"sample": SAMPLES, "path": paths}).write_csv(table)
        store = tmp / "ds.gvl"
        gvl.write(
            store,
            gvl.read_bedlike(HERE / "regions.bed"),
            variants=GenorayVCF(str(tmp / VCF)),
            tracks=gvl.BigWigs.from_table("bw", table),
            max_jitter=MAX_JITTER,
            samples=SAMPLES,
            overwrite=True,
        )
        ds = gvl.Dataset.open(store, reference=tmp / FASTA)
        haps = ds.with_tracks(False)
        out: dict[str, np.ndarray] = {}
        # output lengths
        out["ragged_haps"], out["ragged_offsets"] = packed(haps.with_len("ragged")[:, :])
        out["variable_haps"] = np.asarray(haps.with_len("variable")[:, :])
        for length in (900, 1000, 1008):
            out[f"fixed{length}_haps"] = np.asarray(haps.with_len(length)[:, :])
        out["reference_1008"] = np.asarray(haps.with_seqs("reference").with_len(1008)[:, :])
        trk_only = ds.with_seqs(None).with_len("ragged")[:, :]
        out["ragged_tracks_reference"], out["ragged_tracks_reference_offsets"] = packed(trk_only)
        # tracks realigned under each insertion fill
        from genvarloader._dataset._insertion_fill import Constant, Interpolate, Repeat5p, Repeat5pNormalized

        fills = {
            "repeat5p": Repeat5p(),
            "repeat5p_norm": Repeat5pNormalized(),
            "constant_nan": Constant(),
            "constant_2": Constant(2.0),
            "interpolate": Interpolate(1),
        }
        for name, fill in fills.items():
            haps_tracks = ds.with_len("ragged").with_insertion_fill(fill)[:, :]
            data, offsets = packed(haps_tracks[1])
            out[f"tracks_{name}"] = data
            assert np.array_equal(offsets, out["ragged_offsets"]), name
        variable = ds.with_len("variable")[:, :]
        out["variable_tracks"] = np.asarray(variable[1])
        # (GenVarLoader 0.43.1 panics realigning tracks longer than the region: 1008 left out)
        for length in (900, 1000):
            out[f"fixed{length}_tracks"] = np.asarray(ds.with_len(length)[:, :][1])
        # annotated haplotypes, variants named by (position, ALT) since the variant
        # tables of the two libraries are numbered differently
        ann = haps.with_len("ragged").with_seqs("annotated")[:, :]
        a_haps, a_offsets = packed(ann.haps)
        var_idx, _ = packed(ann.var_idxs)
        out["annotated_haps"] = a_haps
        out["annotated_ref_coords"] = packed(ann.ref_coords)[0]
        assert np.array_equal(a_offsets, out["ragged_offsets"])
        variants = ds._seqs.variants
        alt_data, alt_offsets = packed(variants.alt)
        used = np.unique(var_idx[var_idx >= 0])
        out["annotated_var_pos"] = np.where(var_idx >= 0, np.asarray(variants.start)[np.maximum(var_idx, 0)], -1)
        alts = [alt_data[alt_offsets[v] : alt_offsets[v + 1]].tobytes() for v in used]
        lookup = {int(v): i for i, v in enumerate(used)}
        out["annotated_var_alt"] = np.array([lookup[int(v)] if v >= 0 else -1 for v in var_idx], np.int32)
        out["annotated_alts"] = np.array(alts, dtype="S")
        # per-haplotype variants: starts, ilens and every ALT's bases back to back
        var = haps.with_seqs("variants").with_len("ragged")[:, :]
        out["variants_start"], out["variants_offsets"] = packed(var.start)
        out["variants_ilen"] = packed(var.ilen)[0]
        out["variants_alt_chars"] = packed(var.alt.to_chars())[0]
        out["samples"] = np.array(ds.samples)  # GenVarLoader's order, not SAMPLES'
        out["meta_version"] = np.array(VERSION)
        out["meta_max_jitter"] = np.array(MAX_JITTER)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "expected.npz", **out)
    print(f"wrote {out_dir / 'expected.npz'} ({(out_dir / 'expected.npz').stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
