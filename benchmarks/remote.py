"""Instances/s from an S3 store behind a fixed per-request latency, against local disk.

A moto S3 server runs on loopback; a small proxy in front of it sleeps `--latency-ms` before
forwarding every request (a stand-in for a cloud region's round trip). The same store is read
with random and chunk-aware shuffling (`to_dataloader(shuffle="chunks")`) at `--batch-size`,
from S3 through the proxy and from local disk:

    .venv/bin/python benchmarks/remote.py                   # writes a small store from tests/data
    .venv/bin/python benchmarks/remote.py --store big.gvl --batches 200 --latency-ms 20
    .venv/bin/python benchmarks/remote.py --store big.gvl --shuffles chunks --prefetch on
    .venv/bin/python benchmarks/remote.py --store big.gvl --shuffles chunks --prefetch on --harness

Needs the test extra (moto[server], s3fs). Prints one line per (location, shuffle, prefetch):
instances/s, requests per batch and round trips per batch (requests that found none in
flight) counted by the proxy. moto runs in its own process and serves a range without
copying the whole object (`--stock-moto`: as shipped, in this process). `--harness` replays
the last remote case's range requests with a bare s3fs client: the harness's own throughput and
CPU share, with no gvl_zarr work.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import logging
import os
import subprocess
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

    class Server(http.server.ThreadingHTTPServer):
        # the default listen backlog of 5 drops the SYNs of a burst of new connections: each
        # retried after 1 s (measured 4.5 s for 40 concurrent 200 kB ranges, 0.2 s direct)
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
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


_MOTO = """
import io, sys
import moto.s3.models as models
from moto.server import ThreadedMotoServer


def value(self):
    # moto reads (copies) the whole object for every GET, also for a Range: 0.1-0.2 s a
    # request on a 74 MB shard here, where S3's cost does not grow with the object. Objects
    # stay in memory (MOTO_S3_DEFAULT_KEY_BUFFER_SIZE) and BytesIO.getvalue shares its bytes
    # once trimmed, so a range GET copies only its range.
    with self.lock:
        f = self._value_buffer._file
        if isinstance(f, io.BytesIO):
            return f.getvalue()
        self._value_buffer.seek(0)
        return self._value_buffer.read()


models.FakeKey.value = property(value, models.FakeKey.value.fset)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
"""


def moto_process() -> tuple[subprocess.Popen, str]:
    """A moto S3 server in its own process (as a real server, it takes none of this
    process's CPU or GIL) whose range GETs do not copy the whole object (see _MOTO)."""
    env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(1 << 40)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def measure(ds, shuffle: str, batch_size: int, n_batches: int, proxy, prefetch: bool) -> tuple[float, float, float]:
    """(instances/s, requests/batch, round trips/batch) over at most `n_batches` batches of
    one epoch, after one warm-up batch."""
    loader = ds.to_dataloader(batch_size=batch_size, shuffle=shuffle, seed=0, prefetch=prefetch)
    it = iter(loader)
    next(it)
    n_requests, n_trips = len(proxy.log), proxy.trips
    n, k, start = 0, 0, time.perf_counter()
    for k, batch in enumerate(it, 1):
        n += len(batch[0] if isinstance(batch, tuple) else batch)
        if k >= n_batches:
            break
    elapsed = time.perf_counter() - start
    return n / elapsed, (len(proxy.log) - n_requests) / max(k, 1), (proxy.trips - n_trips) / max(k, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replay(log: list[tuple[str, str | None]], endpoint: str, options: dict, moto_pid: int | None) -> str:
    """Fetch the range GETs of `log` again with a bare s3fs client (`cat_ranges`, all in
    flight together as gvl_zarr's waves are, 64 pooled connections) from `endpoint`: the
    harness alone. Returns a line with MB/s and the CPU seconds of the moto process and of
    this process (client, and the proxy's threads when `endpoint` is the proxy)."""
    import re

    import s3fs

    paths, starts, ends = [], [], []
    for path, rng in log:
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", rng or "")
        if m:
            paths.append(path.split("?")[0].lstrip("/"))
            starts.append(int(m.group(1)))
            ends.append(int(m.group(2)) + 1)
    fs = s3fs.S3FileSystem(
        **options,
        client_kwargs={"endpoint_url": endpoint, "region_name": "us-west-2"},
        config_kwargs={"max_pool_connections": 64},
        skip_instance_cache=True,
    )
    fs.cat_ranges(paths[:1], starts[:1], ends[:1])  # connect
    moto0 = cpu_seconds(moto_pid) if moto_pid else 0.0
    cpu0, t0 = time.process_time(), time.perf_counter()
    nbytes = 0
    for i in range(0, len(paths), 64):
        nbytes += sum(map(len, fs.cat_ranges(paths[i : i + 64], starts[i : i + 64], ends[i : i + 64])))
    wall = time.perf_counter() - t0
    cpu, moto = time.process_time() - cpu0, (cpu_seconds(moto_pid) - moto0 if moto_pid else float("nan"))
    return (
        f"{len(paths)} ranges, {nbytes / 1e6:.0f} MB in {wall:.2f} s ({nbytes / 1e6 / wall:.0f} MB/s); CPU s: "
        f"moto {moto:.2f}, this process {cpu:.2f} ({(moto + cpu) / wall / os.cpu_count() * 100:.0f}% of "
        f"{os.cpu_count()} cores)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="a local gvl_zarr store (default: write a small one)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=50, help="batches timed per case")
    parser.add_argument("--cache-bytes", default="64MiB", help="decoded-chunk cache of each dataset")
    parser.add_argument("--shuffles", default="random,chunks", help="comma-separated: random, chunks")
    parser.add_argument(
        "--prefetch", choices=("on", "off", "both"), default="both", help="remote reads with prefetch on, off or both"
    )
    parser.add_argument(
        "--harness",
        action="store_true",
        help="after the cases, fetch the last remote case's ranges again with a bare s3fs client, through "
        "the proxy and directly from moto: the harness's own throughput and CPU",
    )
    parser.add_argument(
        "--stock-moto",
        action="store_true",
        help="run moto as shipped, in this process (each range GET copies the whole object)",
    )
    args = parser.parse_args(argv)

    import s3fs

    import gvl_zarr as gvl

    for name in ("werkzeug", "moto", "botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="gvl_zarr-remote-bench-") as tmp:
        store = args.store or small_store(Path(tmp))
        if args.stock_moto:
            from moto.server import ThreadedMotoServer

            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            direct = "http://{}:{}".format(*moto.get_host_and_port())
            stop = moto.stop
        else:
            proc, direct = moto_process()
            stop = proc.kill
        proxy, slow = latency_proxy(direct, args.latency_ms / 1000)
        try:
            options = {"key": "bench", "secret": "bench"}
            s3 = s3fs.S3FileSystem(**options, client_kwargs={"endpoint_url": direct, "region_name": "us-west-2"})
            s3.mkdir("bench")
            s3.put(str(store), "bench/store.gvl", recursive=True)
            remote_options = {**options, "client_kwargs": {"endpoint_url": slow, "region_name": "us-west-2"}}
            server = "moto (stock, in process)" if args.stock_moto else "moto (own process)"
            print(f"store {store}; {server}; {args.latency_ms:g} ms per request; batch {args.batch_size}")
            prefetch = {"on": [True], "off": [False], "both": [False, True]}[args.prefetch]
            log: list = []
            cases = [("local", store, {}, False)]
            cases += [("s3+latency", "s3://bench/store.gvl", {"storage_options": remote_options}, p) for p in prefetch]
            for where, location, extra, ahead in cases:
                for shuffle in args.shuffles.split(","):
                    t0 = time.perf_counter()
                    ds = gvl.Dataset.open(location, cache_bytes=args.cache_bytes, preload=False, **extra)
                    opened = time.perf_counter() - t0
                    mark = len(proxy.log)
                    rate, requests, trips = measure(ds, shuffle, args.batch_size, args.batches, proxy, ahead)
                    print(
                        f"{where:11s} shuffle={shuffle:6s} prefetch={'on ' if ahead else 'off'} "
                        f"open {opened * 1000:6.0f} ms {rate:10.1f} instances/s "
                        f"{requests:7.1f} requests/batch {trips:5.1f} round trips/batch"
                    )
                    if ds._data.prefetcher is not None:
                        ds._data.prefetcher.close()
                    if where != "local":
                        log = proxy.log[mark:]
            if args.harness:
                pid = None if args.stock_moto else proc.pid
                print(f"harness, via proxy: {replay(log, slow, options, pid)}")
                print(f"harness, moto only: {replay(log, direct, options, pid)}")
        finally:
            proxy.shutdown()
            stop()


if __name__ == "__main__":
    sys.exit(main())
