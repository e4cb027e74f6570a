"""The quickstart notebook's code runs as written (against the bundled data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_runs(tmp_path, monkeypatch) -> None:
    nb = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    (tmp_path / "nb").mkdir()
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path / "nb")
    scope: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "quickstart.ipynb", "exec"), scope)
    assert scope["haps"].shape == (8, 2, 2048)
    assert np.asarray(scope["diff"]).shape == (28,)


def test_xarray_notebook_runs_and_saves_its_figures(tmp_path, monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    nb = json.loads((ROOT / "notebooks" / "xarray_analysis.ipynb").read_text())
    (tmp_path / "nb").mkdir()
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path / "nb")
    scope: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "xarray_analysis.ipynb", "exec"), scope)
    for name in ("na12878_stat1_indel.png", "alt_calls_by_population.png"):
        png = (tmp_path / "nb" / "outputs" / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
    assert scope["aligned"]  # the realigned track is the reference track shifted by the indel
    assert len(scope["indels"]) >= 3
    calls = scope["calls"]
    assert calls.shape == (28, 5) and sorted(calls.super_pop.values) == ["AFR", "AMR", "EAS", "EUR", "SAS"]
    ds, pops = scope["ds"], np.array([scope["pops"][s] for s in scope["ds"].samples])
    per_sample = ds.n_variants().sum(-1)
    np.testing.assert_allclose(calls.sel(super_pop="EAS").values, per_sample[:, pops == "EAS"].mean(1))
