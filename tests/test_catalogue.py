"""Every malformed input and misuse of docs/errors.md gives its documented gvl_zarr error,
naming the file or value, and damages nothing already on disk."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import pytest

import gvl_zarr as gvl
from _catalogue import CASES, Case
from conftest import DATA

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
_ROW = re.compile(r"^\| `(?P<id>[a-z0-9_]+)` \| (?P<what>.+?) \| `(?P<error>\w+)` \|")


def _snapshot(*roots: Path) -> dict[str, tuple[int, str]]:
    """Size and content hash of every file under `roots` (folders included as entries)."""
    seen: dict[str, tuple[int, str]] = {}
    for root in roots:
        for dirpath, dirnames, files in os.walk(root):
            for d in dirnames:
                seen[os.path.join(dirpath, d)] = (-1, "")
            for f in files:
                p = os.path.join(dirpath, f)
                data = Path(p).read_bytes()
                seen[p] = (len(data), hashlib.blake2b(data, digest_size=16).hexdigest())
    return seen


def doc_rows() -> dict[str, str]:
    """{case id: error class} of the table in docs/errors.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            rows[m["id"]] = m["error"]
    return rows


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_its_documented_error(case: Case, tmp_path: Path, tiles_dataset: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # symbolic-allele warnings of the kit VCF while setting up
        action = case.setup(work, tiles_dataset)
    before = _snapshot(work, tiles_dataset, DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(case.error) as info:
            action()
    assert isinstance(info.value, gvl.GvlError), f"{type(info.value).__name__}: {info.value}"
    assert type(info.value) is case.error or case.error is not gvl.InputFileError, type(info.value)
    assert re.search(case.names, str(info.value)), f"message does not name {case.names!r}: {info.value}"
    assert _snapshot(work, tiles_dataset, DATA) == before, "files on disk changed"


def test_doc_table_lists_every_case_with_its_error() -> None:
    rows = doc_rows()
    assert len(rows) >= 40
    assert rows == {c.id: c.error.__name__ for c in CASES}
