"""The notebooks run as committed (nbclient, a real kernel) on the bundled kit, and keep their plots.

Each notebook is executed in a scratch ``notebooks/`` folder beside a link to
``tests/`` (its paths are ``../tests/data/...``), with one extra cell appended that
checks what it computed. The committed copies must carry their outputs, plots
included, because the docs site renders them without executing them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "quickstart": """
assert tuple(haps.shape) == (8, 2, 2048) and tuple(tracks.shape) == (8, 2, 2048)
assert np.asarray(diff).shape == (28,)
# The insertion G>GA: the carrying haplotype is the reference with an A after the anchor,
# and its track repeats the anchor's value; the other haplotype is the reference.
other = 1 - carrier
assert indel_haps[other].tobytes() == ref.tobytes()
want = ref[: anchor + 1].tobytes() + b"A" + ref[anchor + 1 : -1].tobytes()
assert indel_haps[carrier].tobytes() == want
want_track = np.concatenate([ref_track[: anchor + 1], ref_track[anchor : anchor + 1], ref_track[anchor + 1 : -1]])
np.testing.assert_array_equal(indel_tracks[carrier], want_track)
np.testing.assert_array_equal(indel_tracks[other], ref_track)
""",
    "xarray_analysis": """
from pathlib import Path
for name in ("na12878_stat1_indel.png", "alt_calls_by_population.png"):
    png = (Path("outputs") / name).read_bytes()
    assert png.startswith(b"\\x89PNG") and len(png) > 10_000, name
assert aligned  # the realigned track is the reference track shifted by the indel
assert len(indels) >= 3
assert calls.shape == (28, 5) and sorted(calls.super_pop.values) == ["AFR", "AMR", "EAS", "EUR", "SAS"]
_pops = np.array([pops[s] for s in ds.samples])
np.testing.assert_allclose(calls.sel(super_pop="EAS").values, ds.n_variants().sum(-1)[:, _pops == "EAS"].mean(1))
""",
    "training": """
assert len(losses) == STEPS
assert np.mean(losses[-20:]) < np.mean(losses[:20])
assert pred.shape == y.shape == (2 * len(valid), 1, LENGTH)
assert np.isfinite(valid_loss)
""",
}


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert _images(nb) >= 1, f"commit notebooks/{name}.ipynb with its outputs (no plot stored)"
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[name]))
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / "notebooks").mkdir()
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path / "notebooks")}}
    )
    client.execute()
    assert _images(nb) >= 1
