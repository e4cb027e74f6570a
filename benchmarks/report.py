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
        summary_table(meta, systems),
        throughput_tables(meta, systems),
        write_table(systems),
        start_table(meta, systems),
        memory_table(meta, systems),
        loader_table(meta, systems),
        agreement_table(doc["agreement"]),
        errors(systems),
    ]
    return "\n\n".join(s for s in sections if s)


def header(meta: dict[str, Any]) -> str:
    b = meta["budget"]
    bw = meta.get("bigwigs", {"kind": "shared"})
    tracks = (
        f"one distinct BigWig per sample (`{bw['track']}`-derived, see make_bigwigs.py)"
        if bw["kind"] == "distinct"
        else "the same BigWig for every sample (`--shared-bigwig`)"
    )
    cache = meta.get("gvl_zarr_cache_bytes")
    return (
        f"## Benchmark `{meta['label']}`{' (quick)' if meta['quick'] else ''}: "
        f"{meta['n_regions']} regions × {meta['n_samples']} samples, {meta['cpu_count']} CPUs, "
        f"load average {meta['loadavg_start'][0]:.1f} at start, {meta['loadavg_end'][0]:.1f} at "
        f"end, {meta['elapsed_s'] / 60:.1f} min\n\n"
        f"Tracks: {tracks}. gvl_zarr cache: "
        f"{'GVL_ZARR_CACHE_BYTES=' + cache if cache else 'library default'}. "
        "Reads: random (region, sample) batches, a fresh stream per configuration.\n\n"
        f"Throughput: median of {b['repeats']} repeats of {b['budget_s']} s after "
        f"{b['warmup_s']} s warm-up, [min–max]; naive: {b['naive_repeats']} single batches. "
        "MB/s counts output bytes (10^6). Memory: MiB; `anon` is RssAnon + RssShmem (private memory; the second counts anonymous shared maps), "
        "`file` is RssFile (mapped files, e.g. libraries), sampled after every batch; "
        "`peak RSS` is ru_maxrss."
    )


def mem(res: dict[str, Any] | None, point: str = "peak", key: str = "anon") -> str:
    """A memory figure (MiB) of a task result: its sampled peak or a named point."""
    memory = (res or {}).get("memory")
    if not memory:
        return "–"
    values = memory["peak"] if point == "peak" else memory["points"].get(point)
    if not values:
        return "–"
    if key == "anon":  # anonymous shared maps are private memory too (results before 88e5836
        return fmt(values["anon"] + values.get("shmem", 0.0))  # held resident buffers there)
    return fmt(values[key])


def summary_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    """One row per output (and the DataLoader) and system: throughput at the largest jitter,
    the first batch after open in a fresh process, and memory of that process."""
    shape, jitter = meta["shapes"][0], max(meta["jitters"])
    length = str(shape["length"])
    rows = []
    for mode in MODES:
        for name, res in systems.items():
            proc = res.get("read", {}).get(length, {}).get("processes", {}).get(mode)
            stats = mode_stats(systems, name, shape["length"], mode, jitter)
            first = mode_stats(systems, name, shape["length"], mode, min(meta["jitters"]))
            if not proc or "error" in proc or not stats:
                rows.append([mode, TITLES[name], "error" if proc else "missing"] + ["–"] * 6)
                continue
            rows.append(
                [
                    mode,
                    TITLES[name],
                    spread(stats["instances_per_s"]),
                    fmt(proc.get("open_s")),
                    fmt(first["first_batch_s"]) if first else "–",
                    mem(proc, "after_open"),
                    mem(proc),
                    mem(proc, "peak", "file"),
                    fmt(proc["peak_rss_mb"]),
                ]
            )
    for name, res in systems.items():
        ld = res.get("loader")
        if not ld:
            continue
        if "error" in ld:
            rows.append(["DataLoader", TITLES[name], "error"] + ["–"] * 6)
            continue
        rows.append(
            [
                "DataLoader",
                TITLES[name],
                spread(ld["instances_per_s"]),
                fmt(ld.get("open_s")),
                fmt(ld.get("first_batch_s")),
                mem(ld, "after_open"),
                mem(ld),
                mem(ld, "peak", "file"),
                fmt(ld["peak_rss_mb"]),
            ]
        )
    head = [
        "output",
        "system",
        "instances/s",
        "open s",
        "first batch s",
        "anon after open",
        "anon peak",
        "file peak",
        "peak RSS",
    ]
    return (
        f"### Summary: batch {shape['batch_size']} × {shape['length']:,} bp, shuffled, jitter {jitter}\n\n"
        + table(head, rows)
        + f"\n\nEach output is read in its own process: `open s` and `first batch s` (jitter "
        f"{min(meta['jitters'])}) are that process's, right after import, with a warm JIT cache; "
        "the DataLoader row's first batch is the first batch of its first iterator. Memory "
        "columns are MiB of that process."
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
                rows.append([TITLES[name], length, "error", "–", "–", "–", "–"])
                continue
            disk = fmt(w["disk_bytes"] / 1e6) if w["disk_bytes"] is not None else "in memory"
            rows.append(
                [
                    TITLES[name],
                    f"{int(length):,}",
                    fmt(w["write_s"]),
                    disk,
                    mem(w),
                    mem(w, "peak", "file"),
                    fmt(w["peak_rss_mb"]),
                ]
            )
    note = (
        "\n\nWrites start from fresh copies of the inputs, so GenVarLoader's time includes "
        "building its VCF index. For the naive baseline with preloaded genotypes this is the "
        "time to read all genotypes into memory."
    )
    head = ["system", "length", "write s", "disk MB", "anon peak", "file peak", "peak RSS"]
    return "### Dataset write\n\n" + table(head, rows) + note


def start_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    shape = meta["shapes"][0]
    rows = []
    for name, res in systems.items():
        for cache, s in res.get("start", {}).items():
            if "error" in s:
                rows.append([TITLES[name], cache, "error"] + ["–"] * 6)
                continue
            rows.append(
                [
                    TITLES[name],
                    cache,
                    fmt(s["import_s"]),
                    fmt(s["open_s"]),
                    fmt(s["first_batch_s"]),
                    fmt(s["process_wall_s"]),
                    mem(s, "after_first_batch"),
                    mem(s, "after_first_batch", "file"),
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
        "anon MB",
        "file MB",
        "peak RSS MB",
    ]
    return (
        f"### First batch in a fresh process (haps+tracks, {shape['batch_size']} × "
        f"{shape['length']:,}, jitter 0)\n\n"
        + table(head, rows)
        + "\n\n`cold`: empty numba cache (compiles); `warm`: cache filled by the cold run. "
        "`anon`/`file`: RssAnon + RssShmem / RssFile after the first batch."
    )


def memory_table(meta: dict[str, Any], systems: dict[str, Any]) -> str:
    """Memory of each read process (one per system, shape and output, both jitters)."""
    rows = []
    for name, res in systems.items():
        for length, read in res.get("read", {}).items():
            for mode, proc in read.get("processes", {}).items():
                if "error" in proc:
                    rows.append([TITLES[name], f"{int(length):,}", mode, "error"] + ["–"] * 5)
                    continue
                rows.append(
                    [
                        TITLES[name],
                        f"{int(length):,}",
                        mode,
                        mem(proc, "after_open"),
                        mem(proc),
                        mem(proc, "after_loop"),
                        mem(proc, "peak", "file"),
                        mem(proc, "after_loop", "file"),
                        fmt(proc["peak_rss_mb"]),
                    ]
                )
    head = [
        "system",
        "length",
        "output",
        "anon after open",
        "anon peak",
        "anon after loop",
        "file peak",
        "file after loop",
        "peak RSS",
    ]
    return (
        "### Memory of the read processes, MiB\n\n"
        + table(head, rows)
        + "\n\nOne process per system, length and output (both jitters). `anon` = RssAnon + RssShmem "
        "(private: heap, caches, JIT code, anonymous maps), `file` = RssFile (resident pages of mapped files: "
        "libraries, memory-mapped data), sampled after open, after every batch (peak) and after "
        "the loop; `peak RSS` = ru_maxrss (true peak of all resident memory)."
    )


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
                    fmt(ld.get("first_batch_s")),
                    mem(ld, "after_open"),
                    mem(ld),
                    mem(ld, "peak", "file"),
                    fmt(ld["peak_rss_mb"]),
                ]
            )
        elif ld:
            rows.append([TITLES[name], "error"] + ["–"] * 6)
    head = [
        "system",
        "instances/s",
        "MB/s",
        "first batch s",
        "anon after open",
        "anon peak",
        "file peak",
        "peak RSS",
    ]
    return (
        f"### DataLoader (shuffle=True, batch {shape['batch_size']}, num_workers=0, haps+tracks, "
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
            | {v.get("error") for group in ("write", "start") for v in res.get(group, {}).values()}
            | {p.get("error") for r in res.get("read", {}).values() for p in r.get("processes", {}).values()}
            | {res.get("loader", {}).get("error")}
        )
        lines += [f"- {TITLES[name]}: `{e}`" for e in sorted(found - {None})]
    return "### Missing or failed\n\n" + "\n".join(lines) if lines else ""


def scaling(results_dir: Path) -> str:
    """A table across cases (labels): the latest results file of each label."""
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(results_dir.glob("*.json")):
        doc = json.loads(path.read_text())
        if "meta" in doc:  # run.py results only (output_kinds.py writes its own)
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
                    doc["meta"].get("bigwigs", {}).get("kind", "shared"),
                    f"{doc['meta']['n_regions']:,}",
                    TITLES[name],
                    fmt(w.get("write_s")),
                    fmt(disk / 1e6) if disk else "–",
                    spread(stats["instances_per_s"]) if stats else "–",
                ]
            )
    head = ["case", "BigWigs", "regions", "system", "write s", "disk MB", "haps+tracks instances/s"]
    return "### Scaling (latest run of each case, first shape, jitter 0)\n\n" + table(head, rows)
