"""Regenerate the table of docs/errors.md from tests/_catalogue.py, with each case's message.

    .venv/bin/python scripts/errors_catalogue.py

Runs every case (as tests/test_catalogue.py does) in a temporary folder and rewrites the part
of docs/errors.md between the two `catalogue` markers.
"""

from __future__ import annotations

import re
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _catalogue import CASES  # noqa: E402
from conftest import TILES, write_small  # noqa: E402

BEGIN, END = "<!-- catalogue:begin -->", "<!-- catalogue:end -->"


def _message(text: str, tmp: str) -> str:
    text = text.replace(tmp, "…").replace(str(ROOT / "tests" / "data"), "tests/data")
    text = re.sub(r"\s+", " ", text)
    text = text if len(text) <= 260 else text[:257] + "…"
    return text.replace("|", "\\|")


def main() -> None:
    rows = ["| id | input or misuse | error | message (example) |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = write_small(Path(tmp) / "tiles.gvl", TILES, ["NA12878", "HG00096"], length=4096, max_jitter=64)
        section = None
        for i, case in enumerate(CASES):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            try:
                case.setup(work, store)()
            except Exception as exc:  # the case's error: its message goes into the table
                message = _message(f"{exc}", str(work))
                found = type(exc).__name__
            else:
                raise SystemExit(f"case {case.id} raised nothing")
            if found != case.error.__name__:
                raise SystemExit(f"case {case.id} raised {found}, the catalogue says {case.error.__name__}")
            if case.section != section:
                section = case.section
                rows.append(f"| **{section}** | | | |")
            rows.append(f"| `{case.id}` | {case.what} | `{found}` | {message} |")
    doc = ROOT / "docs" / "errors.md"
    text = doc.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n" + "\n".join(rows) + f"\n{END}{tail}")
    print(f"wrote {len(CASES)} rows to {doc}")


if __name__ == "__main__":
    main()
