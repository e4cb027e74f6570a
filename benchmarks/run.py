"""Benchmark gvl_zarr against GenVarLoader 0.43.1 and a naive baseline.

    python benchmarks/run.py [--quick] [--bed BED --label NAME] [--shapes 16384 1000]
                             [--shared-bigwig | --track atac|stat1] [--cache-bytes N]

All systems read the same real data (the GRCh37 chr22 kit, located by ``$GVL_KIT``, and one
distinct BigWig per sample written by ``make_bigwigs.py``) and the same random (region,
sample) batches. Each measurement runs in its own subprocess so that peak RSS, private
memory and start-up latency belong to one system and one output kind; GenVarLoader runs in
its own virtual environment, ``benchmarks/.venv-gvl``, created on first use. Results are
printed as markdown and written to ``benchmarks/results/<label>_<time>.json``.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import make_bigwigs
import numpy as np
import report
from _common import MODES

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
WORK = BENCH / "work"
RESULTS = BENCH / "results"
GVL_VENV = BENCH / ".venv-gvl"
GVL_PINS = ("genvarloader==0.43.1", "torch==2.13.0")
DEFAULT_KIT = REPO.parent / "shared/data/real/grch37_chr22"

#: Kit files, relative to the kit root. GenVarLoader refuses multiallelic and symbolic
#: records, so every system reads the normalized biallelic VCF and outputs stay comparable.
KIT_FILES = {
    "reference": "ref/grch37.chr22_1-22000000.fa.bgz",
    "vcf": "vcf/1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic.vcf.gz",
    "bigwig": "bigwig/GM12878_STAT1.ENCODE_SYDH.grch37_22.bw",
    "bed": "bed/tiles_16384.grch37.chr22_vcf_span.bed",
}
INDEX_SUFFIXES = {"reference": (".fai", ".gzi"), "vcf": (".tbi",)}

MAX_JITTER = 128
JITTERS = (0, MAX_JITTER)
SEED = 20240601
LOADER_MODE = "haps+tracks"
SYSTEMS = ("gvl_zarr", "genvarloader", "naive", "naive-preloaded")


@dataclass(frozen=True)
class Shape:
    """Output length (bp) and batch size of one benchmark shape."""

    length: int
    batch_size: int


SHAPES = {16384: Shape(16384, 32), 1000: Shape(1000, 128)}


@dataclass(frozen=True)
class Budget:
    """How long to measure. Throughput is the median of `repeats` repeats of `budget_s`
    each; the naive baseline instead times one batch per repeat."""

    budget_s: float
    repeats: int
    warmup_s: float
    naive_repeats: int
    loader_budget_s: float
    loader_repeats: int


FULL = Budget(budget_s=2.0, repeats=5, warmup_s=0.5, naive_repeats=5, loader_budget_s=2.0, loader_repeats=5)
QUICK = Budget(budget_s=0.25, repeats=5, warmup_s=0.1, naive_repeats=2, loader_budget_s=0.5, loader_repeats=3)


@dataclass(frozen=True)
class System:
    """One system under test: the worker script and the interpreter that runs it."""

    name: str
    worker: str
    python: str
    writes_dataset: bool
    preload: bool = False


def main() -> None:
    args = parse_args()
    kit = locate_kit()
    bed = Path(args.bed).resolve() if args.bed else kit / KIT_FILES["bed"]
    budget = QUICK if args.quick else FULL
    shapes = [SHAPES[length] for length in args.shapes]
    systems = make_systems(args.systems)
    names = vcf_samples(kit / KIT_FILES["vcf"])
    if args.cache_bytes is not None:
        os.environ["GVL_ZARR_CACHE_BYTES"] = str(args.cache_bytes)
    t0, load_start = time.perf_counter(), os.getloadavg()
    bigwigs = bigwig_table(args, kit, bed, names)
    bigwig_s = time.perf_counter() - t0
    results = {s.name: bench_system(s, kit, bed, shapes, budget, names, bigwigs) for s in systems}
    doc = {
        "meta": {
            **meta(args, bed, budget, shapes, time.perf_counter() - t0),
            "bigwigs": {
                "kind": "shared" if bigwigs is None else "distinct",
                "table": None if bigwigs is None else str(bigwigs),
                "track": KIT_FILES["bigwig"] if bigwigs is None else args.track,
                "prepare_s": bigwig_s,
            },
            "gvl_zarr_cache_bytes": os.environ.get("GVL_ZARR_CACHE_BYTES"),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "n_regions": len(read_regions(bed)),
            "n_samples": len(names),
        },
        "systems": results,
        "agreement": agreement([s.name for s in systems], shapes),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.label}_{time.strftime('%Y%m%d-%H%M%S')}{'_quick' * args.quick}.json"
    out.write_text(json.dumps(doc, indent=1))
    print(report.markdown(doc))
    scaling = report.scaling(RESULTS)
    if scaling:
        print(f"\n{scaling}")
    print(f"\nResults written to {out.relative_to(REPO)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short time budgets (~5 min)")
    parser.add_argument("--bed", help="regions to use instead of the kit's VCF tiles")
    parser.add_argument("--label", default="kit", help="name of this case in results files")
    parser.add_argument(
        "--systems",
        nargs="+",
        default=list(SYSTEMS),
        choices=list(SYSTEMS),
        help="systems to measure (GenVarLoader's venv is set up only when it is included)",
    )
    parser.add_argument(
        "--shared-bigwig",
        action="store_true",
        help="use the kit's STAT1 BigWig for every sample (the old setup; lets a loader store it once)",
    )
    parser.add_argument(
        "--track",
        choices=list(make_bigwigs.SOURCES),
        default="atac",
        help="signal the per-sample BigWigs are derived from (see make_bigwigs.py)",
    )
    parser.add_argument(
        "--cache-bytes",
        type=parse_bytes,
        help="gvl_zarr's decoded-chunk cache budget, passed as GVL_ZARR_CACHE_BYTES "
        "(bytes, or with a K/M/G suffix: 512M); default: unset, the library's default",
    )
    parser.add_argument(
        "--shapes",
        type=int,
        nargs="+",
        default=list(SHAPES),
        choices=list(SHAPES),
        help="output lengths to measure",
    )
    return parser.parse_args()


def parse_bytes(text: str) -> int:
    """Bytes from ``123``, ``512K``, ``256M`` or ``1G`` (binary multiples)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def locate_kit() -> Path:
    """The data kit from $GVL_KIT, or the default next to the repository; exit if missing."""
    kit = Path(os.environ.get("GVL_KIT", DEFAULT_KIT)).resolve()
    missing = [rel for rel in KIT_FILES.values() if not (kit / rel).is_file()]
    if missing:
        sys.exit(
            f"Data kit not found or incomplete at {kit} (missing: {', '.join(missing)}). "
            "Set GVL_KIT to the grch37_chr22 kit directory."
        )
    return kit


def ensure_gvl_venv() -> Path:
    """The GenVarLoader venv's interpreter, creating the venv and installing pins if needed."""
    python = GVL_VENV / "bin" / "python"
    if not python.exists():
        print(f"Creating {GVL_VENV.relative_to(REPO)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(GVL_VENV)], check=True)
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('genvarloader'))"]
    found = subprocess.run(check, capture_output=True, text=True).stdout.strip()
    if found != GVL_PINS[0].split("==")[1]:
        print(f"Installing {' '.join(GVL_PINS)} ...", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *GVL_PINS], check=True)
    return python


def make_systems(names: list[str]) -> list[System]:
    """The systems to measure, in report order; sets up GenVarLoader's venv if it is one."""
    gvl_python = str(ensure_gvl_venv()) if "genvarloader" in names else ""
    systems = [
        System("gvl_zarr", "_gvlz.py", sys.executable, writes_dataset=True),
        System("genvarloader", "_gvl_worker.py", gvl_python, writes_dataset=True),
        System("naive", "_naive.py", sys.executable, writes_dataset=False),
        System("naive-preloaded", "_naive.py", sys.executable, writes_dataset=False, preload=True),
    ]
    return [s for s in systems if s.name in names]


def vcf_samples(vcf: Path) -> list[str]:
    """Sample names from a (b)gzipped VCF header."""
    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("#CHROM"):
                return line.rstrip("\n").split("\t")[9:]
    raise ValueError(f"No #CHROM header line in {vcf}")


def bigwig_table(args: argparse.Namespace, kit: Path, bed: Path, names: list[str]) -> Path | None:
    """The sample→BigWig table of the per-sample BigWigs (written if missing), or None with
    ``--shared-bigwig``, where each case lists its copy of the kit's STAT1 file for every sample."""
    if args.shared_bigwig:
        return None
    table = make_bigwigs.ensure(names, args.track)
    lo, hi = make_bigwigs.SPAN
    reach = max(SHAPES) // 2 + MAX_JITTER
    outside = [
        (chrom, a, b)
        for chrom, a, b, _ in read_regions(bed)
        if chrom != make_bigwigs.CONTIG or (a + b) // 2 - reach < lo or (a + b) // 2 + reach > hi
    ]
    if outside:
        print(
            f"Warning: {len(outside)} regions reach outside the per-sample BigWigs' span "
            f"{make_bigwigs.CONTIG}:{lo:,}-{hi:,} and will read zeros there",
            file=sys.stderr,
        )
    return table


def bench_system(
    system: System,
    kit: Path,
    bed: Path,
    shapes: list[Shape],
    budget: Budget,
    names: list[str],
    bigwigs: Path | None,
) -> dict[str, Any]:
    """Every measurement of one system: writes, start-up, throughput (one process per shape
    and output kind), DataLoader."""
    print(f"[{system.name}]", file=sys.stderr)
    setups = {s.length: setup_case(system, kit, bed, s, names, bigwigs) for s in shapes}
    result: dict[str, Any] = {"write": {}, "read": {}}
    for length, case in setups.items():
        if system.writes_dataset or system.preload:
            result["write"][str(length)] = run_task(system, "write", f"L{length}", case)
            os.sync()  # reads should not compete with the write-back of what was just written
    failed = next((w for w in result["write"].values() if "error" in w), None)
    if failed:
        return {**result, "error": failed["error"]}
    first = setups[shapes[0].length]
    start = {**first, "mode": LOADER_MODE}
    shutil.rmtree(numba_cache(system), ignore_errors=True)
    result["start"] = {
        "cold": run_task(system, "start", "cold", start),
        "warm": run_task(system, "start", "warm", start),
    }
    for length, case in setups.items():
        read: dict[str, Any] = {"modes": {}, "processes": {}}
        for mode in MODES:
            task = {**case, **read_budget(system, budget), "modes": [mode], "jitters": list(JITTERS)}
            out = run_task(system, "read", f"L{length}_{mode}", task)
            read["modes"].update(out.pop("modes", {}))
            read["processes"][mode] = out
        result["read"][str(length)] = read
    result["loader"] = run_task(
        system,
        "loader",
        "loader",
        {
            **first,
            "mode": LOADER_MODE,
            "jitter": MAX_JITTER,
            "batch_size": shapes[0].batch_size,
            **loader_budget(system, budget),
        },
    )
    return result


def setup_case(system: System, kit: Path, bed: Path, shape: Shape, names: list[str], bigwigs: Path | None) -> dict:
    """Fresh copies of the reference and VCF (GenVarLoader writes index files next to them),
    the resized regions, the BigWig table and the batch stream spec, as task fields. The
    per-sample BigWigs are read where ``make_bigwigs.py`` wrote them (neither library writes
    next to BigWigs); with ``--shared-bigwig`` the kit's STAT1 file is copied like the rest."""
    root = WORK / "cases" / f"{system.name}_L{shape.length}"
    shutil.rmtree(root, ignore_errors=True)
    inputs = copy_inputs(kit, root / "inputs", shared_bigwig=bigwigs is None)
    regions = root / "inputs" / "regions.bed"
    n_regions = write_resized_bed(bed, regions, shape.length)
    table = root / "inputs" / "bigwigs.csv"
    if bigwigs is None:
        table.write_text("sample,path\n" + "".join(f"{n},{inputs['bigwig']}\n" for n in names))
    else:
        shutil.copy2(bigwigs, table)
    first_dir = root / "first"
    first_dir.mkdir()
    suffix = ".zarr" if system.name == "gvl_zarr" else ".gvl"
    return {
        "reference": str(inputs["reference"]),
        "vcf": str(inputs["vcf"]),
        "bed": str(regions),
        "bigwig_csv": str(table),
        "dataset": str(root / f"dataset{suffix}"),
        "length": shape.length,
        "max_jitter": MAX_JITTER,
        "batches": str(make_batches(shape, n_regions, names)),
        "first_dir": str(first_dir),
        "preload": system.preload,
        "seed": SEED,
    }


def copy_inputs(kit: Path, dest: Path, shared_bigwig: bool) -> dict[str, Path]:
    """Copy the reference and VCF (and the shared BigWig) with their indexes into `dest`."""
    dest.mkdir(parents=True)
    copies = {}
    for key in ("reference", "vcf", "bigwig")[: 3 if shared_bigwig else 2]:
        src = kit / KIT_FILES[key]
        for suffix in ("", *INDEX_SUFFIXES.get(key, ())):
            shutil.copy2(f"{src}{suffix}", dest / f"{src.name}{suffix}")
        copies[key] = dest / src.name
    return copies


def read_regions(bed: Path) -> list[tuple[str, int, int, str]]:
    """(chrom, start, end, name) of each BED row; unnamed rows are named by position."""
    rows = []
    for line in bed.read_text().splitlines():
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        chrom, start, end, *rest = line.split("\t")
        rows.append((chrom, int(start), int(end), rest[0] if rest else f"r{len(rows)}"))
    return rows


def write_resized_bed(src: Path, dest: Path, length: int) -> int:
    """Write `src` as windows of `length` centred on each region's midpoint
    (start = (chromStart + chromEnd) // 2 - length // 2); return the number of regions."""
    rows = read_regions(src)
    lines = []
    for chrom, a, b, name in rows:
        start = (a + b) // 2 - length // 2
        lines.append(f"{chrom}\t{start}\t{start + length}\t{name}\n")
    dest.write_text("".join(lines))
    return len(rows)


def make_batches(shape: Shape, n_regions: int, names: list[str]) -> Path:
    """The spec of the random (region, sample) batch streams of a shape (see
    ``_common.BatchStream``): every system draws the same batches from it."""
    path = WORK / "batches" / f"L{shape.length}.json"
    spec = {
        "seed": SEED,
        "length": shape.length,
        "batch_size": shape.batch_size,
        "n_regions": n_regions,
        "sample_names": names,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec))
    return path


def read_budget(system: System, budget: Budget) -> dict[str, float]:
    if system.writes_dataset:
        return {"budget_s": budget.budget_s, "repeats": budget.repeats, "warmup_s": budget.warmup_s}
    return {"budget_s": 0.0, "repeats": budget.naive_repeats, "warmup_s": 0.0}


def loader_budget(system: System, budget: Budget) -> dict[str, float]:
    if system.writes_dataset:
        return {"budget_s": budget.loader_budget_s, "repeats": budget.loader_repeats}
    return {"budget_s": 0.0, "repeats": budget.naive_repeats}


def numba_cache(system: System) -> Path:
    return WORK / "numba_cache" / system.name


def run_task(system: System, action: str, tag: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Run one action of a system's worker in a fresh subprocess and return its result, or
    ``{"error": ...}`` with the last line of its stderr."""
    stem = WORK / "tasks" / f"{system.name}_{action}_{tag}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    task = {**fields, "action": action, "out": f"{stem}.result.json"}
    Path(f"{stem}.task.json").write_text(json.dumps(task, indent=1))
    Path(task["out"]).unlink(missing_ok=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache(system))}
    if system.name != "gvl_zarr":
        env.pop("GVL_ZARR_CACHE_BYTES", None)
    cmd = [system.python, str(BENCH / system.worker), f"{stem}.task.json"]
    print(f"  {action} {tag}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall_s = time.perf_counter() - t0
    Path(f"{stem}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        error = lines[-1] if lines else f"exit code {proc.returncode}"
        print(f"    failed: {error}", file=sys.stderr)
        return {"error": error}
    return {**json.loads(Path(task["out"]).read_text()), "process_wall_s": wall_s}


def agreement(systems: list[str], shapes: list[Shape]) -> dict[str, Any]:
    """Compare each system's first batch at jitter 0 with GenVarLoader's, per shape and mode."""
    out: dict[str, Any] = {}
    if "genvarloader" not in systems:
        return out
    for shape in shapes:
        ref_dir = WORK / "cases" / f"genvarloader_L{shape.length}" / "first"
        for name in (s for s in systems if s != "genvarloader"):
            other_dir = WORK / "cases" / f"{name}_L{shape.length}" / "first"
            for mode in MODES:
                ref_file, other_file = ref_dir / f"{mode}.npz", other_dir / f"{mode}.npz"
                if ref_file.exists() and other_file.exists():
                    key = f"{name}|{shape.length}|{mode}"
                    out[key] = compare_batches(ref_file, other_file)
    return out


def compare_batches(ref_file: Path, other_file: Path) -> dict[str, Any]:
    """Fraction of identical sequence bytes and instances, and the largest track difference."""
    with np.load(ref_file) as ref, np.load(other_file) as other:
        result: dict[str, Any] = {}
        for key in ref.files:
            a, b = ref[key], other[key]
            if a.shape != b.shape:
                result[key] = {"shape_mismatch": [list(a.shape), list(b.shape)]}
            elif key == "seq":
                same = a == b
                rows = same.reshape(len(a), -1).all(axis=1)
                result[key] = {"bytes_equal": float(same.mean()), "rows_equal": float(rows.mean())}
            else:
                result[key] = {"max_abs_diff": float(np.max(np.abs(a - b)))}
        return result


def meta(args: argparse.Namespace, bed: Path, budget: Budget, shapes: list[Shape], elapsed_s: float) -> dict[str, Any]:
    return {
        "label": args.label,
        "quick": args.quick,
        "bed": str(bed),
        "shapes": [asdict(s) for s in shapes],
        "jitters": list(JITTERS),
        "budget": asdict(budget),
        "seed": SEED,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": {**versions(), "genvarloader": GVL_PINS[0].split("==")[1]},
        "elapsed_s": elapsed_s,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def versions() -> dict[str, str | None]:
    """Versions of the main environment's packages that the figures depend on."""
    found: dict[str, str | None] = {}
    for dist in ("gvl-zarr", "numpy", "zarr", "numba", "torch", "cyvcf2", "pyfaidx", "pyBigWig"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


if __name__ == "__main__":
    main()
