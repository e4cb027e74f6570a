"""Command line: a thin mapping of arguments onto the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import GvlError, MissingFileError, SettingsError


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
    w.add_argument(
        "--storage-options",
        default=None,
        metavar="JSON",
        help='fsspec options of a remote PATH (s3://...), as JSON, e.g. \'{"anon": false, "client_kwargs": '
        '{"endpoint_url": "https://minio.example.org"}}\'',
    )
    w.add_argument(
        "--var-fields",
        default=None,
        metavar="NAMES",
        help="comma-separated INFO/FORMAT fields of the variant file to store with the variants, e.g. AF,dosage",
    )
    w.add_argument("--dosage-field", default="DS", help="FORMAT field that holds dosages (default DS)")
    w.add_argument(
        "--max-mem",
        default=None,
        help="memory the write may use beyond the interpreter, e.g. 512MiB or 2GB (default 2GiB)",
    )
    i = sub.add_parser("info", help="describe a dataset: regions, samples, tracks, sizes, provenance")
    i.add_argument("path")
    v = sub.add_parser("validate", help="check a dataset's structure, checksums and content against its sources")
    v.add_argument("path")
    v.add_argument("--reference", help="FASTA (default: the one recorded at write time)")
    v.add_argument("--variants", help="VCF/BCF (default: the one recorded at write time)")
    v.add_argument("--bigwig-table", action="append", default=[], metavar="[NAME=]CSV", help="BigWig table of a track")
    v.add_argument("--n", type=int, default=200, help="instances to re-derive from the sources (default 200)")
    v.add_argument("--seed", type=int, default=0, help="seed of the instance sample")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in ("write", "info", "validate") and not argv[0].startswith("-"):
        argv.insert(0, "write")  # GenVarLoader's form: `gvl-zarr OUT.gvl BED --variants ...`
    args = _parser().parse_args(argv)
    try:
        if args.command == "write":
            return _write(args)
        if args.command == "validate":
            return _validate(args)
        return _info(args)
    except GvlError as exc:
        print(f"gvl-zarr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gvl-zarr: interrupted.", file=sys.stderr)
        return 130


def _write(args: argparse.Namespace) -> int:
    from . import BigWigs, write

    tracks = []
    for spec in args.bigwig_table:
        name, _, table = spec.rpartition("=")
        tracks.append(BigWigs.from_table(name or "bigwig", table))
    samples = None
    if args.samples:
        if not os.path.isfile(args.samples):
            raise MissingFileError(f"--samples file {args.samples} does not exist (expected one sample name per line).")
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
        max_mem=args.max_mem,
        storage_options=_json_options(args.storage_options),
        var_fields=[f.strip() for f in args.var_fields.split(",") if f.strip()] if args.var_fields else None,
        dosage_field=args.dosage_field,
    )
    print(f"wrote {args.path}")
    return 0


def _json_options(text: str | None) -> dict | None:
    """--storage-options: a JSON object, or a clear error naming the value."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"--storage-options must be a JSON object, got {text!r} ({exc.msg}).") from None
    if not isinstance(value, dict):
        raise SettingsError(f"--storage-options must be a JSON object such as '{{\"anon\": true}}', got {text!r}.")
    return value


def _info(args: argparse.Namespace) -> int:
    from .info import info

    print(info(args.path))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .validate import parse_tables, validate

    report = validate(
        args.path,
        reference=args.reference,
        variants=args.variants,
        bigwig_tables=parse_tables(args.bigwig_table),
        n=args.n,
        seed=args.seed,
    )
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
