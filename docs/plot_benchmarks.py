"""Plot the committed benchmark results against GenVarLoader (PNG files for docs/benchmarks.md).

Usage::

    python docs/plot_benchmarks.py [RESULT.json ...] [--out docs/_static]

Without arguments it plots every ``benchmarks/results/*.json``. Two figures, one panel
per result file:

* ``benchmark_throughput.png``: median instances/s (over repeats and both jitters) of
  each output and shape, gvl_zarr beside GenVarLoader, log scale;
* ``benchmark_memory.png``: peak private memory (RssAnon, MiB) of the read process of
  each output and shape.

Figures are what ``benchmarks/run.py`` measured; nothing is re-run here.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = {"gvl_zarr": ("gvl_zarr", "#1f77b4"), "genvarloader": ("GenVarLoader 0.43.1", "#ff7f0e")}
MODES = ("haps", "haps+tracks", "tracks", "ref")


def load(path: Path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def _label(meta: dict) -> str:
    return f"{meta['label']}{' (--quick)' if meta.get('quick') else ''}"


def _rows(result: dict) -> list[tuple[str, str, int]]:
    """(mode, length, batch size) of every measured read, in a stable order."""
    return [(mode, str(s["length"]), s["batch_size"]) for s in result["meta"]["shapes"] for mode in MODES]


def throughput(result: dict, system: str, mode: str, length: str) -> float | None:
    """Median instances/s over all repeats and jitters, or None when not measured."""
    modes = result["systems"].get(system, {}).get("read", {}).get(length, {}).get("modes", {})
    values = [v for jit in modes.get(mode, {}).values() for v in jit.get("instances_per_s", [])]
    return statistics.median(values) if values else None


def peak_anon(result: dict, system: str, mode: str, length: str) -> float | None:
    """Peak private memory (RssAnon + RssShmem, MiB) of the process reading ``mode`` at ``length``, or None."""
    proc = result["systems"].get(system, {}).get("read", {}).get(length, {}).get("processes", {}).get(mode, {})
    memory = proc.get("memory")
    # anonymous shared maps are private memory too (gvl_zarr's resident buffers before 88e5836)
    return memory["peak"]["anon"] + memory["peak"].get("shmem", 0.0) if memory else None


def _bars(ax, result: dict, metric, ylabel: str, *, log: bool) -> None:
    rows = _rows(result)
    width = 0.38
    for k, (system, (title, colour)) in enumerate(SYSTEMS.items()):
        xs, ys = [], []
        for i, (mode, length, _) in enumerate(rows):
            y = metric(result, system, mode, length)
            if y is not None:
                xs.append(i + (k - 0.5) * width)
                ys.append(y)
        ax.bar(xs, ys, width, label=title, color=colour)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{m}\n{int(n) // 1000} kb × {b}" for m, n, b in rows], fontsize=7)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(_label(result["meta"]), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if not log:
        ax.set_ylim(top=ax.get_ylim()[1] * 1.2)
    ax.legend(fontsize=8, loc="upper left")


def _scaling(results: list[dict], out: Path) -> Path:
    """Instances/s against the number of regions (latest result per region count), per
    system and output at 16,384 bp: how each library's reads scale with the dataset."""
    by_size: dict[int, dict] = {}
    for result in results:  # later files win: the newest run of each size
        if "n_regions" in result["meta"]:
            by_size[int(result["meta"]["n_regions"])] = result
    sizes = sorted(by_size)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for system, (title, colour) in SYSTEMS.items():
        for mode, style in (("haps", "-"), ("haps+tracks", "--"), ("tracks", ":")):
            ys = [throughput(by_size[n], system, mode, "16384") for n in sizes]
            pts = [(n, y) for n, y in zip(sizes, ys, strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, marker="o", color=colour, label=f"{title}: {mode}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.set_xlabel("regions (× 2,504 samples, one BigWig each), 16,384 bp")
    ax.set_ylabel("instances/s (median)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "benchmark_scaling.png"
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def plot(results: list[dict], out: Path) -> list[Path]:
    """Write the three figures for ``results`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, metric, ylabel, log in (
        ("benchmark_throughput.png", throughput, "instances/s (median)", True),
        ("benchmark_memory.png", peak_anon, "peak private memory, MiB (RssAnon + RssShmem)", False),
    ):
        fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.2), squeeze=False)
        for ax, result in zip(axes[0], results, strict=True):
            _bars(ax, result, metric, ylabel, log=log)
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    written.append(_scaling(results, out))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=Path, help="result JSON files (default: benchmarks/results/*.json)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_static")
    args = parser.parse_args(argv)
    paths = args.results or sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    for path in plot([load(p) for p in paths], args.out):
        print(path)


if __name__ == "__main__":
    main()
