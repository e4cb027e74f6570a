"""Datasets read from a real HTTP server on loopback (through fsspec)."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import gvl_zarr as gvl
from conftest import FASTA

pytest.importorskip("aiohttp")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_root(tiles_dataset: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(tiles_dataset.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_open_over_http_equals_local(http_root: str, tiles_dataset: Path) -> None:
    remote = gvl.Dataset.open(f"{http_root}/{tiles_dataset.name}", reference=FASTA, jitter=0)
    local = gvl.Dataset.open(tiles_dataset, reference=FASTA, jitter=0)
    assert remote.samples == local.samples and remote.n_regions == local.n_regions
    r, s = np.arange(20) % 28, np.arange(20) % 6
    for a, b in zip(remote[r, s], local[r, s], strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_remote_dataset_is_a_clear_error(http_root: str) -> None:
    with pytest.raises(gvl.GvlError, match=r"nothing\.gvl"):
        gvl.Dataset.open(f"{http_root}/nothing.gvl")
