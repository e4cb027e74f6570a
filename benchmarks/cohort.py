"""Write benchmark on a large simulated cohort: gvl_zarr serially and on a dask cluster, and GenVarLoader.

    python benchmarks/cohort.py [--samples 20000] [--seed 1] [--inputs vcf,pgen,vcz]
                                [--workers 2] [--max-mem 2GiB] [--systems gvl_zarr,genvarloader]

The cohort is ``make_cohort.py``'s (generated first when missing): ``--samples`` diploid
samples simulated with msprime over a real 1 Mb window of GRCh37 chr22, as VCF, VCF Zarr and
PGEN, and its BED of 16,384 bp tiles. Every write stores genotypes only (the cohort has no
tracks and, as GenVarLoader's write takes none, no reference) and runs in its own process:

- ``gvl_zarr``: ``gvl.write`` for each input of ``--inputs``, serially; with ``--workers N``
  also on a ``distributed.LocalCluster(n_workers=N, threads_per_worker=1)`` through
  ``gvl.write(..., client=client)`` (printed as unavailable where ``write`` has no ``client``).
- ``genvarloader``: GenVarLoader 0.43.1's ``write`` of the VCF and PGEN inputs, run with
  ``$GVL_PYTHON`` or ``benchmarks/.venv-gvl`` (see ``run.py``); it gets copies of the input
  files because it writes index files next to them, so its time includes that indexing (and a
  copy of the FASTA, next to which it writes a cache when it reads the store back).

Figures (markdown on stdout, JSON under ``benchmarks/results/cohort/``): wall time of the
``write`` call; variants × samples / s; input MB/s (the input files' bytes / wall time);
store size; the process's peak RSS (``ru_maxrss``); for the dask rows each worker's peak RSS
(``ru_maxrss`` of the worker processes, read with ``Client.run``) and, for every row, the
peak of the summed RSS of the process and all its descendants, polled from ``/proc`` every
50 ms by this script (descendants found every 0.5 s). ``max_mem`` is the budget given to both
libraries' ``write``. After its write each process reads back the haplotypes of the first,
middle and last region × the first, middle and last sample; "same haplotypes" says whether
they equal the first row's.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import make_cohort
from _common import dir_bytes

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
RESULTS = BENCH / "results" / "cohort"
GVL_VENV_PYTHON = BENCH / ".venv-gvl" / "bin" / "python"
#: Each input format's files (relative to the cohort folder): all are counted as input bytes
#: and copied for GenVarLoader.
INPUT_FILES = {
    "vcf": ["cohort.vcf.gz", "cohort.vcf.gz.tbi"],
    "pgen": ["cohort.pgen", "cohort.pvar", "cohort.psam"],
    "vcz": ["cohort.vcz"],
}
GVL_INPUTS = ("vcf", "pgen")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20_000, help="cohort size (make_cohort.py --samples)")
    parser.add_argument("--seed", type=int, default=1, help="cohort seed (make_cohort.py --seed)")
    parser.add_argument("--cohort", type=Path, default=None, help="a make_cohort.py output folder instead")
    parser.add_argument("--inputs", default="vcf,pgen,vcz", help="input formats to write from")
    parser.add_argument("--workers", type=int, default=2, help="dask workers for the distributed rows (0: none)")
    parser.add_argument("--max-mem", default="2GiB", help="max_mem given to every write")
    parser.add_argument("--systems", default="gvl_zarr,genvarloader", help="gvl_zarr and/or genvarloader")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one write may take")
    parser.add_argument("--label", default=None, help="results file label (default: <samples>s)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON results")
    return parser.parse_args(argv)


class TreeMemory:
    """Peak of the summed RSS (MiB) of a process and all its descendants, polled from /proc.

    The RSS of the known processes is read every `interval_s`; the process tree (a scan of
    every /proc/<pid>/stat, ~4 ms) is refreshed every `rescan_s`, so the polling costs about
    1% of a core.
    """

    def __init__(self, pid: int, interval_s: float = 0.05, rescan_s: float = 0.5) -> None:
        self.pid = pid
        self.peak_mb = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval_s, rescan_s), daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                text = fh.read()
        except OSError:
            return 0.0
        i = text.find(b"VmRSS:")
        return 0.0 if i < 0 else int(text[i + 6 : text.index(b"kB", i)]) / 1024

    def _loop(self, interval_s: float, rescan_s: float) -> None:
        tree, scanned = [self.pid], 0.0
        while not self._stop.wait(interval_s):
            if time.monotonic() - scanned >= rescan_s:
                tree, scanned = self._tree(), time.monotonic()
            total = sum(self._rss_mb(p) for p in tree)
            if total > self.peak_mb:
                self.peak_mb, self.peak_processes = total, len(tree)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_task(python: str, task: dict[str, Any], workdir: Path, timeout: float) -> dict[str, Any]:
    """Run one write task in a subprocess; its result plus the process tree's peak RSS."""
    task_path = workdir / "task.json"
    task = {**task, "out": str(workdir / "result.json")}
    task_path.write_text(json.dumps(task))
    log = workdir.parent / f"{workdir.name}.log"
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [python, str(BENCH / "_cohort_worker.py"), str(task_path)], cwd=BENCH, stdout=out, stderr=subprocess.STDOUT
        )
    tree = TreeMemory(proc.pid)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    tree.stop()
    if rc != 0:
        why = f"write exited with {rc}" if rc is not None else f"write exceeded --timeout {timeout:.0f} s"
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print(f"{why}; the end of {log}:\n" + "\n".join(tail), file=sys.stderr)
        return {"error": f"{why} (log: {log})"}
    result = json.loads(Path(task["out"]).read_text())
    result.update(process_wall_s=time.perf_counter() - t0, tree_peak_rss_mb=tree.peak_mb)
    return result


def gvl_python() -> str | None:
    """GenVarLoader 0.43.1's interpreter: $GVL_PYTHON, or the benchmark's venv."""
    python = os.environ.get("GVL_PYTHON") or (str(GVL_VENV_PYTHON) if GVL_VENV_PYTHON.exists() else None)
    if python is None:
        return None
    check = [python, "-c", "import importlib.metadata as m; print(m.version('genvarloader'))"]
    found = subprocess.run(check, capture_output=True, text=True, check=False).stdout.strip()
    return python if found else None


def copy_inputs(cohort: Path, fmt: str, dest: Path) -> str:
    """Fresh copies of one format's input files under `dest`; the variants path to give write."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in INPUT_FILES[fmt]:
        src = cohort / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return str(dest / INPUT_FILES[fmt][0])


def copy_reference(fasta: Path, dest: Path) -> str:
    """A copy of the FASTA and its indexes for GenVarLoader, which writes a cache next to it."""
    dest.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".fai", ".gzi"):
        if Path(f"{fasta}{suffix}").exists():
            shutil.copy2(f"{fasta}{suffix}", dest / f"{fasta.name}{suffix}")
    return str(dest / fasta.name)


def plan(args: argparse.Namespace, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The writes to run: (system, input, workers) with their task fields."""
    systems = args.systems.split(",")
    inputs = [f for f in args.inputs.split(",") if f in meta["files"]]
    rows = []
    for fmt in inputs:
        if "gvl_zarr" in systems:
            rows.append({"system": "gvl_zarr", "input": fmt, "workers": 0})
            if args.workers > 0:
                rows.append({"system": "gvl_zarr", "input": fmt, "workers": args.workers})
        if "genvarloader" in systems and fmt in GVL_INPUTS:
            rows.append({"system": "genvarloader", "input": fmt, "workers": 0})
    return rows


def measure(args: argparse.Namespace, cohort: Path, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Run every planned write; returns one result row each."""
    from gvl_zarr._memory import resolve_max_mem

    max_mem = resolve_max_mem(args.max_mem)
    runs = cohort / "runs"
    gvl = gvl_python() if "genvarloader" in args.systems.split(",") else None
    rows: list[dict[str, Any]] = []
    baseline: Path | None = None
    for row in plan(args, meta):
        name = f"{row['system']}_{row['input']}" + (f"_dask{row['workers']}" if row["workers"] else "")
        workdir = runs / name
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        input_bytes = sum(dir_bytes(cohort / f) for f in INPUT_FILES[row["input"]])
        row.update(input_bytes=input_bytes, max_mem=max_mem)
        if row["system"] == "genvarloader":
            if gvl is None:
                row["unavailable"] = "no GenVarLoader interpreter ($GVL_PYTHON or benchmarks/.venv-gvl)"
                rows.append(row)
                continue
            variants, python = copy_inputs(cohort, row["input"], workdir / "inputs"), gvl
            reference = copy_reference(Path(meta["reference"]), workdir / "reference")
        else:
            variants, python = str(cohort / INPUT_FILES[row["input"]][0]), sys.executable
            reference = meta["reference"]
        task = {
            "action": row["system"],
            "variants": variants,
            "bed": str(cohort / meta["bed"]),
            "dataset": str(workdir / "cohort.gvl"),
            "workers": row["workers"],
            "max_mem": max_mem,
            "reference": reference,
            "length": meta["region_length"],
            "check": str(runs / f"{name}.check.npy"),
            **check_cells(meta),
        }
        print(f"writing {name} ...", file=sys.stderr, flush=True)
        row.update(run_task(python, task, workdir, args.timeout))
        if "write_s" in row:
            row["genotypes_per_s"] = meta["variants"] * meta["samples"] / row["write_s"]
            row["input_mb_per_s"] = input_bytes / 1e6 / row["write_s"]
            row["agrees"] = agrees(Path(task["check"]), baseline)
            baseline = baseline or Path(task["check"])
        shutil.rmtree(workdir, ignore_errors=True)  # the stores are large; sizes are recorded
        rows.append(row)
    return rows


def check_cells(meta: dict[str, Any]) -> dict[str, list]:
    """The (region, sample) cells every system reads back after its write: first, middle, last."""
    n, m = meta["regions"], meta["samples"]
    return {
        "check_regions": sorted({0, n // 2, n - 1}),
        "check_samples": [f"S{i:06d}" for i in sorted({0, m // 2, m - 1})],
    }


def agrees(check: Path, baseline: Path | None) -> bool:
    """Whether a write's check haplotypes equal the first write's (the first agrees with itself)."""
    if baseline is None:
        return True
    import numpy as np

    return bool(np.array_equal(np.load(check), np.load(baseline)))


def table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The markdown table of the results."""
    head = (
        "| system | input | workers | variants | samples | regions | max_mem | write s | variants × samples / s "
        "| input MB/s | peak RSS MiB | workers' peak RSS MiB | process tree peak RSS MiB | store MB | same haplotypes |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        system = r["system"] + (" (dask)" if r["workers"] else "")
        lead = (
            f"| {system} | {r['input']} | {r['workers'] or 1} | {meta['variants']:,} | {meta['samples']:,} "
            f"| {meta['regions']} | {r['max_mem'] / 2**30:.1f} GiB |"
        )
        if "write_s" not in r:
            why = r.get("unavailable") or r.get("error", "?")
            lines.append(lead + f" {why} |" + " |" * 7)
            continue
        workers = ", ".join(f"{m:,.0f}" for m in r.get("worker_peak_rss_mb", [])) or "–"
        lines.append(
            lead + f" {r['write_s']:.2f} | {r['genotypes_per_s'] / 1e6:,.2f} M | {r['input_mb_per_s']:,.1f} "
            f"| {r['peak_rss_mb']:,.0f} | {workers} | {r['tree_peak_rss_mb']:,.0f} | {r['disk_bytes'] / 1e6:,.1f} "
            f"| {'yes' if r['agrees'] else '**no**'} |"
        )
    return "\n".join(lines)


def versions(gvl: str | None) -> dict[str, str]:
    """Versions of the libraries measured."""
    out = {"gvl_zarr": importlib.metadata.version("gvl-zarr"), "python": platform.python_version()}
    if gvl is not None:
        check = [gvl, "-c", "import importlib.metadata as m; print(m.version('genvarloader'))"]
        out["genvarloader"] = subprocess.run(check, capture_output=True, text=True, check=False).stdout.strip()
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cohort = args.cohort or make_cohort.WORK / f"{args.samples}s_seed{args.seed}"
    if not (cohort / "cohort.json").exists():
        if args.cohort is not None:
            sys.exit(f"{cohort} has no cohort.json; write it with benchmarks/make_cohort.py --out {cohort}")
        make_cohort.main(["--samples", str(args.samples), "--seed", str(args.seed), "--out", str(cohort)])
    meta = json.loads((cohort / "cohort.json").read_text())
    load_start = os.getloadavg()
    rows = measure(args, cohort, meta)
    print(table(rows, meta))
    for why in dict.fromkeys(r["unavailable"] for r in rows if "unavailable" in r):
        print(f"\nunavailable rows: {why}")
    args.results.mkdir(parents=True, exist_ok=True)
    label = args.label or f"{meta['samples']}s"
    out = args.results / f"{label}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    gvl = gvl_python() if "genvarloader" in args.systems.split(",") else None
    meta_out = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "cohort": meta,
        "cpus": len(os.sched_getaffinity(0)),
        "load_avg_start": load_start,
        "load_avg_end": os.getloadavg(),
        "versions": versions(gvl),
    }
    out.write_text(json.dumps({"meta": meta_out, "rows": rows}, indent=1))
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
