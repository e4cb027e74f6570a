"""The documentation: the site builds without warnings, and every example in it runs.

Examples are the fenced code blocks of ``README.md`` and ``docs/**/*.md``:

* ``python`` blocks run page by page, in order, in one namespace per page;
* shell blocks (``bash``, ``console``, ``sh``, ``shell``) run the lines that call
  ``gvl-zarr`` (with ``\\`` continuations), through ``python -m gvl_zarr.cli``; their
  other lines (installs, benchmarks) are not run here.

Each page runs in a fresh folder holding the files the examples name, made from the
bundled kit (the table is in ``docs/getting_started.md``, "How the examples are tested").
A page that writes ``cool_dataset.gvl`` itself starts without it; the others get a copy
written from those files.
"""

from __future__ import annotations

import gzip
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from markdown_it import MarkdownIt

import gvl_zarr as gvl
from conftest import COVERAGE, FASTA, GENES, STAT1, TILES, VCF

DATA = Path(__file__).resolve().parent / "data"
EXONS = DATA / "exons.grch37.chr22_16.05-22Mb.spliceai_gencode.bed"
COHORT = DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.norm.biallelic"
DOSAGES = DATA / "dosages.chr22_16.049-16.140Mb.6s.vcf.gz"
CTCF_ANCHORS = DATA / "GM12878_CTCF_ChIA-PET_Tang2015_anchors.grch37.chr22_16.05-22Mb.bed"

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHELLS = {"bash", "console", "sh", "shell"}
DOC_SAMPLES = [
    "NA12878",
    "HG00096",
    "HG00097",
    "HG00099",
    "HG00100",
    "NA18486",
    "NA19238",
    "HG01595",
    "NA18488",
    "NA19239",
    "HG00101",
    "HG00102",
]
"""Samples of ``samples_to_bigwigs.csv``; tracks alternate STAT1 and WGS coverage."""


@dataclass(frozen=True)
class Block:
    """One runnable code block: its language, source and first line in the page."""

    lang: str
    source: str
    line: int


def doc_pages() -> list[Path]:
    """README.md and every Markdown page of the site (generated and built files excluded)."""
    pages = [ROOT / "README.md"]
    for page in sorted(DOCS.rglob("*.md")):
        rel = page.relative_to(DOCS).parts
        if rel[0] not in ("_build", "generated", "notebooks"):
            pages.append(page)
    return pages


def shell_commands(source: str) -> list[str]:
    """The ``gvl-zarr`` commands of a shell block, continuation lines joined."""
    joined = source.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        if line.startswith("gvl-zarr "):
            commands.append(line)
    return commands


def runnable_blocks(page: Path) -> list[Block]:
    """The blocks of ``page`` this test runs, in page order."""
    blocks = []
    for token in MarkdownIt("commonmark").parse(page.read_text()):
        if token.type != "fence":
            continue
        lang = token.info.strip().split()[0] if token.info.strip() else ""
        line = token.map[0] + 1 if token.map else 0
        if lang == "python" or (lang in SHELLS and shell_commands(token.content)):
            blocks.append(Block(lang, token.content, line))
    return blocks


PAGES = [p for p in doc_pages() if runnable_blocks(p)]


def _writes_dataset(blocks: list[Block]) -> bool:
    return any("cool_dataset.gvl" in b.source and ("gvl.write(" in b.source or "gvl-zarr" in b.source) for b in blocks)


@pytest.fixture(scope="session")
def doc_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with every file the examples name, and ``cool_dataset.gvl`` written from them."""
    root = tmp_path_factory.mktemp("doc_inputs")
    # Plain text: pyfaidx tells a bgzipped FASTA by its .gz/.bgz name, which hg38.fa lacks.
    with gzip.open(FASTA, "rb") as src, open(root / "hg38.fa", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copyfile(f"{FASTA}.fai", root / "hg38.fa.fai")  # offsets are uncompressed: the same index
    for suffix in ("", ".tbi"):
        (root / f"cool_variants.vcf.gz{suffix}").symlink_to(f"{VCF}{suffix}")
    shutil.copyfile(TILES, root / "interesting_regions.bed")
    lines = Path(TILES).read_text().splitlines(keepends=True)
    (root / "train_regions.bed").write_text("".join(lines[:20]))
    (root / "valid_regions.bed").write_text("".join(lines[20:]))
    for suffix in ("", ".tbi"):
        (root / f"imputed.vcf.gz{suffix}").symlink_to(f"{DOSAGES}{suffix}")
    for suffix in (".vcf.gz", ".vcf.gz.tbi", ".pgen", ".pvar", ".psam"):
        (root / f"cohort{suffix}").symlink_to(f"{COHORT}{suffix}")
    vcf2zarr = [sys.executable, "-m", "bio2zarr", "vcf2zarr", "convert", "-Q", "-p", "0"]
    subprocess.run([*vcf2zarr, root / "cohort.vcf.gz", root / "cohort.vcz"], check=True, capture_output=True)
    shutil.copyfile(GENES, root / "genes.bed")
    shutil.copyfile(CTCF_ANCHORS, root / "peaks.bed")
    _exon_bed(root / "exons.bed", genes=("POTEH", "OR11H1"))
    paths = [STAT1 if i % 2 == 0 else COVERAGE for i in range(len(DOC_SAMPLES))]
    table = pl.DataFrame({"sample": DOC_SAMPLES, "path": paths})
    table.write_csv(root / "samples_to_bigwigs.csv")
    table.with_columns(path=pl.lit(COVERAGE)).write_csv(root / "samples_to_coverage.csv")
    (root / "GM12878_STAT1.bw").symlink_to(STAT1)
    stores = {
        "cool_dataset.gvl": ("interesting_regions.bed", table),
        "train.gvl": ("train_regions.bed", table),
        "valid.gvl": ("valid_regions.bed", table),
        "batch1.gvl": ("interesting_regions.bed", table[:6]),
        "batch2.gvl": ("interesting_regions.bed", table[6:]),
    }
    for name, (bed, samples) in stores.items():
        samples.write_csv(root / "store_samples.csv")
        gvl.write(
            root / name,
            root / bed,
            variants=root / "cool_variants.vcf.gz",
            bigwigs=gvl.BigWigs.from_table("bigwig", root / "store_samples.csv"),
            reference=root / "hg38.fa",
            length=2048,
            max_jitter=128,
            progress=False,
        )
    (root / "store_samples.csv").unlink()
    n = gvl.Dataset.open(root / "cool_dataset.gvl").n_samples
    np.save(root / "total_counts.npy", np.random.default_rng(0).uniform(1e6, 5e6, n).astype(np.float32))
    return root


def _exon_bed(out: Path, genes: tuple[str, ...]) -> None:
    """The kit exon BED (header line kept) cut to the exons of `genes`' transcripts."""
    header, *rows = EXONS.read_text().splitlines(keepends=True)
    out.write_text(header + "".join(r for r in rows if r.split("\t")[6] in genes))


def _workspace(doc_inputs: Path, dest: Path, *, with_dataset: bool) -> Path:
    for item in doc_inputs.iterdir():
        if item.name == "cool_dataset.gvl":
            if with_dataset:
                shutil.copytree(item, dest / item.name)
        elif item.is_dir():
            shutil.copytree(item, dest / item.name)
        elif item.is_symlink():
            (dest / item.name).symlink_to(item.readlink())
        else:
            shutil.copyfile(item, dest / item.name)
    return dest


def _run_shell(page: Path, block: Block, cwd: Path) -> None:
    for command in shell_commands(block.source):
        args = [sys.executable, "-m", "gvl_zarr.cli", *shlex.split(command)[1:]]
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{page.name}:{block.line}: `{command}` exited {proc.returncode}\n{proc.stderr}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_doc_examples_run(page: Path, doc_inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of the page runs, in order, against the kit-made files."""
    blocks = runnable_blocks(page)
    cwd = _workspace(doc_inputs, tmp_path, with_dataset=not _writes_dataset(blocks))
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        if block.lang == "python":
            exec(compile(block.source, f"{page.relative_to(ROOT)}:{block.line}", "exec"), namespace)
        else:
            _run_shell(page, block, cwd)
    assert (cwd / "cool_dataset.gvl" / "zarr.json").exists()


def test_block_extraction_finds_every_kind() -> None:
    """The extractor sees README's Python and gvl-zarr blocks and ignores install commands."""
    blocks = runnable_blocks(ROOT / "README.md")
    assert {b.lang for b in blocks} >= {"python", "bash"}
    commands = [c for b in blocks if b.lang == "bash" for c in shell_commands(b.source)]
    assert commands
    assert all(c.startswith("gvl-zarr ") for c in commands)
    assert shell_commands("pip install x\ngvl-zarr write a.gvl \\\n  b.bed --length 5\n") == [
        "gvl-zarr write a.gvl    b.bed --length 5"
    ]


def test_benchmark_plots(tmp_path: Path) -> None:
    """docs/plot_benchmarks.py draws its three figures from the committed results."""
    proc = subprocess.run(
        [sys.executable, str(DOCS / "plot_benchmarks.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("benchmark_throughput.png", "benchmark_memory.png", "benchmark_scaling.png"):
        png = (tmp_path / name).read_bytes()
        assert png.startswith(b"\x89PNG")
        assert (DOCS / "_static" / name).exists(), f"commit docs/_static/{name} (python docs/plot_benchmarks.py)"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    """``sphinx-build -W`` (warnings are errors) builds the site, notebooks and API included."""
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(tmp_path / "doctrees")]
    proc = subprocess.run([*cmd, str(DOCS), str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-5000:]
    pages = ["index", "getting_started", "api", "cli", "format", "design", "benchmarks", "tutorials/read"]
    pages += ["xarray", "inputs", "track_management", "from_genvarloader", "errors"]
    for page in pages:
        assert (out / f"{page}.html").exists(), page
    assert "gvl_zarr.Dataset.with_settings" in (out / "generated" / "gvl_zarr.Dataset.html").read_text()
    for name in ("update", "concat", "RefDataset"):
        assert (out / "generated" / f"gvl_zarr.{name}.html").exists(), name
    cli = (out / "cli.html").read_text()
    assert "--max-jitter" in cli
    assert 'id="gvl-zarr-validate"' in cli and 'id="gvl-zarr-info"' in cli
    for notebook in ("quickstart", "training", "xarray_analysis"):
        html = (out / "notebooks" / f"{notebook}.html").read_text()
        assert "<img" in html, f"{notebook}: no stored plot in the rendered notebook"
