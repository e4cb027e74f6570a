"""Fast, bounded writes: the numpy BigWig decoder, worker-process track reads and `max_mem`."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cyvcf2
import numpy as np
import polars as pl
import pyBigWig
import pytest

import gvl_zarr as gvl
from _slow_reference import bigwig_values
from conftest import COVERAGE, FASTA, SAMPLES, STAT1, STAT1_CHR, TILES, VCF, VCF_NORM
from gvl_zarr import _track_reads
from gvl_zarr.cli import main as cli_main
from gvl_zarr.errors import SettingsError
from gvl_zarr.readers.bigwig import open_bigwig, open_fast, query

N_FILES = 40  # more than the 32 files from which tracks are read by worker processes


def _write_steps(path: Path) -> Path:
    """A BigWig of fixedStep and variableStep sections (the kit files are bedGraph)."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("1", 100_000), ("2", 50_000)], maxZooms=0)
    bw.addEntries("1", 100, values=[1.5, 0.0, 2.25, float("nan"), 3.0] * 40, span=20, step=50)
    bw.addEntries("1", [20_000, 20_100, 20_105, 30_000], values=[4.0, 5.0, -1.0, 6.5], span=5)
    bw.addEntries("2", 49_000, values=[7.0] * 100, span=10, step=10)
    bw.close()
    return path


def test_numpy_bigwig_reader_returns_pybigwig_intervals(tmp_path: Path) -> None:
    """Every test BigWig and a fixedStep/variableStep one, over random spans, contig ends,
    spans past the end and an absent contig: the same (starts, ends, values) as pyBigWig."""
    files = [STAT1, COVERAGE, STAT1_CHR, str(_write_steps(tmp_path / "steps.bw"))]
    rng = np.random.default_rng(7)
    n_compared = 0
    for f in files:
        fast, ref = open_fast(f), open_bigwig(f)
        assert type(fast).__name__ == "BigWigFile"
        assert dict(fast.chroms()) == dict(ref.chroms())
        for contig, n in ref.chroms().items():
            spans = [(0, n), (n - 3000, n + 500), (-100, 50), (n // 2, n // 2)]
            spans += [
                (int(a), int(a + w))
                for a, w in zip(rng.integers(0, n, 200), rng.integers(1, 300_000, 200), strict=True)
            ]
            for lo, hi in spans:
                got, want = query(fast, contig, lo, hi), query(ref, contig, lo, hi)
                for g, w in zip(got, want, strict=True):
                    np.testing.assert_array_equal(g, w, err_msg=f"{f} {contig}:{lo}-{hi}")
                    assert g.dtype == w.dtype
                n_compared += len(got[0])
        assert all(len(a) == 0 for a in query(fast, "absent", 0, 100))
        fast.close()
        ref.close()
    assert n_compared > 100_000


def test_numpy_bigwig_reader_refuses_a_non_bigwig_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "notes.bw"
    bad.write_bytes(b"chr1\t0\t10\t1.0\n" * 20)
    with pytest.raises(gvl.errors.InputFileError, match=r"notes\.bw is not a readable BigWig"):
        open_fast(str(bad))


def _distinct_bigwigs(folder: Path, samples: list[str]) -> Path:
    """One BigWig per sample: the kit STAT1 intervals with per-sample and per-interval noise."""
    src = pyBigWig.open(STAT1)
    ivs = np.array(src.intervals("22", 16_000_000, 16_550_000))
    src.close()
    folder.mkdir()
    paths = []
    for k, sample in enumerate(samples):
        rng = np.random.default_rng([3, k])
        values = ivs[:, 2] * rng.lognormal(0, 0.5) * rng.lognormal(0, 0.3, len(ivs))
        path = folder / f"{sample}.bw"
        bw = pyBigWig.open(str(path), "w")
        bw.addHeader([("22", 22_000_000)])
        n = len(ivs)
        bw.addEntries(["22"] * n, ivs[:, 0].astype(int).tolist(), ends=ivs[:, 1].astype(int).tolist(),
                      values=values.astype(np.float32).tolist())  # fmt: skip
        bw.close()
        paths.append(str(path))
    table = folder / "bigwigs.csv"
    pl.DataFrame({"sample": samples, "path": paths}).write_csv(table)
    return table


def _store_files(root: Path) -> dict[str, str]:
    """Digest of every file of a store but the root attributes (provenance: dates, paths)."""
    out = {}
    for d, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(d, name), root)
            if rel != "zarr.json":
                out[rel] = hashlib.sha256(Path(d, name).read_bytes()).hexdigest()
    return out


_SCRIPT = """
import json, resource, sys, warnings
warnings.simplefilter("ignore")
import gvl_zarr as gvl
out, table, samples, max_mem = sys.argv[1:5]
gvl.write(out, {tiles!r}, variants={vcf!r}, bigwigs=gvl.BigWigs.from_table("bw", table), length=16384,
          max_jitter=64, reference={fasta!r}, samples=samples.split(","), progress=False, max_mem=max_mem)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"hwm": int(status["VmHWM"].split()[0]) * 1024,
                  "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}}))
"""


@pytest.fixture(scope="module")
def distinct(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    samples = cyvcf2.VCF(VCF).samples[:N_FILES]
    return _distinct_bigwigs(tmp_path_factory.mktemp("bw") / "bigwigs", samples), samples


def test_small_max_mem_write_is_identical_and_bounded(tmp_path: Path, distinct, monkeypatch) -> None:
    """A 64 MB write in a subprocess (worker processes read the 40 BigWigs) stores the same
    bytes as a default write and as an in-process serial write, and its peak resident memory
    (parent and each worker) stays within max_mem + 300 MB."""
    table, samples = distinct
    script = _SCRIPT.format(tiles=TILES, vcf=VCF, fasta=FASTA)
    small = tmp_path / "small.gvl"
    run = subprocess.run(
        [sys.executable, "-c", script, str(small), str(table), ",".join(samples), "64MB"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak = json.loads(run.stdout.strip().splitlines()[-1])
    bound = 64_000_000 + 300 * 2**20
    assert peak["hwm"] <= bound, peak
    assert 0 < peak["children"] <= bound, peak  # worker processes did run, within the bound

    default = tmp_path / "default.gvl"
    kw = dict(variants=VCF, length=16384, max_jitter=64, reference=FASTA, samples=samples, progress=False)
    gvl.write(default, TILES, bigwigs=gvl.BigWigs.from_table("bw", table), **kw)
    monkeypatch.setattr(_track_reads, "_workers", lambda n_files: 1)
    serial = tmp_path / "serial.gvl"
    gvl.write(serial, TILES, bigwigs=gvl.BigWigs.from_table("bw", table), max_mem="1GiB", **kw)
    files = _store_files(default)
    assert any(k.startswith("tracks/bw/") for k in files)
    assert _store_files(small) == files
    assert _store_files(serial) == files


def test_tracks_read_by_workers_equal_pybigwig_values(tmp_path: Path, distinct) -> None:
    """Per-sample tracks of a worker-process write equal each file's pyBigWig values."""
    table, samples = distinct
    path = tmp_path / "w.gvl"
    gvl.write(path, TILES, bigwigs=gvl.BigWigs.from_table("bw", table), length=4096, samples=samples, progress=False)
    ds = gvl.Dataset.open(path).with_settings(return_sequences=None, return_tracks="bw")
    starts = ds.get_bed()["window_start"].to_numpy()
    for r, s in [(0, 0), (5, 17), (27, N_FILES - 1), (13, 31)]:
        got = np.asarray(ds[r, s]).ravel()
        want = bigwig_values(str(Path(table).parent / f"{samples[s]}.bw"), "22", np.arange(starts[r], starts[r] + 4096))
        assert got.shape == (4096,) and want.any()
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("bad", ["lots", 1000, "-5GB"])
def test_max_mem_rejects_unusable_values(tmp_path: Path, bad) -> None:
    with pytest.raises(SettingsError, match="max_mem="):
        gvl.write(tmp_path / "x.gvl", TILES, bigwigs=gvl.BigWigs("bw", {"a": STAT1}), max_mem=bad, progress=False)
    assert not (tmp_path / "x.gvl").exists()


def test_cli_max_mem_writes_the_same_store(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    pl.DataFrame({"sample": ["NA12878", "HG00096"], "path": [STAT1, COVERAGE]}).write_csv(table)
    args = [TILES, "--variants", VCF, "--bigwig-table", f"bw={table}", "--length", "2048", "--quiet"]
    assert cli_main(["write", str(tmp_path / "a.gvl"), *args, "--max-mem", "32MiB"]) == 0
    assert cli_main(["write", str(tmp_path / "b.gvl"), *args]) == 0
    assert _store_files(tmp_path / "a.gvl") == _store_files(tmp_path / "b.gvl")


@pytest.mark.parametrize("variants", [VCF, VCF_NORM])
def test_one_variant_query_per_region_stores_the_same_bytes(tmp_path: Path, monkeypatch, variants) -> None:
    """Every region read by its own variant query (what a small max_mem does to wide inputs):
    records shared by neighbouring queries (overlapping 16 kb windows with jitter) are stored
    once, and the store equals the one-query write byte for byte."""
    write_mod = importlib.import_module("gvl_zarr.write")  # gvl_zarr.write is the function
    kw = dict(variants=variants, length=16384, max_jitter=300, reference=FASTA, samples=SAMPLES, progress=False)
    gvl.write(tmp_path / "one.gvl", TILES, **kw)
    widths: list[int] = []

    def narrow(max_mem: int, n_samples: int, ploidy: int, n_format_fields: int = 0) -> int:
        widths.append(1)
        return 1

    monkeypatch.setattr(write_mod, "_variant_group_width", narrow)
    gvl.write(tmp_path / "many.gvl", TILES, **kw)
    assert widths
    files = _store_files(tmp_path / "one.gvl")
    assert any(k.startswith("variants/") for k in files)
    assert _store_files(tmp_path / "many.gvl") == files


def test_a_bad_bigwig_read_by_a_worker_names_the_file(tmp_path: Path, distinct) -> None:
    """A damaged file among 40 (read in a worker process) raises InputFileError naming it,
    and no dataset is left behind."""
    table, samples = distinct
    paths = pl.read_csv(table)["path"].to_list()
    bad = tmp_path / "damaged.bw"
    bad.write_bytes(Path(paths[0]).read_bytes()[:40])  # a truncated header
    paths[25] = str(bad)
    broken = tmp_path / "broken.csv"
    pl.DataFrame({"sample": samples, "path": paths}).write_csv(broken)
    out = tmp_path / "x.gvl"
    with pytest.raises(gvl.errors.InputFileError, match=r"damaged\.bw is not a readable BigWig"):
        gvl.write(out, TILES, bigwigs=gvl.BigWigs.from_table("bw", broken), length=4096, progress=False)
    assert not out.exists()
