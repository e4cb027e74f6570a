"""GenVarLoader 0.43.1's insertion fills on a track that varies base by base, for
tests/test_gvl_parity.py (`fills.npz`).

The kit's BigWigs are piecewise constant around its insertions, so every fill reads the same
there; this writes `wave.bw` (value 10 + 5 sin(pos / 7) + pos mod 13 at every base around
`regions.bed`, made by `wave_bigwig` below, which the tests call too) and saves GenVarLoader's
ragged realigned tracks under Interpolate(1, 2, 3) and FlankSample(0). Run with GenVarLoader's
interpreter:

    $GVL_PYTHON tests/data/gvl_expected/make_fills.py [OUT_DIR]
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
SAMPLES = ["NA12878", "HG00096", "HG00097", "NA18486", "NA19238", "HG01595"]
MAX_JITTER = 8
PAD = 200
CHROM_LENGTH = 51_304_566
VERSION = "0.43.1"


def wave_bigwig(path: Path) -> Path:
    """A BigWig with a value at every base of each `regions.bed` row ± PAD."""
    import pyBigWig

    spans = []
    for line in (HERE / "regions.bed").read_text().splitlines():
        chrom, start, end = line.split("\t")[:3]
        spans.append((chrom, int(start) - PAD, int(end) + PAD))
    merged: list[list] = []
    for chrom, a, b in sorted(spans):
        if merged and merged[-1][0] == chrom and a <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], b)
        else:
            merged.append([chrom, a, b])
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("22", CHROM_LENGTH)])
    for chrom, a, b in merged:
        pos = np.arange(a, b)
        values = 10 + 5 * np.sin(pos / 7.0) + (pos % 13)
        bw.addEntries(chrom, int(a), values=values.astype(np.float64).tolist(), span=1, step=1)
    bw.close()
    return path


def main(out_dir: Path) -> None:
    import genvarloader as gvl
    from genoray import VCF as GenorayVCF
    from genvarloader._dataset._insertion_fill import FlankSample, Interpolate

    found = importlib.metadata.version("genvarloader")
    if found != VERSION:
        sys.exit(f"expected GenVarLoader {VERSION}, found {found}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in [VCF, VCF + ".tbi", FASTA, FASTA + ".fai", FASTA + ".gzi"]:
            shutil.copy(DATA / name, tmp / name)
        wave = wave_bigwig(tmp / "wave.bw")
        table = tmp / "bigwigs.csv"
        pl.DataFrame({"sample": SAMPLES, "path": [str(wave)] * len(SAMPLES)}).write_csv(table)
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
        ds = gvl.Dataset.open(store, reference=tmp / FASTA).with_len("ragged")
        fills = {
            "interp1": Interpolate(1),
            "interp2": Interpolate(2),
            "interp3": Interpolate(3),
            "flank0": FlankSample(0),
        }
        out: dict[str, np.ndarray] = {"samples": np.array(ds.samples), "version": np.array(VERSION)}
        for name, fill in fills.items():
            tracks = ds.with_insertion_fill(fill)[:, :][1].to_packed()
            out[name], out[f"{name}_offsets"] = np.asarray(tracks.data), np.asarray(tracks.offsets, np.int64)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "fills.npz", **out)
    print(f"wrote {out_dir / 'fills.npz'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
