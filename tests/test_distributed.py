"""Partitioned writes: a dask cluster, the staged CLI steps and the serial write give one store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import distributed
import numpy as np
import pytest
import zarr

import gvl_zarr as gvl
from conftest import COVERAGE, FASTA, SAMPLES, TILES, VCF, VCF_NORM, bigwig_table
from gvl_zarr import _plan, staged
from gvl_zarr.cli import main
from gvl_zarr.errors import IncompleteDatasetError, InputFileError

PARTITIONS = {"regions_per_partition": 8, "samples_per_partition": 1024}
"""4 region blocks × 3 sample blocks of the 28 tiles × 2,504 samples."""


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Write arguments: every kit sample, variants, one BigWig track, an annotation track, reference."""
    import cyvcf2

    samples = cyvcf2.VCF(VCF).samples
    table = bigwig_table(tmp_path_factory.mktemp("table"), samples)
    return {
        "bed": TILES,
        "variants": VCF,
        "table": table,
        "length": 4096,
        "max_jitter": 64,
        "reference": FASTA,
        "annot_bigwigs": {"cov": COVERAGE},
    }


def _write(path: Path, kit: dict, **kw) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the kit's symbolic ALTs
        gvl.write(
            path,
            kit["bed"],
            variants=kit["variants"],
            bigwigs=gvl.BigWigs.from_table("bigwig", kit["table"]),
            length=kit["length"],
            max_jitter=kit["max_jitter"],
            reference=kit["reference"],
            annot_bigwigs=kit["annot_bigwigs"],
            progress=False,
            **kw,
        )
    return path


def _cli_args(out: Path, kit: dict) -> list[str]:
    return [
        str(out), kit["bed"], "--variants", kit["variants"], "--bigwig-table", f"bigwig={kit['table']}",
        "--length", str(kit["length"]), "--max-jitter", str(kit["max_jitter"]), "--reference", kit["reference"],
        "--annot-bigwig", f"cov={kit['annot_bigwigs']['cov']}",
        "--regions-per-partition", str(PARTITIONS["regions_per_partition"]),
        "--samples-per-partition", str(PARTITIONS["samples_per_partition"]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, kit: dict) -> Path:
    return _write(tmp_path_factory.mktemp("serial") / "serial.gvl", kit, **PARTITIONS)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _arrays(group: zarr.Group, prefix: str = "") -> dict[str, zarr.Array]:
    out = {}
    for name, member in group.members():
        if isinstance(member, zarr.Array):
            out[prefix + name] = member
        else:
            out.update(_arrays(member, f"{prefix}{name}/"))
    return out


def assert_same_store(a: Path, b: Path) -> None:
    """Every array equal (values, dtype, chunks, shards) and every attribute but provenance."""
    ga, gb = zarr.open_group(a, mode="r"), zarr.open_group(b, mode="r")
    arrays_a, arrays_b = _arrays(ga), _arrays(gb)
    assert sorted(arrays_a) == sorted(arrays_b)
    assert {"genotypes/offsets", "tracks/bigwig/starts", "tracks/cov/offsets", "reference/sequence"} <= set(arrays_a)
    for name, x in arrays_a.items():
        y = arrays_b[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.metadata.to_dict() == y.metadata.to_dict(), name
        assert np.array_equal(x[...], y[...]), name
    attrs_a, attrs_b = dict(ga.attrs), dict(gb.attrs)
    attrs_a.pop("provenance")
    attrs_b.pop("provenance")
    attrs_a.pop("consolidated_metadata", None)
    attrs_b.pop("consolidated_metadata", None)
    assert attrs_a == attrs_b


BOUNDARY_SAMPLES = [0, 1, 500, 1023, 1024, 1025, 2047, 2048, 2049, 2400, 2503]
"""Samples on both sides of the 1,024-sample partition edges (all of them: 2.9 GB decoded)."""


def _decoded(path: Path) -> tuple[np.ndarray, ...]:
    ds = gvl.Dataset.open(path).with_settings(return_tracks=["bigwig", "cov"], jitter=0)
    return tuple(np.asarray(x) for x in ds[:, BOUNDARY_SAMPLES])


def test_cluster_write_equals_serial_write_array_by_array(tmp_path: Path, kit: dict, serial: Path, client) -> None:
    """12 partitions on a 2-process LocalCluster store exactly what the serial write stores."""
    out = _write(tmp_path / "cluster.gvl", kit, client=client, **PARTITIONS)
    assert_same_store(out, serial)
    assert not list(tmp_path.glob("cluster.gvl.partial-*"))


def test_threaded_workers_write_the_same_store(tmp_path: Path, kit: dict, serial: Path) -> None:
    """Two partitions at once in one process (a threaded worker) launch the parallel call
    kernels one at a time: numba's workqueue layer aborts the process on concurrent launches."""
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as threaded,
    ):
        out = _write(tmp_path / "threads.gvl", kit, client=threaded, **PARTITIONS)
    assert_same_store(out, serial)


def test_outputs_do_not_depend_on_partition_sizes(tmp_path: Path, kit: dict, serial: Path) -> None:
    """Haplotypes and tracks of the 12-partition store equal those of a one-partition write
    (the default here), which writes straight into the store as before."""
    plan_sizes = _plan.partition_sizes(28, 2504, 2, 2 << 30, None, None)
    assert plan_sizes == (28, 2504)
    whole = _write(tmp_path / "whole.gvl", kit)
    got, want = _decoded(serial), _decoded(whole)
    assert got[0].shape == (28, len(BOUNDARY_SAMPLES), 2, 4096)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert any(np.any(t) for t in got[1:])


@pytest.mark.parametrize("variants", [VCF, VCF_NORM])
def test_records_shared_across_region_blocks_read_the_same(tmp_path: Path, variants: str) -> None:
    """Overlapping 16 kb windows (+300 bp jitter) cut into blocks of 3 regions × 5 samples (not
    whole grid shards): records reached from two region blocks are stored in each, and every
    haplotype and track equals the one-partition write's."""
    table = bigwig_table(tmp_path, SAMPLES)
    kw = dict(variants=variants, length=16384, max_jitter=300, reference=FASTA, samples=SAMPLES, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gvl.write(tmp_path / "one.gvl", TILES, bigwigs=gvl.BigWigs.from_table("bw", table), **kw)
        gvl.write(
            tmp_path / "blocks.gvl", TILES, bigwigs=gvl.BigWigs.from_table("bw", table), **kw,
            regions_per_partition=3, samples_per_partition=5,
        )  # fmt: skip
    n_one = zarr.open_group(tmp_path / "one.gvl", mode="r")["variants/pos"].shape[0]
    n_blocks = zarr.open_group(tmp_path / "blocks.gvl", mode="r")["variants/pos"].shape[0]
    assert n_blocks > n_one  # records at block edges stored once per block
    for jitter in (0, 300):  # a fixed jitter per instance at 300: the whole stored span is read
        got, want = (
            gvl.Dataset.open(tmp_path / name).with_settings(
                return_tracks="bw", jitter=jitter, seed=7, fixed_jitter=True
            )
            for name in ("blocks.gvl", "one.gvl")
        )
        for g, w in zip(got[:, :], want[:, :], strict=True):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_cli_steps_give_the_same_store(tmp_path: Path, kit: dict, serial: Path, capsys) -> None:
    out = tmp_path / "cli.gvl"
    assert main(["write-init", *_cli_args(out, kit)]) == 0
    n = int(capsys.readouterr().out.strip().splitlines()[0])
    assert n == 12
    for k in reversed(range(n)):  # any order
        assert main(["write-partition", str(out), str(k)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(["write-finalise", str(out)]) == 0
    assert_same_store(out, serial)
    assert not Path(_plan.staged_path(out)).exists()


def test_a_killed_partition_is_named_then_rerun(tmp_path: Path, kit: dict, serial: Path, capsys) -> None:
    """A partition whose run died half-way (part files cut short, no done marker) is named by
    write-finalise with the command to run; rerunning it gives the same store."""
    out = tmp_path / "killed.gvl"
    subprocess.run(
        [sys.executable, "-m", "gvl_zarr.cli", "write-init", *_cli_args(out, kit)], check=True, capture_output=True
    )
    folder = Path(_plan.staged_path(out))
    for k in range(12):
        main(["write-partition", str(out), str(k)])
    part = folder / "_parts" / "5"
    (part / "done.json").unlink()
    calls = part / "genotypes" / "variant_index.bin"
    calls.write_bytes(calls.read_bytes()[:100])
    capsys.readouterr()
    assert main(["write-finalise", str(out)]) == 2
    err = capsys.readouterr().err
    assert "partition(s): 5 " in err and f"gvl-zarr write-partition {out} K" in err and "K=5" in err
    with pytest.raises(IncompleteDatasetError, match=r"missing 1 of its 12 partition\(s\): 5 "):
        staged.write_finalise(out)
    assert not out.exists()
    # a partition killed by a signal mid-way leaves the same kind of part: rerun it
    proc = subprocess.run([sys.executable, "-m", "gvl_zarr.cli", "write-partition", str(out), "5"], check=True)
    assert proc.returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        staged.write_finalise(out)
    assert_same_store(out, serial)


def test_partition_refuses_changed_inputs(tmp_path: Path, kit: dict, capsys) -> None:
    bed = tmp_path / "regions.bed"
    shutil.copy(kit["bed"], bed)
    out = tmp_path / "changed.gvl"
    args = _cli_args(out, kit)
    args[1] = str(bed)
    assert main(["write-init", *args]) == 0
    with open(bed, "a") as fh:
        fh.write("22\t16100000\t16116384\n")
    with pytest.raises(InputFileError, match=rf"changed since the write of {out} was planned: {bed} \(size"):
        staged.write_partition(out, 0)
    capsys.readouterr()
    assert main(["write-partition", str(out), "0"]) == 2
    assert "write-init" in capsys.readouterr().err


def test_finalise_without_init_and_unknown_partition(tmp_path: Path, kit: dict) -> None:
    out = tmp_path / "none.gvl"
    with pytest.raises(IncompleteDatasetError, match="gvl-zarr write-init"):
        staged.write_finalise(out)
    main(["write-init", *_cli_args(out, kit)])
    with pytest.raises(gvl.errors.SettingsError, match="partitions 0 to 11"):
        staged.write_partition(out, 12)
    with pytest.raises(gvl.errors.SettingsError, match="regions_per_partition must be a positive whole number, got 0"):
        gvl.write(tmp_path / "zero.gvl", TILES, variants=VCF, length=4096, regions_per_partition=0)


def test_cluster_write_to_s3(tmp_path: Path, kit: dict, serial: Path, client, s3) -> None:
    """A remote destination with a client: partitions are written on the cluster into a local
    staging folder, which is then uploaded with the completion marker last."""
    url = f"s3://{s3.bucket()}/cluster.gvl"
    _write(url, kit, client=client, storage_options=s3.options, **PARTITIONS)
    local = tmp_path / "downloaded.gvl"
    s3.filesystem().get(url.removeprefix("s3://"), str(local), recursive=True)
    assert_same_store(local, serial)


def test_client_auto_uses_the_active_client(tmp_path: Path, kit: dict, serial: Path, client) -> None:
    """client="auto" finds the active client (a write here would not touch the cluster)."""
    with distributed.get_task_stream(client=client) as ts:  # every task the workers ran
        out = _write(tmp_path / "auto.gvl", kit, client="auto", **PARTITIONS)
    assert sum(str(t["key"]).startswith("run_partition") for t in ts.data) == 12
    assert_same_store(out, serial)


_MEMORY_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import gvl_zarr as gvl
out, bed = sys.argv[1:3]
gvl.write(out, bed, variants={vcf!r}, progress=False, max_mem="64MiB")
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"hwm": int(status["VmHWM"].split()[0]) * 1024}}))
"""


def test_offsets_grids_stay_within_max_mem_at_cohort_width(tmp_path: Path) -> None:
    """1,500 overlapping regions × 2,504 samples: a whole genotype offsets grid takes 120 MB
    beside the 64 MiB budget (a write holding it peaked at 394 MB here, above the bound);
    written in 256 × 2,048 blocks the writer peaked at 275 MB, within max_mem + 300 MB."""
    n = 1500
    starts = 16_060_000 + np.arange(n) * 100
    bed = tmp_path / "many.bed"
    bed.write_text("".join(f"22\t{s}\t{s + 128}\n" for s in starts))
    assert _plan.partition_sizes(n, 2504, 2, 64 << 20, None, None) == (256, 2048)
    out = tmp_path / "many.gvl"
    run = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT.format(vcf=VCF), str(out), str(bed)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    peak = json.loads(run.stdout.strip().splitlines()[-1])
    assert peak["hwm"] <= (64 << 20) + (300 << 20), peak
    offsets = zarr.open_group(out, mode="r")["genotypes/offsets"]
    assert offsets.shape == (n, 2504, 2, 2)
    ends = offsets[...][..., 1]
    assert ends.max() == zarr.open_group(out, mode="r")["genotypes/variant_index"].shape[0]


@pytest.mark.parametrize("damage", ["truncated", "removed"])
def test_bigwig_unreadable_mid_write_names_it_and_leaves_nothing(tmp_path: Path, damage: str, monkeypatch) -> None:
    """A BigWig cut short or removed while a 4-partition write runs (here: as the second
    partition starts its track) raises InputFileError naming the file; no dataset and no
    partial folder are left at the output path."""
    bw = tmp_path / "signal.bw"
    shutil.copy(COVERAGE, bw)
    samples = ["NA12878", "HG00096"]
    table = bigwig_table(tmp_path, samples, [str(bw), COVERAGE])
    write_mod = sys.modules["gvl_zarr.write"]
    real, calls = write_mod._write_track, []

    def damaging(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            data = bw.read_bytes()
            bw.write_bytes(data[: len(data) // 2]) if damage == "truncated" else bw.unlink()
        return real(*args, **kwargs)

    monkeypatch.setattr(write_mod, "_write_track", damaging)
    out = tmp_path / "damaged.gvl"
    with pytest.raises(InputFileError, match=rf"{bw}"):
        gvl.write(
            out, TILES, variants=VCF, bigwigs=gvl.BigWigs.from_table("bigwig", table), length=4096,
            samples=samples, progress=False, regions_per_partition=8,
        )  # fmt: skip
    assert len(calls) == 2
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("damaged.gvl")]


def test_bigwig_changed_after_planning_is_refused_by_its_partition(tmp_path: Path, kit: dict) -> None:
    bw = tmp_path / "signal.bw"
    shutil.copy(COVERAGE, bw)
    out = tmp_path / "planned.gvl"
    staged.write_init(out, TILES, bigwigs=gvl.BigWigs("cov", {"NA12878": bw}), length=4096, regions_per_partition=8)
    data = bw.read_bytes()
    bw.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=rf"{bw} \(size"):
        staged.write_partition(out, 0)
