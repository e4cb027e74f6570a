"""Writes that can be trusted: safe overwrite, checked VCFs, interruptible writes."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import gvl_zarr as gvl
from _inputs import bgzip, edit_record, kit_lines, small_bed, tabix_index
from _oracle import requires_bcftools, run_bcftools
from conftest import FASTA, SAMPLES, TILES, VCF, write_small
from gvl_zarr._vcf_checks import check_tabix


def _bed(tmp: Path, rows=("22\t16100000\t16104096",)) -> str:
    return small_bed(tmp, rows)


# ------------------------------------------------------------------ overwrite safety
def test_overwrite_never_replaces_a_folder_that_is_not_a_dataset(tmp_path) -> None:
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "notes.txt").write_text("keep me")
    (project / "model.pt").write_bytes(b"\x00weights")
    with pytest.raises(gvl.DatasetExistsError, match=r"my_project.*not a gvl_zarr dataset.*nothing was changed"):
        gvl.write(project, _bed(tmp_path), variants=VCF, length=4096, overwrite=True, progress=False)
    assert sorted(p.name for p in project.iterdir()) == ["model.pt", "notes.txt"]
    assert (project / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob("my_project.*"))


def test_overwrite_never_replaces_a_plain_file(tmp_path) -> None:
    target = tmp_path / "data.gvl"
    target.write_text("not a store")
    with pytest.raises(gvl.DatasetExistsError, match=r"data\.gvl is a file"):
        gvl.write(target, _bed(tmp_path), variants=VCF, length=4096, overwrite=True, progress=False)
    assert target.read_text() == "not a store"


def test_overwrite_replaces_a_dataset(tmp_path) -> None:
    out = write_small(tmp_path / "d.gvl", _bed(tmp_path), ["NA12878"], length=4096)
    write_small(tmp_path / "e.gvl", _bed(tmp_path), ["NA12878", "HG00096"], length=4096)
    gvl.write(out, _bed(tmp_path), variants=VCF, length=4096, samples=SAMPLES, overwrite=True, progress=False)
    assert gvl.Dataset.open(out).samples == SAMPLES
    assert not (out / ".gvl_zarr_writer.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("d.gvl")) == ["d.gvl"]


# ------------------------------------------------------------------ VCFs checked, not trusted
def _write_in_subprocess(tmp: Path, vcf: str, bed: str, timeout: float = 120) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        import gvl_zarr as gvl
        try:
            gvl.write({str(tmp / "t.gvl")!r}, {bed!r}, variants={vcf!r}, length=4096, progress=False)
        except gvl.InputFileError as exc:
            print("InputFileError:", exc)
            raise SystemExit(3)
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


def test_truncated_vcf_fails_fast_naming_the_file(tmp_path) -> None:
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(Path(VCF).read_bytes()[:64770])
    shutil.copy(VCF + ".tbi", str(cut) + ".tbi")
    t0 = time.monotonic()
    proc = _write_in_subprocess(tmp_path, str(cut), TILES)  # hung inside htslib before the check
    assert proc.returncode == 3, proc.stderr
    assert "cut.vcf.gz is truncated" in proc.stdout
    assert time.monotonic() - t0 < 120
    assert not (tmp_path / "t.gvl").exists()


def test_truncated_vcf_cut_after_the_regions_is_refused(tmp_path) -> None:
    cut = tmp_path / "cut_late.vcf.gz"
    data = Path(VCF).read_bytes()
    cut.write_bytes(data[: len(data) - 50_000])  # regions at 16.10 Mb lie well before the cut
    shutil.copy(VCF + ".tbi", str(cut) + ".tbi")
    with pytest.raises(gvl.InputFileError, match=r"cut_late\.vcf\.gz is truncated"):
        gvl.write(tmp_path / "t.gvl", _bed(tmp_path), variants=str(cut), length=4096, progress=False)
    assert not (tmp_path / "t.gvl").exists()


@pytest.mark.parametrize("kind", ["tbi", "csi"])
def test_unsorted_vcf_with_stale_index_is_refused(tmp_path, kind) -> None:
    header, records = kit_lines()
    rng = np.random.default_rng(7)
    shuffled = [records[i] for i in rng.permutation(len(records))]
    vcf = bgzip(tmp_path, "shuffled.vcf.gz", header + shuffled, index=False)
    if kind == "tbi":
        shutil.copy(VCF + ".tbi", vcf + ".tbi")  # the index of the sorted file
    else:
        sorted_copy = tmp_path / "sorted.vcf.gz"
        shutil.copy(VCF, sorted_copy)
        tabix_index(str(sorted_copy), csi=True)
        shutil.copy(str(sorted_copy) + ".csi", vcf + ".csi")
        check_tabix(str(sorted_copy), ["22"])  # the CSI of the sorted file matches it
    with pytest.raises(gvl.InputFileError, match=r"index of VCF .*shuffled\.vcf\.gz does not match"):
        gvl.write(tmp_path / "t.gvl", _bed(tmp_path), variants=vcf, length=4096, progress=False)
    assert not (tmp_path / "t.gvl").exists()


def test_plain_gzip_vcf_is_refused(tmp_path) -> None:
    vcf = tmp_path / "plain.vcf.gz"
    with gzip.open(VCF, "rb") as src, gzip.open(vcf, "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(VCF + ".tbi", str(vcf) + ".tbi")
    with pytest.raises(gvl.InputFileError, match=r"plain\.vcf\.gz is plain gzip, not bgzip.*bgzip"):
        gvl.write(tmp_path / "t.gvl", _bed(tmp_path), variants=str(vcf), length=4096, progress=False)


def test_haploid_call_in_diploid_vcf_is_an_error(tmp_path) -> None:
    header, records = kit_lines()

    def make_haploid(fields, samples):
        fields[9 + samples.index("HG00096")] = "1"

    records, pos = edit_record(records, header, 16_100_500, make_haploid)
    vcf = bgzip(tmp_path, "haploid.vcf.gz", header + records)
    with pytest.raises(gvl.InputFileError, match=rf"haploid\.vcf\.gz, record 22:{pos}, sample HG00096: haploid"):
        gvl.write(tmp_path / "t.gvl", _bed(tmp_path), variants=vcf, length=4096, progress=False)


@pytest.mark.parametrize("allele", ["R", "X"])
def test_alt_outside_acgtn_names_the_record(tmp_path, allele) -> None:
    header, records = kit_lines()

    def set_alt(fields, samples):
        fields[4] = allele

    records, pos = edit_record(records, header, 16_100_500, set_alt)
    vcf = bgzip(tmp_path, "iupac.vcf.gz", header + records)
    with pytest.raises(gvl.InputFileError, match=rf"iupac\.vcf\.gz, record 22:{pos}: allele '{allele}'"):
        gvl.write(tmp_path / "t.gvl", _bed(tmp_path), variants=vcf, length=4096, progress=False)


def test_vcf_checks_pass_on_the_real_kit(tmp_path) -> None:
    from gvl_zarr._vcf_checks import check_bgzf, check_tabix

    for vcf in [VCF, VCF.replace(".vcf.gz", ".norm.biallelic.vcf.gz")]:
        check_bgzf(vcf)
        check_tabix(vcf, ["22"], {"22": list(range(16_050_000, 16_500_000, 5_000))})


# ------------------------------------------------------------------ interruptible writes
_LOOP = textwrap.dedent(
    """
    import sys, gvl_zarr as gvl
    out, bed, vcf, fasta = sys.argv[1:5]
    for i in range(200):
        gvl.write(out, bed, variants=vcf, reference=fasta, length=16384, max_jitter=128,
                  overwrite=True, progress=False)
        print("wrote", i, flush=True)
    """
)


def _start_loop(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", _LOOP, str(out), TILES, VCF, FASTA],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(pred, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _partials(out: Path) -> list[Path]:
    return sorted(out.parent.glob(out.name + ".partial-*"))


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.9])
def test_sigint_stops_write_promptly_and_cleans_up(tmp_path, delay) -> None:
    out = tmp_path / "loop.gvl"
    proc = _start_loop(out)
    try:
        _wait_for(lambda: bool(_partials(out)) and out.exists())  # one written, the next under way
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    assert stopped_in < 10, f"took {stopped_in:.1f} s to stop"
    assert _partials(out) == []
    assert not list(tmp_path.glob("loop.gvl.old-*"))
    ds = gvl.Dataset.open(out)  # the last complete write is still there and whole
    assert ds.shape == (28, 2504)


def test_sigterm_stops_write_and_cleans_up(tmp_path) -> None:
    out = tmp_path / "term.gvl"
    proc = _start_loop(out)
    try:
        _wait_for(lambda: bool(_partials(out)) and out.exists())
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    # 143: stopped inside a write, which cleaned up; -SIGTERM: the signal fell between two
    # writes of the loop (the default action then, with nothing half-written)
    assert proc.returncode in (128 + signal.SIGTERM, -signal.SIGTERM)
    assert _partials(out) == []
    assert gvl.Dataset.open(out).shape == (28, 2504)


def test_stale_partial_from_sigkill_is_removed_by_next_write(tmp_path) -> None:
    out = tmp_path / "killed.gvl"
    for _ in range(20):
        proc = _start_loop(out)
        try:
            _wait_for(lambda: bool(_partials(out)) and out.exists())
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            proc.kill()
        if _partials(out):
            break
    stale = _partials(out)
    assert stale, "no write was caught in progress"
    owner = json.loads((stale[0] / ".gvl_zarr_writer.json").read_text())
    assert owner["pid"] == proc.pid
    with pytest.warns(UserWarning, match=r"removed 1 folder\(s\) left by interrupted writes.*partial-"):
        gvl.write(out, _bed(tmp_path), variants=VCF, length=4096, samples=SAMPLES, overwrite=True, progress=False)
    assert _partials(out) == []
    assert gvl.Dataset.open(out).samples == SAMPLES


def test_partial_of_a_live_write_is_kept(tmp_path) -> None:
    from gvl_zarr._partial import claim

    out = tmp_path / "live.gvl"
    live = tmp_path / "live.gvl.partial-abcdef12"
    live.mkdir()
    claim(str(live))  # owned by this (live) process
    gvl.write(out, _bed(tmp_path), variants=VCF, length=4096, samples=SAMPLES, progress=False)
    assert live.exists()


# ------------------------------------------------------------------ inputs that must keep working
def test_pandas_bed_works_without_pyarrow(tmp_path, monkeypatch) -> None:
    import pandas as pd

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    bed = pd.DataFrame({"chrom": ["22"], "chromStart": [16100000], "chromEnd": [16104096], "strand": ["-"]})
    gvl.write(tmp_path / "p.gvl", bed, variants=VCF, length=4096, samples=SAMPLES, progress=False)
    got = gvl.Dataset.open(tmp_path / "p.gvl").get_bed()
    assert got["chromStart"].to_list() == [16100000] and got["strand"].to_list() == ["-"]


@requires_bcftools
def test_bcf_with_csi_index_passes_the_checks(tmp_path) -> None:
    bcf = tmp_path / "kit.bcf"
    run_bcftools("view", "-Ob", "-o", bcf, VCF)
    run_bcftools("index", bcf)  # .csi
    with pytest.warns(UserWarning, match="symbolic"):
        gvl.write(tmp_path / "b.gvl", TILES, variants=str(bcf), length=4096, samples=SAMPLES, progress=False)
    with pytest.warns(UserWarning, match="symbolic"):
        gvl.write(tmp_path / "v.gvl", TILES, variants=VCF, length=4096, samples=SAMPLES, progress=False)
    a = gvl.Dataset.open(tmp_path / "b.gvl", FASTA)[:, :]
    b = gvl.Dataset.open(tmp_path / "v.gvl", FASTA)[:, :]
    np.testing.assert_array_equal(a, b)


def test_cli_write_interrupted_exits_130_and_cleans_up(tmp_path) -> None:
    out = tmp_path / "cli.gvl"
    args = ["write", str(out), TILES, "--variants", VCF, "--reference", FASTA, "--length", "16384", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-m", "gvl_zarr.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: bool(_partials(out)))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "gvl-zarr: interrupted" in err and "Traceback" not in err
    assert _partials(out) == [] and not out.exists()


def test_bgzipped_fasta_without_a_compressed_name_is_refused(tmp_path: Path) -> None:
    """A bgzipped FASTA named `.fa` would be read as text; it is refused naming the fix."""
    for ext in ("", ".fai", ".gzi"):
        shutil.copyfile(FASTA + ext, tmp_path / f"hg38.fa{ext}")
    with pytest.raises(gvl.InputFileError, match=r"hg38\.fa is gzip-compressed.*rename it"):
        gvl.write(tmp_path / "x.gvl", small_bed(tmp_path), variants=VCF, reference=tmp_path / "hg38.fa", progress=False)
    assert not (tmp_path / "x.gvl").exists()
