"""Command line: a thin mapping of arguments onto the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import GvlError, MissingFileError, SettingsError

_COMMANDS = ("write", "write-init", "write-partition", "write-finalise", "info", "validate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gvl-zarr", description="Write and inspect gvl_zarr datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write a dataset for the regions of a BED file")
    _input_args(w)
    w.add_argument(
        "--storage-options",
        default=None,
        metavar="JSON",
        help='fsspec options of a remote PATH (s3://...), as JSON, e.g. \'{"anon": false, "client_kwargs": '
        '{"endpoint_url": "https://minio.example.org"}}\'',
    )
    wi = sub.add_parser(
        "write-init",
        help="plan a write in partitions for array jobs; prints the number of partitions (docs/distributed.md)",
    )
    _input_args(wi)
    wp = sub.add_parser("write-partition", help="write partition K of a planned write (rerunnable)")
    wp.add_argument("path", help="output dataset folder given to write-init")
    wp.add_argument("k", type=int, help="partition number, 0 to N-1")
    wf = sub.add_parser("write-finalise", help="build and publish a planned write once every partition is written")
    wf.add_argument("path", help="output dataset folder given to write-init")
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


def _input_args(w: argparse.ArgumentParser) -> None:
    """Arguments shared by `write` and `write-init`."""
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
    w.add_argument(
        "--annot-bigwig",
        action="append",
        default=[],
        metavar="NAME=BIGWIG",
        help="sample-independent track stored once per region; repeat for several",
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
    w.add_argument(
        "--regions-per-partition", type=int, default=None, help="regions per partition (default: fit --max-mem)"
    )
    w.add_argument(
        "--samples-per-partition", type=int, default=None, help="samples per partition (default: fit --max-mem)"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in _COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "write")  # GenVarLoader's form: `gvl-zarr OUT.gvl BED --variants ...`
    args = _parser().parse_args(argv)
    try:
        if args.command == "write":
            return _write(args)
        if args.command.startswith("write-"):
            return _staged(args)
        if args.command == "validate":
            return _validate(args)
        return _info(args)
    except GvlError as exc:
        print(f"gvl-zarr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gvl-zarr: interrupted.", file=sys.stderr)
        return 130


def _staged(args: argparse.Namespace) -> int:
    from . import staged

    if args.command == "write-init":
        n = staged.write_init(args.path, args.bed, **_write_inputs(args))
        print(n)
        print(
            f"planned {n} partition(s) of {args.path}: run `gvl-zarr write-partition {args.path} K` for K = 0 .. {n - 1} "
            f"(e.g. an array job), then `gvl-zarr write-finalise {args.path}`.",
            file=sys.stderr,
        )
    elif args.command == "write-partition":
        staged.write_partition(args.path, args.k)
        print(f"wrote partition {args.k} of {args.path}")
    else:
        staged.write_finalise(args.path)
        print(f"wrote {args.path}")
    return 0


def _write(args: argparse.Namespace) -> int:
    from . import write

    write(
        args.path,
        args.bed,
        progress=not args.quiet,
        storage_options=_json_options(args.storage_options),
        **_write_inputs(args),
    )
    print(f"wrote {args.path}")
    return 0


def _write_inputs(args: argparse.Namespace) -> dict:
    """The keyword arguments of `write` (and `write_init`) given by `_input_args`."""
    from . import BigWigs

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
    annotations = {}
    for spec in args.annot_bigwig:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SettingsError(f"--annot-bigwig takes NAME=BIGWIG, got {spec!r}.")
        annotations[name] = path
    return dict(
        annot_bigwigs=annotations or None,
        variants=args.variants[0] if args.variants and len(args.variants) == 1 else args.variants,
        bigwigs=tracks or None,
        length=args.length,
        max_jitter=args.max_jitter,
        samples=samples,
        overwrite=args.overwrite,
        reference=args.reference,
        allow_unphased=args.allow_unphased,
        max_mem=args.max_mem,
        regions_per_partition=args.regions_per_partition,
        samples_per_partition=args.samples_per_partition,
        var_fields=[f.strip() for f in args.var_fields.split(",") if f.strip()] if args.var_fields else None,
        dosage_field=args.dosage_field,
    )


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
