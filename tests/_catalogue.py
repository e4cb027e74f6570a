"""The catalogue of malformed inputs and misuses: the single list `docs/errors.md` mirrors.

Each case builds its real bad input under a temporary folder and returns the action that
must fail. `tests/test_catalogue.py` runs every case, asserts the error class and that the
message names the file or value (`names`, a regex), and that nothing already on disk
changed. `scripts/errors_catalogue.py` regenerates the table of `docs/errors.md` from this
list (with the message each case gives).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

import gvl_zarr as gvl
from _inputs import REGION, bgzip, edited_vcf, kit_lines, small_bed
from conftest import COVERAGE, DATA, FASTA, STAT1, TILES, VCF, bigwig_table

Action = Callable[[], Any]


@dataclass(frozen=True)
class Case:
    id: str
    section: str
    what: str
    error: type[Exception]
    names: str
    """Regex the message must contain: the file, record or value at fault."""
    setup: Callable[[Path, Path], Action]
    """(tmp folder, a good store) → the action that must raise."""


def _write(tmp: Path, **kw) -> Action:
    args = {"bed": small_bed(tmp), "variants": VCF, "length": 4096, "progress": False} | kw
    out = args.pop("out", tmp / "out.gvl")
    return lambda: gvl.write(out, **args)


def _table(tmp: Path, text: str, name: str = "bigwigs.csv") -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


def _copy_store(tmp: Path, store: Path) -> Path:
    copy = tmp / "copy.gvl"
    shutil.copytree(store, copy)
    return copy


def _edit_attrs(store: Path, **changes) -> None:
    meta = store / "zarr.json"
    doc = json.loads(meta.read_text())
    for k, v in changes.items():
        if v is None:
            doc["attributes"].pop(k, None)
        else:
            doc["attributes"][k] = v
    meta.write_text(json.dumps(doc))


def _flip_byte(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def _cli(argv: list[str]) -> Action:
    from gvl_zarr import cli

    return lambda: cli._write(cli._parser().parse_args(argv))


# ------------------------------------------------------------------- VCF cases
def _truncated(tmp: Path, _s: Path, cut: int | None = None) -> Action:
    data = Path(VCF).read_bytes()
    vcf = tmp / "cut.vcf.gz"
    vcf.write_bytes(data[:cut] if cut else data[: len(data) - 50_000])
    shutil.copy(VCF + ".tbi", str(vcf) + ".tbi")
    return _write(tmp, variants=str(vcf), bed=TILES if cut else small_bed(tmp))


def _shuffled(tmp: Path, _s: Path) -> Action:
    header, records = kit_lines()
    vcf = bgzip(tmp, "shuffled.vcf.gz", header + records[::-1], index=False)
    shutil.copy(VCF + ".tbi", vcf + ".tbi")
    return _write(tmp, variants=vcf)


def _plain_gzip(tmp: Path, _s: Path) -> Action:
    vcf = tmp / "plain.vcf.gz"
    with gzip.open(VCF, "rb") as src, gzip.open(vcf, "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(VCF + ".tbi", str(vcf) + ".tbi")
    return _write(tmp, variants=str(vcf))


def _not_a_vcf(tmp: Path, _s: Path) -> Action:
    vcf = tmp / "notes.vcf.gz"
    vcf.write_text("just some notes\n")
    shutil.copy(VCF + ".tbi", str(vcf) + ".tbi")
    return _write(tmp, variants=str(vcf))


def _unindexed(tmp: Path, _s: Path) -> Action:
    vcf = tmp / "noindex.vcf.gz"
    shutil.copy(VCF, vcf)
    return _write(tmp, variants=str(vcf))


def _without_gt(tmp: Path, _s: Path) -> Action:
    header, records = kit_lines()
    header = [h for h in header if not h.startswith("##FORMAT=<ID=GT")]
    header[-1] = "\t".join(header[-1].split("\t")[:8])
    sites = ["\t".join(r.split("\t")[:8]) for r in records[:2000]]
    return _write(tmp, variants=bgzip(tmp, "sites.vcf.gz", header + sites))


def _duplicate_samples(tmp: Path, _s: Path) -> Action:
    header, records = kit_lines()
    cols = header[-1].split("\t")
    cols[10] = cols[9]
    return _write(tmp, variants=bgzip(tmp, "dups.vcf.gz", [*header[:-1], "\t".join(cols), *records[:500]], index=True))


def _record_edit(name: str, edit) -> Callable[[Path, Path], Action]:
    def setup(tmp: Path, _s: Path) -> Action:
        vcf, _ = edited_vcf(tmp, name, edit)
        return _write(tmp, variants=vcf, reference=FASTA)

    return setup


def _haploid(fields, samples):
    fields[9 + samples.index("HG00096")] = "1"


def _alt(allele: str):
    def edit(fields, samples):
        fields[4] = allele

    return edit


def _unphase(fields, samples):
    gts = fields[9:]
    het = next((i for i, g in enumerate(gts) if g in ("0|1", "1|0")), None)
    if het is None:
        return False
    fields[9 + het] = "0/1"
    return None


def _ref_mismatch(fields, samples):
    if len(fields[3]) != 1 or len(fields[4]) != 1:
        return False
    other = next(b for b in "ACGT" if b not in (fields[3], fields[4]))
    fields[3] = other
    return None


# ------------------------------------------------------------------ BED cases
def _bed_rows(*rows: str) -> Callable[[Path, Path], Action]:
    return lambda tmp, _s: _write(tmp, bed=small_bed(tmp, rows, name="bad.bed"), length=1000)


def _bed_directory(tmp: Path, _s: Path) -> Action:
    (tmp / "regions").mkdir()
    return _write(tmp, bed=str(tmp / "regions"))


# --------------------------------------------------------------- BigWig cases
def _bigwigs(tmp: Path, text: str, variants: Any = VCF, bed: str | None = None) -> Action:
    table, bed = _table(tmp, text), bed or small_bed(tmp)
    return lambda: gvl.write(
        tmp / "out.gvl",
        bed,
        variants=variants,
        bigwigs=gvl.BigWigs.from_table("signal", table),
        length=4096,
        progress=False,
    )


def _not_bigwig(tmp: Path, _s: Path) -> Action:
    fake = tmp / "NA12878.bw"
    fake.write_text("not a bigwig")
    return _bigwigs(tmp, f"sample,path\nNA12878,{fake}\n")


def _staged(tmp: Path, run: list[int]) -> Path:
    """A staged write of the 28 tiles (STAT1 only) in 4 partitions, `run` of them written."""
    from gvl_zarr import staged

    bed = tmp / "tiles.bed"
    shutil.copy(TILES, bed)
    out = tmp / "staged.gvl"
    staged.write_init(
        out, str(bed), bigwigs=gvl.BigWigs("signal", {"NA12878": STAT1}), length=4096, regions_per_partition=8
    )
    for k in run:
        staged.write_partition(out, k)
    return out


def _partition_missing(tmp: Path, _s: Path) -> Action:
    from gvl_zarr import staged

    out = _staged(tmp, [0, 1, 3])
    return lambda: staged.write_finalise(out)


def _planned_input_changed(tmp: Path, _s: Path) -> Action:
    from gvl_zarr import staged

    out = _staged(tmp, [])
    with open(tmp / "tiles.bed", "a") as fh:
        fh.write("22\t16100000\t16116384\n")
    return lambda: staged.write_partition(out, 0)


def _bigwig_contig(tmp: Path, _s: Path) -> Action:
    bed = small_bed(tmp, ["21\t9500000\t9504096"], name="chr21.bed")
    return _bigwigs(tmp, f"sample,path\nNA12878,{STAT1}\n", variants=None, bed=bed)


def _two_tracks_same_name(tmp: Path, _s: Path) -> Action:
    table = bigwig_table(tmp, ["NA12878"], [STAT1])
    tracks = [gvl.BigWigs.from_table("signal", table), gvl.BigWigs.from_table("signal", table)]
    return _write(tmp, bigwigs=tracks)


# ---------------------------------------------------------------- output cases
def _existing(tmp: Path, store: Path, overwrite: bool) -> Action:
    out = tmp / "project"
    shutil.copytree(store, out)
    return _write(tmp, out=out, overwrite=overwrite)


def _folder_of_files(tmp: Path, _s: Path) -> Action:
    out = tmp / "my_project"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    (out / "model.pt").write_bytes(b"\x00\x01")
    return _write(tmp, out=out, overwrite=True)


def _plain_file_out(tmp: Path, _s: Path) -> Action:
    out = tmp / "data.gvl"
    out.write_text("not a store")
    return _write(tmp, out=out, overwrite=True)


_FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    import gvl_zarr as gvl
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # every file the write makes stops at 4 KiB
    try:
        gvl.write(sys.argv[1], sys.argv[2], variants=sys.argv[3], length=4096, progress=False)
    except gvl.GvlError as exc:
        print(type(exc).__name__ + ":", exc)
    """
)


def _full_disk(tmp: Path, _s: Path) -> Action:
    bed = small_bed(tmp)

    def run() -> None:
        proc = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", _FULL_DISK, str(tmp / "full.gvl"), bed, VCF],
            capture_output=True,
            text=True,
            timeout=300,
        )
        name, _, message = proc.stdout.strip().partition(": ")
        if not hasattr(gvl, name):
            raise AssertionError(f"no gvl_zarr error from the child: {proc.stdout} {proc.stderr}")
        raise getattr(gvl, name)(message)

    return run


# ------------------------------------------------------------------ read cases
def _open(store: Path, **kw) -> Any:
    return gvl.Dataset.open(store, **kw)


def _tracks_only(tmp: Path, _s: Path) -> Action:
    table = bigwig_table(tmp, ["NA12878"], [STAT1])
    out = tmp / "tracks.gvl"
    gvl.write(out, small_bed(tmp), bigwigs=gvl.BigWigs.from_table("signal", table), length=4096, progress=False)
    return lambda: gvl.Dataset.open(out, reference=FASTA, return_sequences="haplotypes")


def _fasta_other_contig(tmp: Path, store: Path) -> Action:
    fa = tmp / "other.fa"
    fa.write_text(">chr1\n" + "ACGT" * 100 + "\n")
    Path(f"{fa}.fai").write_text("chr1\t400\t6\t400\t401\n")  # else pyfaidx builds it during the action
    return lambda: _open(store, reference=str(fa))


CASES: list[Case] = [
    # --- VCF
    Case("vcf_truncated", "VCF", "truncated `.vcf.gz` (first 64,770 bytes) with the original `.tbi`; hung in htslib before",
         gvl.InputFileError, r"cut\.vcf\.gz is truncated", lambda t, s: _truncated(t, s, cut=64770)),
    Case("vcf_truncated_after_regions", "VCF", "truncated `.vcf.gz` whose cut lies after the regions (wrote 0 variants before)",
         gvl.InputFileError, r"cut\.vcf\.gz is truncated", _truncated),
    Case("vcf_unsorted_stale_index", "VCF", "unsorted VCF with the `.tbi` of the sorted file (wrote 0 variants before)",
         gvl.InputFileError, r"index of VCF .*shuffled\.vcf\.gz does not match", _shuffled),
    Case("vcf_plain_gzip", "VCF", "plain-gzip (not bgzip) VCF with a `.tbi` (wrote 0 variants before)",
         gvl.InputFileError, r"plain\.vcf\.gz is plain gzip", _plain_gzip),
    Case("vcf_not_a_vcf", "VCF", "a text file named `.vcf.gz`", gvl.InputFileError, r"notes\.vcf\.gz is not bgzip-compressed", _not_a_vcf),
    Case("vcf_unindexed", "VCF", "bgzipped VCF without `.tbi`/`.csi`", gvl.MissingFileError, r"noindex\.vcf\.gz has no index", _unindexed),
    Case("vcf_missing", "VCF", "VCF path that does not exist", gvl.MissingFileError, r"nope\.vcf\.gz does not exist",
         lambda t, s: _write(t, variants=str(t / "nope.vcf.gz"))),
    Case("vcf_without_gt", "VCF", "sites-only VCF (no GT FORMAT field)", gvl.InputFileError, r"sites\.vcf\.gz has no GT", _without_gt),
    Case("vcf_duplicate_samples", "VCF", "VCF naming a sample twice in `#CHROM`", gvl.InputFileError, r"dups\.vcf\.gz.*'HG00096'.*more than once",
         _duplicate_samples),
    Case("vcf_haploid_call", "VCF", "haploid call (`GT=1`) in a diploid VCF", gvl.InputFileError, r"haploid\.vcf\.gz, record 22:\d+, sample HG00096: haploid",
         _record_edit("haploid.vcf.gz", _haploid)),
    Case("vcf_alt_iupac", "VCF", "ALT allele with an IUPAC code (`R`)", gvl.InputFileError, r"iupac\.vcf\.gz, record 22:\d+: allele 'R'",
         _record_edit("iupac.vcf.gz", _alt("R"))),
    Case("vcf_alt_x", "VCF", "ALT allele `X`", gvl.InputFileError, r"altx\.vcf\.gz, record 22:\d+: allele 'X'", _record_edit("altx.vcf.gz", _alt("X"))),
    Case("vcf_unphased_het", "VCF", "unphased heterozygous genotype (`0/1`)", gvl.UnphasedGenotypeError, r"unphased\.vcf\.gz, record 22:\d+, sample \w+",
         _record_edit("unphased.vcf.gz", _unphase)),
    Case("vcf_ref_mismatch", "VCF", "REF allele that disagrees with the FASTA", gvl.ReferenceMismatchError, r"22:\d+",
         _record_edit("refmismatch.vcf.gz", _ref_mismatch)),
    # --- BED
    Case("bed_missing", "BED", "BED path that does not exist", gvl.MissingFileError, r"none\.bed does not exist",
         lambda t, s: _write(t, bed=str(t / "none.bed"))),
    Case("bed_directory", "BED", "BED path that is a directory", gvl.InputFileError, r"regions is a directory", _bed_directory),
    Case("bed_empty_file", "BED", "BED file with no regions", gvl.InputFileError, r"bad\.bed has no regions", _bed_rows("# only a comment")),
    Case("bed_empty_table", "BED", "empty DataFrame as `bed`", gvl.InputFileError, r"BED table has no regions",
         lambda t, s: _write(t, bed=pl.DataFrame({"chrom": [], "chromStart": [], "chromEnd": []}))),
    Case("bed_start_ge_end", "BED", "region with start >= end", gvl.InputFileError, r"row 1: region 22:16100100-16100000",
         _bed_rows("22\t16100100\t16100000")),
    Case("bed_negative_start", "BED", "region with a negative start", gvl.InputFileError, r"row 1: region 22:-5-100", _bed_rows("22\t-5\t100")),
    Case("bed_not_integer", "BED", "start/end that are not integers", gvl.InputFileError, r"bad\.bed: start/end", _bed_rows("22\tabc\t100")),
    Case("bed_too_few_columns", "BED", "BED with fewer than 3 columns", gvl.InputFileError, r"bad\.bed needs at least 3", _bed_rows("22\t100")),
    Case("bed_bad_strand", "BED", "strand other than `+`, `-`, `.`", gvl.InputFileError, r"row 1: strand '\*'",
         _bed_rows("22\t16100000\t16101000\tx\t0\t*")),
    Case("bed_past_contig_end", "BED", "region past the contig end", gvl.InputFileError, r"row 1: region 22:51304000-51305000 ends past the end of contig 22",
         _bed_rows("22\t51304000\t51305000")),
    Case("bed_contig_unknown", "BED", "contig that no input has (names across inputs)", gvl.ContigMismatchError, r"'scaffold_9' is not in .*1kgp3",
         _bed_rows("scaffold_9\t100\t1100")),
    Case("bed_table_missing_columns", "BED", "pandas DataFrame without `chromEnd`", gvl.InputFileError, r"lacks columns \['chromEnd'\]",
         lambda t, s: _write(t, bed=pd.DataFrame({"chrom": ["22"], "chromStart": [16100000]}))),
    Case("bed_wrong_type", "BED", "`bed` of an unsupported type (an int)", gvl.InputFileError, r"got int", lambda t, s: _write(t, bed=42)),
    # --- BigWig
    Case("bigwig_table_missing", "BigWig", "BigWig table that does not exist", gvl.MissingFileError, r"table\.csv does not exist",
         lambda t, s: lambda: gvl.BigWigs.from_table("signal", t / "table.csv")),
    Case("bigwig_table_empty", "BigWig", "empty BigWig CSV", gvl.InputFileError, r"bigwigs\.csv cannot be read as CSV",
         lambda t, s: _bigwigs(t, "")),
    Case("bigwig_table_header_only", "BigWig", "BigWig CSV with a header and no rows", gvl.InputFileError, r"bigwigs\.csv has no rows",
         lambda t, s: _bigwigs(t, "sample,path\n")),
    Case("bigwig_table_ragged", "BigWig", "ragged BigWig CSV (a row with an extra field)", gvl.InputFileError, r"bigwigs\.csv cannot be read",
         lambda t, s: _bigwigs(t, f"sample,path\nNA12878,{STAT1},extra\n")),
    Case("bigwig_table_missing_columns", "BigWig", "BigWig CSV without a `path` column", gvl.InputFileError, r"bigwigs\.csv lacks columns \['path'\]",
         lambda t, s: _bigwigs(t, "sample,file\nNA12878,x.bw\n")),
    Case("bigwig_table_duplicate_samples", "BigWig", "a sample twice in the BigWig table", gvl.InputFileError, r"\['NA12878'\] more than once",
         lambda t, s: _bigwigs(t, f"sample,path\nNA12878,{STAT1}\nNA12878,{COVERAGE}\n")),
    Case("bigwig_file_missing", "BigWig", "BigWig file that does not exist", gvl.MissingFileError, r"NA12878.*gone\.bw",
         lambda t, s: _bigwigs(t, "sample,path\nNA12878,/nonexistent/gone.bw\n")),
    Case("bigwig_not_bigwig", "BigWig", "a text file as BigWig", gvl.InputFileError, r"NA12878\.bw is not a readable BigWig", _not_bigwig),
    Case("bigwig_without_contig", "BigWig", "BigWig lacking the BED contig", gvl.ContigMismatchError, r"'21' is not in .*GM12878_STAT1", _bigwig_contig),
    Case("bigwig_sample_not_in_vcf", "BigWig", "BigWig table naming a sample the VCF lacks", gvl.InputFileError, r"\['NOBODY'\] that VCF .*1kgp3",
         lambda t, s: _bigwigs(t, f"sample,path\nNA12878,{STAT1}\nNOBODY,{STAT1}\n")),
    Case("bigwig_track_name_slash", "BigWig", "track name containing `/`", gvl.InputFileError, r"'a/b'",
         lambda t, s: lambda: gvl.BigWigs("a/b", {"NA12878": STAT1})),
    Case("bigwig_duplicate_track_names", "BigWig", "two tracks with the same name", gvl.InputFileError, r"\['signal', 'signal'\]", _two_tracks_same_name),
    Case("bigwigs_is_str", "BigWig", "`bigwigs=\"table.csv\"` (a str, not `BigWigs`)", gvl.InputFileError, r"got str 'table\.csv'",
         lambda t, s: _write(t, bigwigs="table.csv")),
    # --- arguments
    Case("samples_empty", "arguments", "`samples=[]`", gvl.InputFileError, r"samples is empty", lambda t, s: _write(t, samples=[])),
    Case("samples_str", "arguments", "`samples=\"NA12878\"` (a str, not a list)", gvl.InputFileError, r"'NA12878'",
         lambda t, s: _write(t, samples="NA12878")),
    Case("samples_unknown", "arguments", "sample the inputs lack", gvl.InputFileError, r"\['NOBODY'\]", lambda t, s: _write(t, samples=["NOBODY"])),
    Case("samples_duplicate", "arguments", "a sample twice in `samples`", gvl.InputFileError, r"\['NA12878'\] more than once",
         lambda t, s: _write(t, samples=["NA12878", "NA12878"])),
    Case("length_str", "arguments", "`length=\"2048\"`", gvl.SettingsError, r"length must be an integer, got '2048'", lambda t, s: _write(t, length="2048")),
    Case("length_zero", "arguments", "`length=0`", gvl.SettingsError, r"length must be >= 1, got 0", lambda t, s: _write(t, length=0)),
    Case("max_jitter_negative", "arguments", "`max_jitter=-1`", gvl.SettingsError, r"max_jitter must be >= 0, got -1", lambda t, s: _write(t, max_jitter=-1)),
    Case("lengths_differ", "arguments", "regions of different lengths and no `length`", gvl.SettingsError, r"tiles_16384.*different lengths",
         lambda t, s: _write(t, bed=TILES, length=None)),
    Case("no_inputs", "arguments", "neither `variants` nor `bigwigs`", gvl.InputFileError, r"variants, bigwigs", lambda t, s: _write(t, variants=None)),
    # --- output
    Case("output_exists", "output", "existing dataset without `overwrite=True`", gvl.DatasetExistsError, r"project already exists",
         lambda t, s: _existing(t, s, overwrite=False)),
    Case("overwrite_non_dataset", "output", "`overwrite=True` onto a folder that is not a dataset (notes.txt, model.pt)",
         gvl.DatasetExistsError, r"my_project is a folder that is not a gvl_zarr dataset", _folder_of_files),
    Case("overwrite_plain_file", "output", "`overwrite=True` onto a plain file", gvl.DatasetExistsError, r"data\.gvl is a file", _plain_file_out),
    Case("output_read_only", "output", "read-only destination (`/sys`, read-only even for root)", gvl.OutputError, r"/sys/gvl_catalogue\.gvl",
         lambda t, s: _write(t, out="/sys/gvl_catalogue.gvl")),
    Case("output_disk_full", "output", "disk full during the write (RLIMIT_FSIZE of 4 KiB in a subprocess)", gvl.OutputError, r"full\.gvl \(File too large\)",
         _full_disk),
    # --- command line
    Case("cli_samples_file_missing", "CLI", "`--samples` file that does not exist", gvl.MissingFileError, r"--samples file .*nope\.txt",
         lambda t, s: _cli(["write", str(t / "o.gvl"), small_bed(t), "--variants", VCF, "--samples", str(t / "nope.txt")])),
    Case("cli_bigwig_table_ragged", "CLI", "`--bigwig-table` CSV with a ragged row", gvl.InputFileError, r"ragged\.csv cannot be read",
         lambda t, s: _cli(["write", str(t / "o.gvl"), small_bed(t), "--bigwig-table",
                            _table(t, f"sample,path\nNA12878,{STAT1},x\n", "ragged.csv")])),
    Case("staged_partition_missing", "CLI", "`write-finalise` before every partition is written", gvl.IncompleteDatasetError,
         r"missing 1 of its 4 partition\(s\): 2 .*gvl-zarr write-partition .*staged\.gvl K", _partition_missing),
    Case("staged_input_changed", "CLI", "`write-partition` after an input changed", gvl.InputFileError,
         r"tiles\.bed \(size .*changed|changed .*tiles\.bed \(size", _planned_input_changed),
    # --- reading a store
    Case("store_missing", "store", "store path that does not exist", gvl.MissingFileError, r"nothing\.gvl", lambda t, s: lambda: _open(t / "nothing.gvl")),
    Case("store_plain_file", "store", "a plain file as the store", gvl.MissingFileError, r"notes\.txt",
         lambda t, s: (t.joinpath("notes.txt").write_text("x"), lambda: _open(t / "notes.txt"))[1]),
    Case("store_incomplete", "store", "store without the completion marker (interrupted write)", gvl.IncompleteDatasetError, r"copy\.gvl.*interrupted",
         lambda t, s: (_edit_attrs(c := _copy_store(t, s), gvl_zarr_complete=None), lambda: _open(c))[1]),
    Case("store_newer_format", "store", "store with a newer `format_version`", gvl.IncompleteDatasetError, r"format_version 99",
         lambda t, s: (_edit_attrs(c := _copy_store(t, s), format_version=99), lambda: _open(c))[1]),
    Case("store_older_format", "store", "store of format_version 1", gvl.IncompleteDatasetError, r"format1_store\.zarr has format_version 1",
         lambda t, s: lambda: _open(DATA / "format1_store.zarr")),
    Case("store_corrupt_chunk", "store", "a flipped byte in a chunk", gvl.DamagedStoreError, r"genotypes/variant_index.*checksum",
         lambda t, s: (_flip_byte((c := _copy_store(t, s)) / "genotypes/variant_index/c/0"), lambda: _open(c, reference=FASTA)[:, :])[1]),
    Case("store_missing_shard", "store", "a shard file deleted", gvl.DamagedStoreError, r"tracks/bigwig/offsets",
         lambda t, s: ((c := _copy_store(t, s)).joinpath("tracks/bigwig/offsets/c/0/0/0").unlink(), lambda: _open(c)[0, 0])[1]),
    Case("open_reference_missing", "store", "`reference=` FASTA that does not exist", gvl.MissingFileError, r"nope\.fa",
         lambda t, s: lambda: _open(s, reference=str(t / "nope.fa"))),
    Case("open_reference_other_contigs", "store", "FASTA without the dataset's contig", gvl.ContigMismatchError, r"'22' is not in .*other\.fa",
         _fasta_other_contig),
    Case("haplotypes_without_genotypes", "store", "haplotypes asked of a store written without variants", gvl.SettingsError, r"tracks\.gvl was written without variants",
         _tracks_only),
    Case("jitter_negative", "store", "`jitter=-1`", gvl.SettingsError, r"got -1", lambda t, s: lambda: _open(s, reference=FASTA, jitter=-1)),
    Case("jitter_above_max", "store", "jitter > max_jitter", gvl.SettingsError, r"jitter=65 exceeds .*max_jitter=64",
         lambda t, s: lambda: _open(s, reference=FASTA, jitter=65)),
    Case("index_out_of_range", "store", "region index out of range", gvl.DatasetIndexError, r"28", lambda t, s: lambda: _open(s, reference=FASTA)[28, 0]),
    Case("index_float", "store", "a float index", gvl.DatasetIndexError, r"0\.5", lambda t, s: lambda: _open(s, reference=FASTA)[0.5, 0]),
    Case("unknown_sample", "store", "unknown sample name in `sel`", gvl.DatasetIndexError, r"\['NOBODY'\]",
         lambda t, s: lambda: _open(s, reference=FASTA).sel(samples=["NOBODY"])),
    Case("unknown_region", "store", "region given by a name", gvl.DatasetIndexError, r"'chr22:1-2'",
         lambda t, s: lambda: _open(s, reference=FASTA).isel(regions=["chr22:1-2"])),
    Case("unknown_track", "store", "unknown track name", gvl.SettingsError, r"\['nope'\].*available tracks",
         lambda t, s: lambda: _open(s, reference=FASTA, return_tracks=["nope"])),
    Case("return_sequences_invalid", "store", "`return_sequences=\"dna\"`", gvl.SettingsError, r"got 'dna'",
         lambda t, s: lambda: _open(s, reference=FASTA, return_sequences="dna")),
    Case("nothing_to_return", "store", "neither sequences nor tracks", gvl.SettingsError, r"nothing to return",
         lambda t, s: lambda: _open(s, reference=FASTA, return_sequences=False, return_tracks=False)),
]  # fmt: skip

assert len({c.id for c in CASES}) == len(CASES)
_ = REGION  # the window most cases write
