"""Re-running the scripts that made GenVarLoader 0.43.1's expected files, where it is installed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def gvl_python() -> str | None:
    """GenVarLoader 0.43.1's interpreter: $GVL_PYTHON, or the benchmark's venv."""
    env = os.environ.get("GVL_PYTHON")
    if env:
        return env
    default = Path(__file__).resolve().parents[1] / "benchmarks" / ".venv-gvl" / "bin" / "python"
    return str(default) if default.exists() else None


def assert_reproduces(script: Path, out_dir: Path, expected: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Run `script OUT_DIR` with GenVarLoader's interpreter; every `.npz` named in `expected`
    must hold exactly the committed arrays."""
    subprocess.run([gvl_python(), str(script), str(out_dir)], check=True, capture_output=True)
    for name, want in expected.items():
        with np.load(out_dir / name) as live:
            assert set(live.files) == set(want), name
            for key in live.files:
                np.testing.assert_array_equal(live[key], want[key], err_msg=f"{name}: {key}")
