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
