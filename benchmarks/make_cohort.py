"""Simulate a large phased cohort over a real window of the kit's GRCh37 chr22, for write benchmarks.

    python benchmarks/make_cohort.py [--samples 20000] [--seed 1] [--formats vcf,vcz,pgen]
    python benchmarks/cohort.py      # writes it with gvl_zarr (and GenVarLoader)

Genealogies and mutations come from msprime (``sim_ancestry`` + ``sim_mutations``, HKY)
with human-like parameters: a constant Ne of 10,000, recombination and mutation rates of
1e-8 per bp per generation, over ``--length`` bp (1 Mb) of the real reference starting at
``--start`` (22:17,000,000, a stretch of chr22 with no N: the kit's VCF spans only 450 kb).

Alleles are taken from the FASTA, not from the simulation: each site's REF is the reference
base there (upper case); its ALT is the simulated derived base shifted by the same cyclic
offset of ``ACGT`` that turns the simulated ancestral base into REF, so ALT ≠ REF and
transitions stay transitions (A↔G and C↔T differ by 2 in that order). Sites on N bases and
sites with more than one derived allele (recurrent mutations, ~0.1%) are dropped, so every
record is biallelic and positions are unique. ``--indels`` (default 3%) of the SNP sites
become indels of 1–20 bp (geometric lengths) whose REF/ALT still match the FASTA: a deletion
removes reference bases after the site's base when none of them is N or another site, an
insertion adds random bases after it; both are left-aligned and trimmed (the deleted or
inserted block's last base differs from the anchor base), as ``bcftools norm`` leaves them.

Outputs under ``benchmarks/work/cohort/<samples>s_seed<seed>/`` (``--out`` to change): the
genotypes in every format of ``--formats`` (bgzipped + tabix-indexed VCF, VCF Zarr in the
bio2zarr layout, PLINK 2 PGEN), ``regions.bed`` (consecutive 16,384 bp tiles over the window,
or ``--regions N`` evenly spaced windows) and ``cohort.json`` (parameters, counts, files).
Outputs depend only on the arguments: the same ``--seed`` gives the same files.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _cohort_formats import VCZ_VARIANTS_CHUNK, WRITERS, Sites

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work" / "cohort"
DEFAULT_REFERENCE = REPO.parent / "shared/data/real/grch37_chr22/ref/grch37.chr22_1-22000000.fa.bgz"
CONTIG = "22"
BASES = "ACGT"
MAX_INDEL = 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000, help="diploid samples (default 20,000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulation and the allele choices")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the kit's GRCh37 chr22 FASTA")
    parser.add_argument("--start", type=int, default=17_000_000, help="0-based window start on contig 22")
    parser.add_argument("--length", type=int, default=1_000_000, help="window length, bp (default 1 Mb)")
    parser.add_argument("--ne", type=float, default=10_000, help="effective population size")
    parser.add_argument("--mutation-rate", type=float, default=1e-8, help="per bp per generation")
    parser.add_argument("--recombination-rate", type=float, default=1e-8, help="per bp per generation")
    parser.add_argument("--kappa", type=float, default=4.0, help="HKY transition/transversion rate ratio")
    parser.add_argument("--indels", type=float, default=0.03, help="fraction of sites made indels")
    parser.add_argument("--formats", default="vcf,vcz,pgen", help=f"comma-separated subset of {','.join(WRITERS)}")
    parser.add_argument("--region-length", type=int, default=16_384, help="BED window length, bp")
    parser.add_argument("--regions", type=int, default=0, help="evenly spaced windows (default: tile the window)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    args = parser.parse_args(argv)
    unknown = set(args.formats.split(",")) - set(WRITERS)
    if unknown:
        parser.error(f"--formats: unknown {sorted(unknown)}; choose from {list(WRITERS)}")
    if args.samples < 1 or args.length < args.region_length:
        parser.error("--samples must be >= 1 and --length >= --region-length")
    return args


def simulate(args: argparse.Namespace):
    """The tree sequence with HKY mutations on a discrete genome (one site per position)."""
    import msprime

    ts = msprime.sim_ancestry(
        samples=args.samples,
        ploidy=2,
        population_size=args.ne,
        recombination_rate=args.recombination_rate,
        sequence_length=args.length,
        random_seed=args.seed,
    )
    return msprime.sim_mutations(
        ts, rate=args.mutation_rate, model=msprime.HKY(kappa=args.kappa), random_seed=args.seed, discrete_genome=True
    )


def read_window(reference: Path, start: int, length: int) -> tuple[str, int]:
    """The upper-case reference window and the contig's length."""
    import pyfaidx

    if not reference.exists():
        raise SystemExit(f"{reference} does not exist: pass --reference (the kit's grch37.chr22_1-22000000.fa.bgz).")
    with pyfaidx.Fasta(str(reference), as_raw=True, sequence_always_upper=True) as fa:
        if CONTIG not in fa:
            raise SystemExit(f"{reference} has no contig {CONTIG}: give the kit's GRCh37 chr22 FASTA.")
        if start < 0 or start + length > len(fa[CONTIG]):
            raise SystemExit(
                f"window {CONTIG}:{start}-{start + length} is outside the contig (length {len(fa[CONTIG]):,}): "
                "choose --start and --length inside it."
            )
        return fa[CONTIG][start : start + length], len(fa[CONTIG])


def choose_sites(
    ts, window: str, rng: np.random.Generator, indel_fraction: float
) -> tuple[np.ndarray, list, list, dict]:
    """Site ids to keep and their REF/ALT from the FASTA; counts of what was dropped/made."""
    ids, offsets, refs, alts = [], [], [], []
    dropped = {"n_base": 0, "multiallelic": 0}
    for site in ts.sites():
        states = {site.ancestral_state} | {m.derived_state for m in site.mutations}
        x = int(site.position)
        ref = window[x]
        if ref not in BASES:
            dropped["n_base"] += 1
            continue
        if len(states) != 2:
            dropped["multiallelic"] += 1
            continue
        derived = next(s for s in states if s != site.ancestral_state)
        shift = BASES.index(ref) - BASES.index(site.ancestral_state)
        ids.append(site.id)
        offsets.append(x)
        refs.append(ref)
        alts.append(BASES[(BASES.index(derived) + shift) % 4])
    counts = {"snp": len(ids), "insertion": 0, "deletion": 0, **{f"dropped_{k}": v for k, v in dropped.items()}}
    make_indel = rng.random(len(ids)) < indel_fraction
    sizes = np.minimum(rng.geometric(0.5, len(ids)), MAX_INDEL)
    insert = rng.random(len(ids)) < 0.5
    for i in np.flatnonzero(make_indel):
        x, size, anchor = offsets[i], int(sizes[i]), refs[i]
        if insert[i]:
            seq = "".join(BASES[b] for b in rng.integers(0, 4, size))
            if seq[-1] == anchor:  # left-aligned: the block's last base must differ from the anchor
                seq = seq[:-1] + BASES[(BASES.index(anchor) + 1 + int(rng.integers(0, 3))) % 4]
            alts[i], kind = anchor + seq, "insertion"
        else:
            span = window[x : x + size + 1]
            next_site = offsets[i + 1] if i + 1 < len(offsets) else len(window)
            if x + size >= next_site or len(span) <= size or set(span) - set(BASES) or span[-1] == anchor:
                continue  # overlaps a site, reaches N or the window end, or could shift left: stays a SNP
            refs[i], alts[i], kind = span, anchor, "deletion"
        counts[kind] += 1
        counts["snp"] -= 1
    return np.array(ids, np.int64), refs, alts, {**counts, "offsets": np.array(offsets, np.int64)}


def write_regions(path: Path, start: int, length: int, region_length: int, n: int) -> int:
    """Tiles of `region_length` over the window, or `n` evenly spaced windows; returns the count."""
    if n > 0:
        starts = np.linspace(start, start + length - region_length, n).round().astype(np.int64)
    else:
        starts = np.arange(start, start + length - region_length + 1, region_length, dtype=np.int64)
    path.write_text("".join(f"{CONTIG}\t{s}\t{s + region_length}\tw{i}\n" for i, s in enumerate(starts)))
    return len(starts)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    out = args.out or WORK / f"{args.samples}s_seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    window, contig_length = read_window(args.reference, args.start, args.length)
    ts = simulate(args)
    t_sim = time.perf_counter() - t0
    keep, refs, alts, counts = choose_sites(ts, window, np.random.default_rng([args.seed, 1]), args.indels)
    offsets = counts.pop("offsets")
    sites = Sites(CONTIG, contig_length, args.start + offsets + 1, refs, alts)
    samples = [f"S{i:06d}" for i in range(args.samples)]
    formats = args.formats.split(",")
    files = {"vcf": "cohort.vcf.gz", "vcz": "cohort.vcz", "pgen": "cohort.pgen"}
    writers = [WRITERS[f](out / files[f], sites, samples) for f in formats]
    # One pass over the variants, a chunk of VCZ_VARIANTS_CHUNK kept sites at a time:
    # memory stays ~ chunk × 2n bytes whatever the cohort size, and VCZ chunks are whole.
    chunk = np.empty((VCZ_VARIANTS_CHUNK, args.samples, 2), np.int8)
    wanted = np.zeros(ts.num_sites, bool)
    wanted[keep] = True
    filled = 0
    for var in ts.variants(copy=False):
        if not wanted[var.site.id]:
            continue
        chunk[filled] = var.genotypes.reshape(args.samples, 2)
        filled += 1
        if filled == len(chunk):
            for w in writers:
                w.write(chunk)
            filled = 0
    for w in writers:
        if filled:
            w.write(chunk[:filled])
        w.close()
    n_regions = write_regions(out / "regions.bed", args.start, args.length, args.region_length, args.regions)
    meta = {
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        "contig": CONTIG,
        "window": [args.start, args.start + args.length],
        "samples": args.samples,
        "variants": len(sites),
        "simulated_sites": int(ts.num_sites),
        "counts": counts,
        "regions": n_regions,
        "region_length": args.region_length,
        "reference": str(args.reference.resolve()),
        "files": {f: files[f] for f in formats},
        "bed": "regions.bed",
        "simulate_s": round(t_sim, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    (out / "cohort.json").write_text(json.dumps(meta, indent=1))
    print(
        f"{len(sites):,} variants ({counts['snp']:,} SNPs, {counts['insertion']} insertions, "
        f"{counts['deletion']} deletions) × {args.samples:,} samples, {n_regions} regions → {out} "
        f"in {meta['total_s']:.1f} s (simulation {t_sim:.1f} s)"
    )
    return out


if __name__ == "__main__":
    main()
