"""Command line: a thin mapping of arguments onto the Python API."""

from __future__ import annotations

import argparse
import sys

from .errors import GvlError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gvl-zarr", description="Write and inspect gvl_zarr datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write a dataset for the regions of a BED file")
    w.add_argument("path", help="output dataset folder (e.g. cool_dataset.gvl)")
    w.add_argument("bed", help="BED file of regions")
    w.add_argument(
        "--variants",
        action="append",
        help="phased genotypes: indexed VCF/BCF, PLINK 2 .pgen, or VCF Zarr (path or URL); "
        "repeat for files holding different contigs",
    )
    w.add_argument(
        "--bigwig-table",
        action="append",
        default=[],
        metavar="[NAME=]CSV",
        help="CSV with columns sample,path; repeat for several tracks (default name: bigwig)",
    )
    w.add_argument("--length", type=int, help="window length (default: the regions' common length)")
    w.add_argument("--max-jitter", type=int, default=0, help="largest jitter reads may use")
    w.add_argument("--samples", help="file with one sample name per line to keep")
    w.add_argument(
        "--reference",
        help="FASTA: REF alleles are checked against it and the regions' reference is stored, so reads need no FASTA",
    )
    w.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    w.add_argument("--allow-unphased", action="store_true", help="accept unphased heterozygous genotypes")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    i = sub.add_parser("info", help="describe a dataset")
    i.add_argument("path")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in ("write", "info") and not argv[0].startswith("-"):
        argv.insert(0, "write")  # GenVarLoader's form: `gvl-zarr OUT.gvl BED --variants ...`
    args = _parser().parse_args(argv)
    try:
        if args.command == "write":
            return _write(args)
        return _info(args)
    except GvlError as exc:
        print(f"gvl-zarr: error: {exc}", file=sys.stderr)
        return 2


def _write(args: argparse.Namespace) -> int:
    from . import BigWigs, write

    tracks = []
    for spec in args.bigwig_table:
        name, _, table = spec.rpartition("=")
        tracks.append(BigWigs.from_table(name or "bigwig", table))
    samples = None
    if args.samples:
        with open(args.samples) as fh:
            samples = [line.strip() for line in fh if line.strip()]
    write(
        args.path,
        args.bed,
        variants=args.variants[0] if args.variants and len(args.variants) == 1 else args.variants,
        bigwigs=tracks or None,
        length=args.length,
        max_jitter=args.max_jitter,
        samples=samples,
        overwrite=args.overwrite,
        reference=args.reference,
        allow_unphased=args.allow_unphased,
        progress=not args.quiet,
    )
    print(f"wrote {args.path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from . import Dataset

    ds = Dataset.open(args.path)
    print(ds)
    print(f"tracks: {ds.available_tracks}; max_jitter: {ds.max_jitter}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
