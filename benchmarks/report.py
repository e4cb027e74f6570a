"""Markdown tables from a benchmark results document (see ``run.py``)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from _common import MODES

TITLES = {
    "gvl_zarr": "gvl_zarr",
    "genvarloader": "GenVarLoader",
    "naive": "naive",
    "naive-preloaded": "naive (genotypes preloaded)",
}
RATIOS = (("gvl_zarr", "genvarloader"), ("gvl_zarr", "naive"))


def markdown(doc: dict[str, Any]) -> str:
    """All tables for one run."""
    meta, systems = doc["meta"], doc["systems"]
    sections = [
        header(meta),
        throughput_tables(meta, systems),
        write_table(systems),
        start_table(meta, systems),
        rss_table(meta, systems),
        loader_table(meta, systems),
        agreement_table(doc["agreement"]),
        errors(systems),
    ]
    return "\n\n".join(s for s in sections if s)


def header(meta: dict[str, Any]) -> str:
    b = meta["budget"]
    return (
        f"## Benchmark `{meta['label']}`{' (quick)' if meta['quick'] else ''}: "
        f"{meta['n_regions']} regions × {meta['n_samples']} samples, {meta['cpu_count']} CPUs, "
        f"load average {meta['loadavg_start'][0]:.1f} at start, {meta['loadavg_end'][0]:.1f} at "
        f"end, {meta['elapsed_s'] / 60:.1f} min\n\n"
        f"Throughput: median of {b['repeats']} repeats of {b['budget_s']} s after "
        f"{b['warmup_s']} s warm-up, [min–max]; naive: {b['naive_repeats']} single batches. "
        "MB/s counts output bytes (10^6)."
    )


def fmt(x: float | None) -> str:
    """A number with about three significant digits."""
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"{fmt(med(values))} [{fmt(min(values))}–{fmt(max(values))}]"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def mode_stats(systems: dict[str, Any], name: str, length: int, mode: str, jitter: int) -> Any:
    """The stats of one system for one cell, or None if missing."""
    read = systems[name].get("read", {}).get(str(length), {})
    return read.get("modes", {}).get(mode, {}).get(str(jitter))


def throughput_tables(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    names = list(systems)
    ratio_heads = [f"{TITLES[a]}/{TITLES[b]}" for a, b in RATIOS]
    ips_rows, mbps_rows = [], []
    for shape in meta["shapes"]:
        for mode in MODES:
            for jitter in meta["jitters"]:
                key = [f"{shape['batch_size']} × {shape['length']:,}", mode, str(jitter)]
                cells = {n: mode_stats(systems, n, shape["length"], mode, jitter) for n in names}
                ips = {n: c["instances_per_s"] if c else None for n, c in cells.items()}
                ips_rows.append(
                    key
                    + [spread(v) if v else "missing" for v in ips.values()]
                    + [ratio(ips.get(a), ips.get(b)) for a, b in RATIOS]
                )
                mbps_rows.append(key + [fmt(med(c["mb_per_s"])) if c else "–" for c in cells.values()])
    head = ["batch × bp", "output", "jitter"]
    return (
        "### Throughput, instances/s\n\n"
        + table(head + [TITLES[n] for n in names] + ratio_heads, ips_rows)
        + "\n\n### Throughput, MB/s of output\n\n"
        + table(head + [TITLES[n] for n in names], mbps_rows)
    )


def ratio(a: list[float] | None, b: list[float] | None) -> str:
    return f"{med(a) / med(b):.2f}×" if a and b else "–"


def write_table(systems: dict[str, Any]) -> str:
    rows = []
    for name, res in systems.items():
        for length, w in res.get("write", {}).items():
            if "error" in w:
                rows.append([TITLES[name], length, "error", "–", "–"])
                continue
            disk = fmt(w["disk_bytes"] / 1e6) if w["disk_bytes"] is not None else "in memory"
            rows.append([TITLES[name], f"{int(length):,}", fmt(w["write_s"]), disk, fmt(w["peak_rss_mb"])])
    note = (
        "\n\nWrites start from fresh copies of the inputs, so GenVarLoader's time includes "
        "building its VCF index. For the naive baseline with preloaded genotypes this is the "
        "time to read all genotypes into memory."
    )
    head = ["system", "length", "write s", "disk MB", "peak RSS MB"]
    return "### Dataset write\n\n" + table(head, rows) + note


def start_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    shape = meta["shapes"][0]
    rows = []
    for name, res in systems.items():
        for cache, s in res.get("start", {}).items():
            if "error" in s:
                rows.append([TITLES[name], cache, "error", "–", "–", "–", "–"])
                continue
            rows.append(
                [
                    TITLES[name],
                    cache,
                    fmt(s["import_s"]),
                    fmt(s["open_s"]),
                    fmt(s["first_batch_s"]),
                    fmt(s["process_wall_s"]),
                    fmt(s["peak_rss_mb"]),
                ]
            )
    head = [
        "system",
        "JIT cache",
        "import s",
        "open s",
        "first batch s",
        "process wall s",
        "peak RSS MB",
    ]
    return (
        f"### First batch in a fresh process (haps+tracks, {shape['batch_size']} × "
        f"{shape['length']:,}, jitter 0)\n\n"
        + table(head, rows)
        + "\n\n`cold`: empty numba cache (compiles); `warm`: cache filled by the cold run."
    )


def rss_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    lengths = [str(s["length"]) for s in meta["shapes"]]
    rows = [
        [TITLES[name]] + [fmt(res["read"].get(n, {}).get("peak_rss_mb")) for n in lengths]
        for name, res in systems.items()
        if "read" in res
    ]
    head = ["system"] + [f"{int(n):,} bp" for n in lengths]
    return "### Peak RSS of the read process (all outputs and jitters), MB\n\n" + table(head, rows)


def loader_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    shape = meta["shapes"][0]
    rows = []
    for name, res in systems.items():
        ld = res.get("loader")
        if ld and "error" not in ld:
            rows.append(
                [
                    TITLES[name],
                    spread(ld["instances_per_s"]),
                    fmt(med(ld["mb_per_s"])),
                    fmt(ld["peak_rss_mb"]),
                ]
            )
        elif ld:
            rows.append([TITLES[name], "error", "–", "–"])
    head = ["system", "instances/s", "MB/s", "peak RSS MB"]
    return (
        f"### DataLoader (shuffle=True, batch 32, num_workers=0, haps+tracks, "
        f"{shape['length']:,} bp, jitter 128)\n\n" + table(head, rows)
    )


def agreement_table(agreement: dict[str, Any]) -> str:
    rows = []
    for key, parts in agreement.items():
        name, length, mode = key.split("|")
        seq, track = parts.get("seq", {}), parts.get("track", {})
        rows.append(
            [
                TITLES[name],
                f"{int(length):,}",
                mode,
                agree_cell(seq, "bytes_equal"),
                agree_cell(seq, "rows_equal"),
                agree_cell(track, "max_abs_diff"),
            ]
        )
    if not rows:
        return ""
    head = ["system", "length", "output", "bases equal", "instances equal", "track max |diff|"]
    return "### Agreement with GenVarLoader (first batch, jitter 0)\n\n" + table(head, rows)


def agree_cell(part: dict[str, Any], key: str) -> str:
    if not part:
        return "–"
    if "shape_mismatch" in part:
        return "shape {} vs {}".format(*part["shape_mismatch"])
    value = part[key]
    return f"{value:.4%}" if key != "max_abs_diff" else f"{value:.3g}"


def errors(systems: dict[str, Any]) -> str:
    lines = []
    for name, res in systems.items():
        found = (
            {res.get("error")}
            | {v.get("error") for group in ("write", "read", "start") for v in res.get(group, {}).values()}
            | {res.get("loader", {}).get("error")}
        )
        lines += [f"- {TITLES[name]}: `{e}`" for e in sorted(found - {None})]
    return "### Missing or failed\n\n" + "\n".join(lines) if lines else ""


def scaling(results_dir: Path) -> str:
    """A table across cases (labels): the latest results file of each label."""
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        doc = json.loads(path.read_text())
        latest[doc["meta"]["label"]] = doc
    if len(latest) < 2:
        return ""
    rows = []
    for label, doc in latest.items():
        shape = doc["meta"]["shapes"][0]
        for name, res in doc["systems"].items():
            w = res.get("write", {}).get(str(shape["length"]), {})
            stats = mode_stats(doc["systems"], name, shape["length"], "haps+tracks", 0)
            disk = w.get("disk_bytes")
            rows.append(
                [
                    label,
                    f"{doc['meta']['n_regions']:,}",
                    TITLES[name],
                    fmt(w.get("write_s")),
                    fmt(disk / 1e6) if disk else "–",
                    spread(stats["instances_per_s"]) if stats else "–",
                ]
            )
    head = ["case", "regions", "system", "write s", "disk MB", "haps+tracks instances/s"]
    return "### Scaling (latest run of each case, first shape, jitter 0)\n\n" + table(head, rows)
