"""`gvl-zarr info`: what a store holds, how big each part is and what it was written from."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ._store import describe


def _size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):  # removed while walking
                total += os.path.getsize(os.path.join(root, f))
    return total


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def info(store: Any) -> str:
    """A multi-line description: counts, settings, sizes per group, format and provenance."""
    from .dataset import Dataset

    ds = Dataset.open(store, preload=False)
    attrs = ds._data.attrs
    name = describe(store)
    samples = ds.samples
    contigs = ds.get_bed()["chrom"].unique(maintain_order=True).to_list()
    lines = [
        f"{name}",
        f"  format_version: {attrs.get('format_version')}",
        f"  regions: {ds.n_regions:,} on {len(contigs)} contig(s) ({', '.join(contigs[:10])}"
        f"{' …' if len(contigs) > 10 else ''}); window length {ds.region_length:,}; max_jitter {ds.max_jitter}",
        f"  samples: {len(samples):,} ({', '.join(samples[:5])}{' …' if len(samples) > 5 else ''}); ploidy {ds.ploidy}",
        f"  genotypes: {'yes' if attrs.get('has_genotypes') else 'no'}; "
        f"reference stored: {'yes' if attrs.get('has_reference') else 'no'}",
        f"  tracks: {', '.join(ds.available_tracks) or 'none'}",
    ]
    fields = attrs.get("var_fields") or {}
    if fields:
        lines.append(
            "  variant fields: " + ", ".join(f"{n} ({f['source']}/{f['key']}, {f['dtype']})" for n, f in fields.items())
        )
    if isinstance(store, (str, os.PathLike)) and os.path.isdir(store):
        root = os.fspath(store)
        parts = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        sizes = []
        for part in parts:
            sub = os.path.join(root, part)
            kids = sorted(k for k in os.listdir(sub) if os.path.isdir(os.path.join(sub, k)))
            if part == "tracks":
                sizes += [(f"tracks/{k}", _size(os.path.join(sub, k))) for k in kids]
            else:
                sizes.append((part, _size(sub)))
        lines.append(f"  size: {_human(_size(root))}")
        lines += [f"    {p}: {_human(b)}" for p, b in sizes]
    prov = attrs.get("provenance")
    if prov:
        versions = ", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items() if v)
        lines.append(f"  written: {prov.get('written')} (python {prov.get('python')}; {versions})")
        lines.append(f"  command: {prov.get('command')}")
        for key, entry in prov.get("inputs", {}).items():
            if key == "tracks":
                for t, e in (entry or {}).items():
                    lines.append(f"  input track {t}: {e.get('n_files')} BigWig file(s), table {e.get('table')}")
            elif isinstance(entry, list):
                lines += [f"  input {key}: {e.get('path')}" for e in entry if e]
            elif entry:
                extra = f" ({_human(entry['bytes'])}, modified {entry.get('modified')})" if "bytes" in entry else ""
                lines.append(f"  input {key}: {entry.get('path')}{extra}")
    else:
        inputs = attrs.get("inputs") or {}
        lines += [f"  input {k}: {v}" for k, v in inputs.items() if v]
        lines.append("  provenance: not recorded (written by an older gvl_zarr)")
    return "\n".join(lines)
