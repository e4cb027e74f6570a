"""Datasets read from a real HTTP server on loopback (through fsspec)."""

from __future__ import annotations

import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import gvl_zarr as gvl
from conftest import FASTA

pytest.importorskip("aiohttp")


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that honours `Range: bytes=a-b` and `bytes=-n`, as object stores do."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not spec or not spec.startswith("bytes=") or not path.is_file():
            return super().send_head()
        data = path.read_bytes()
        first, _, last = spec.removeprefix("bytes=").partition("-")
        if first:
            lo, hi = int(first), min(int(last) + 1 if last else len(data), len(data))
        else:
            lo, hi = max(0, len(data) - int(last)), len(data)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {lo}-{hi - 1}/{len(data)}")
        self.send_header("Content-Length", str(hi - lo))
        self.end_headers()
        self.ranges_served = getattr(self.server, "ranges_served", 0) + 1
        self.server.ranges_served = self.ranges_served
        return io.BytesIO(data[lo:hi])


_SERVERS: list[http.server.ThreadingHTTPServer] = []


@pytest.fixture
def http_root(tiles_dataset: Path) -> Iterator[str]:
    handler = functools.partial(_RangeHandler, directory=str(tiles_dataset.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.ranges_served = 0
    _SERVERS.append(server)
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
    assert _SERVERS[-1].ranges_served > 0  # chunks came by byte range, not whole shards


def test_missing_remote_dataset_is_a_clear_error(http_root: str) -> None:
    with pytest.raises(gvl.GvlError, match=r"nothing\.gvl"):
        gvl.Dataset.open(f"{http_root}/nothing.gvl")
