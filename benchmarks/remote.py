"""Instances/s from an S3 store behind a fixed per-request latency, against local disk.

A moto S3 server runs on loopback; a small proxy in front of it sleeps `--latency-ms` before
forwarding every request (a stand-in for a cloud region's round trip). The same store is read
with random and chunk-aware shuffling (`to_dataloader(shuffle="chunks")`) at `--batch-size`,
from S3 through the proxy and from local disk:

    .venv/bin/python benchmarks/remote.py                   # writes a small store from tests/data
    .venv/bin/python benchmarks/remote.py --store big.gvl --batches 200 --latency-ms 20

Needs the test extra (moto[server], s3fs). Prints one line per (location, shuffle).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def latency_proxy(target: str, latency_s: float) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A threaded HTTP proxy to `target` that waits `latency_s` before each request.

    `server.log` lists every request's (path, Range header); `server.trips` counts round
    trips: requests that arrived while none was in flight (the first of a concurrent wave)."""
    host, port = urlsplit(target).hostname, urlsplit(target).port

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _forward(self) -> None:
            with server.lock:
                server.log.append((self.path, self.headers.get("Range")))
                server.trips += server.inflight == 0
                server.inflight += 1
            try:
                self._send()
            finally:
                with server.lock:
                    server.inflight -= 1

        def _send(self) -> None:
            time.sleep(latency_s)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            conn = http.client.HTTPConnection(host, port, timeout=60)
            conn.request(self.command, self.path, body=body or None, headers=dict(self.headers))
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.log, server.lock, server.trips, server.inflight = [], threading.Lock(), 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def small_store(folder: Path) -> Path:
    """The tests' tile dataset: 28 regions x 6 samples, reference stored inside."""
    import gvl_zarr as gvl

    path = folder / "tiles.gvl"
    gvl.write(
        path,
        DATA / "tiles_16384.grch37.chr22_vcf_span.bed",
        variants=DATA / "1kgp3.chr22_16.05-16.50Mb.2504s.vcf.gz",
        length=4096,
        max_jitter=64,
        reference=DATA / "grch37.chr22_1-22000000.fa.bgz",
        progress=False,
    )
    return path


def measure(ds, shuffle: str, batch_size: int, n_batches: int) -> float:
    """Instances/s over at most `n_batches` batches of one epoch (after one warm-up batch)."""
    loader = ds.to_dataloader(batch_size=batch_size, shuffle=shuffle, seed=0)
    it = iter(loader)
    next(it)
    n, start = 0, time.perf_counter()
    for i, batch in enumerate(it):
        n += len(batch[0] if isinstance(batch, tuple) else batch)
        if i + 1 >= n_batches:
            break
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a local gvl_zarr store (default: write a small one)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=50, help="batches timed per case")
    parser.add_argument("--cache-bytes", default="64MiB", help="decoded-chunk cache of each dataset")
    args = parser.parse_args(argv)

    import s3fs
    from moto.server import ThreadedMotoServer

    import gvl_zarr as gvl

    for name in ("werkzeug", "moto", "botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="gvl_zarr-remote-bench-") as tmp:
        store = args.store or small_store(Path(tmp))
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        direct = f"http://{host}:{port}"
        proxy, slow = latency_proxy(direct, args.latency_ms / 1000)
        try:
            options = {"key": "bench", "secret": "bench"}
            s3 = s3fs.S3FileSystem(**options, client_kwargs={"endpoint_url": direct, "region_name": "us-west-2"})
            s3.mkdir("bench")
            s3.put(str(store), "bench/store.gvl", recursive=True)
            remote_options = {**options, "client_kwargs": {"endpoint_url": slow, "region_name": "us-west-2"}}
            print(f"store {store}; {args.latency_ms:g} ms per request; batch {args.batch_size}")
            for where, location, extra in (
                ("local", store, {}),
                ("s3+latency", "s3://bench/store.gvl", {"storage_options": remote_options}),
            ):
                for shuffle in ("random", "chunks"):
                    t0 = time.perf_counter()
                    ds = gvl.Dataset.open(location, cache_bytes=args.cache_bytes, preload=False, **extra)
                    opened = time.perf_counter() - t0
                    rate = measure(ds, shuffle, args.batch_size, args.batches)
                    print(f"{where:11s} shuffle={shuffle:6s} open {opened * 1000:7.0f} ms  {rate:10.1f} instances/s")
        finally:
            proxy.shutdown()
            moto.stop()


if __name__ == "__main__":
    sys.exit(main())
