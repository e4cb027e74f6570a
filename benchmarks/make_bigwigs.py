"""Write one distinct BigWig per sample, derived from a real track with per-sample noise.

    python benchmarks/make_bigwigs.py [--track atac|stat1] [--seed 20240601] [--workers N]

``run.py`` calls this itself when its outputs are missing or were made with other
parameters, so it rarely needs to be run by hand.

Why: a loader that gets the same BigWig for every sample can store it once; users have one
file per sample (a coverage or ATAC track per individual). Each sample here gets its own
file with its own values, so every system has to read, store and serve 2,504 tracks.

How the files are derived (deterministic for a given seed):

- **Signal shape** comes from a real track. Default ``atac``: the DeepDETAILS GM12878 ATAC
  track (``grch38_chr22_tracks/bigwig/deepdetails_chr22/acc.GM12878.chr22.bw``). It is
  GRCh38, so it is used **for its signal shape only**: its intervals over
  chr22:37,100,000-37,650,000 (the densest 550 kb of the file: ~9,300 intervals covering
  ~59% of bases) are moved to 22:16,000,000-16,550,000 and the contig is renamed ``22``.
  Over the kit's own span the GRCh38 file is almost empty (40 intervals). ``stat1``: the
  kit's GRCh37 GM12878 STAT1 track over its own coordinates (932 intervals, ~16% of bases),
  a sparser alternative.
- **Span**: only 22:16,000,000-16,550,000 is written, the kit's VCF span
  (22:16,050,075-16,499,957) with a margin of ~50 kb, which holds every benchmark window
  (kit tiles and ``make_large.py`` windows, resized to 16,384 or 1,000 bp, plus jitter).
  Each file is a few tens of kB.
- **Noise**: sample *s* (VCF order) draws a factor ``f_s ~ LogNormal(0, 0.5)`` and, for each
  source interval *i*, ``e_si ~ LogNormal(0, 0.3)``; its value is ``v_i * f_s * e_si`` (float32).
  Interval boundaries are the source's. Random numbers come from
  ``numpy.random.default_rng([seed, s])``, so a file does not depend on the worker count.
- **Header**: one contig, ``22``, of length 22,000,000 (the kit FASTA's length).

Outputs, under ``benchmarks/work/bigwigs/<track>_seed<seed>/`` (git-ignored):
``<sample>.bw`` for each sample, ``bigwigs.csv`` (columns ``sample,path``, absolute paths,
written last) and ``manifest.json`` (the parameters, checked by ``ensure``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"
SHARED = BENCH.parents[1] / "shared/data/real"

CONTIG, CONTIG_LENGTH = "22", 22_000_000
#: Written span: the kit's VCF span (22:16,050,075-16,499,957) with a ~50 kb margin.
SPAN = (16_000_000, 16_550_000)
SAMPLE_SIGMA = 0.5
INTERVAL_SIGMA = 0.3
DEFAULT_SEED = 20240601
#: Bump when the derivation changes so that ``ensure`` regenerates old outputs.
VERSION = 1


@dataclass(frozen=True)
class Source:
    """A real track and the window of it that is moved onto ``SPAN``."""

    path: str
    contig: str
    start: int


SOURCES = {
    "atac": Source(
        str(SHARED / "grch38_chr22_tracks/bigwig/deepdetails_chr22/acc.GM12878.chr22.bw"), "chr22", 37_100_000
    ),
    "stat1": Source(str(SHARED / "grch37_chr22/bigwig/GM12878_STAT1.ENCODE_SYDH.grch37_22.bw"), "22", SPAN[0]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", choices=list(SOURCES), default="atac", help="source of the signal shape")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--force", action="store_true", help="rewrite even if up to date")
    args = parser.parse_args()
    from run import KIT_FILES, locate_kit, vcf_samples

    samples = vcf_samples(locate_kit() / KIT_FILES["vcf"])
    table = ensure(samples, args.track, args.seed, workers=args.workers, force=args.force)
    print(f"{len(samples)} BigWigs listed in {table}")


def out_dir(track: str, seed: int) -> Path:
    return WORK / "bigwigs" / f"{track}_seed{seed}"


def manifest(samples: list[str], track: str, seed: int) -> dict:
    return {
        "version": VERSION,
        "track": track,
        "source": asdict(SOURCES[track]),
        "seed": seed,
        "span": [CONTIG, *SPAN],
        "contig_length": CONTIG_LENGTH,
        "sample_sigma": SAMPLE_SIGMA,
        "interval_sigma": INTERVAL_SIGMA,
        "samples": samples,
    }


def ensure(
    samples: list[str],
    track: str = "atac",
    seed: int = DEFAULT_SEED,
    *,
    workers: int | None = None,
    force: bool = False,
) -> Path:
    """The sample→path table of the per-sample BigWigs, writing them first if they are missing
    or were made with other parameters."""
    root = out_dir(track, seed)
    table, manifest_file = root / "bigwigs.csv", root / "manifest.json"
    wanted = manifest(samples, track, seed)
    fresh = table.is_file() and manifest_file.is_file() and json.loads(manifest_file.read_text()) == wanted
    if fresh and not force:
        return table
    t0 = time.perf_counter()
    print(f"Writing {len(samples)} BigWigs ({track}) to {root} ...", flush=True)
    table.unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / f"{name}.bw" for name in samples]
    write_all(paths, source_intervals(SOURCES[track]), seed, workers or len(os.sched_getaffinity(0)))
    manifest_file.write_text(json.dumps(wanted))
    table.write_text("sample,path\n" + "".join(f"{n},{p}\n" for n, p in zip(samples, paths, strict=True)))
    size = sum(p.stat().st_size for p in paths)
    print(f"  {time.perf_counter() - t0:.1f} s, {size / 1e6:.1f} MB", flush=True)
    return table


def source_intervals(src: Source) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts, ends (int64, moved onto SPAN) and values (float32) of the source intervals that
    overlap the window, clipped to it."""
    import pyBigWig

    width = SPAN[1] - SPAN[0]
    bw = pyBigWig.open(src.path)
    try:
        rows = bw.intervals(src.contig, src.start, src.start + width) or ()
    finally:
        bw.close()
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    starts = np.maximum(arr[:, 0].astype(np.int64), src.start) - src.start + SPAN[0]
    ends = np.minimum(arr[:, 1].astype(np.int64), src.start + width) - src.start + SPAN[0]
    keep = ends > starts
    return starts[keep], ends[keep], arr[keep, 2].astype(np.float32)


_SHARED: dict = {}


def write_all(paths: list[Path], intervals: tuple, seed: int, workers: int) -> None:
    """Write every sample's file, in `workers` processes (fork shares the source intervals)."""
    _SHARED["intervals"], _SHARED["seed"] = intervals, seed
    jobs = [(i, str(p)) for i, p in enumerate(paths)]
    if workers <= 1:
        for job in jobs:
            _write_sample(job)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap_unordered(_write_sample, jobs, chunksize=32):
            pass


def sample_values(values: np.ndarray, seed: int, index: int) -> np.ndarray:
    """`values` scaled by sample `index`'s lognormal factor and per-interval lognormal noise."""
    rng = np.random.default_rng([seed, index])
    factor = rng.lognormal(0.0, SAMPLE_SIGMA)
    noise = rng.lognormal(0.0, INTERVAL_SIGMA, len(values))
    return (values * factor * noise).astype(np.float32)


def _write_sample(job: tuple[int, str]) -> None:
    import pyBigWig

    index, path = job
    starts, ends, values = _SHARED["intervals"]
    bw = pyBigWig.open(path, "w")
    bw.addHeader([(CONTIG, CONTIG_LENGTH)])
    bw.addEntries([CONTIG] * len(starts), starts, ends=ends, values=sample_values(values, _SHARED["seed"], index))
    bw.close()


if __name__ == "__main__":
    main()
