"""The regions of tests/data/gvl_expected_b/make_expected.py, and its expected files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "data" / "gvl_expected_b"
_spec = importlib.util.spec_from_file_location("gvl_make_expected_b", HERE / "make_expected.py")
assert _spec is not None and _spec.loader is not None
make_expected = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_expected)


def expected(name: str) -> dict[str, np.ndarray]:
    """Arrays of `<name>.npz`, written by GenVarLoader 0.43.1."""
    with np.load(HERE / f"{name}.npz") as z:
        assert str(z["version"]) == "0.43.1"
        return {k: z[k] for k in z.files}
