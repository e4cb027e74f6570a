"""Instances/s from an S3 store behind a fixed per-request latency, against local disk.

A moto S3 server runs on loopback in its own process; a hook in it sleeps `--latency-ms`
before serving every request (a stand-in for a cloud region's round trip). The same store is
read with random and chunk-aware shuffling (`to_dataloader(shuffle="chunks")`) at
`--batch-size`, from S3 and from local disk:

    .venv/bin/python benchmarks/remote.py                   # writes a small store from tests/data
    .venv/bin/python benchmarks/remote.py --store big.gvl --batches 200 --latency-ms 20
    .venv/bin/python benchmarks/remote.py --store big.gvl --shuffles chunks --prefetch on
    .venv/bin/python benchmarks/remote.py --store big.gvl --shuffles chunks --prefetch on --harness
    .venv/bin/python benchmarks/remote.py --store big.gvl --shuffles chunks --prefetch on --mapper

S3 is read through two clients (`--clients`): s3fs (an s3:// URL with storage_options) and
obstore (zarr's ObjectStore around an obstore S3Store, whose requests run in Rust).

Needs the test and bench extras (moto[server], s3fs, obstore, waitress). Prints one line per (location, shuffle, prefetch):
instances/s, requests per batch and round trips per batch (requests that found none in
flight) counted by the server, the chunk cache's peak and this process's private memory
(RssAnon + RssShmem; all cases run in this one process). The rows are also written as JSON
(`--out`, default benchmarks/results/remote/). moto serves a range without copying the whole object.
`--mapper` adds the store read through an fsspec file:// mapper (the remote read path with
no server: the client's own ceiling). `--harness` replays the last remote case's range requests with a bare s3fs client: the
harness's own throughput and CPU share, with no gvl_zarr work.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


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
import io, json, sys, threading, time
import moto.s3.models as models
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server



def value(self):
    # moto reads (copies) the whole object for every GET, also for a Range: 0.1-0.2 s a
    # request on a 74 MB shard here, where S3's cost does not grow with the object. Objects
    # stay in memory (MOTO_S3_DEFAULT_KEY_BUFFER_SIZE) and BytesIO.getvalue shares its bytes
    # once trimmed, so a range GET copies only its range. Objects served from disk
    # (SERVE_DIR) are a read-only map of their file: a range GET reads only its range.
    disk = getattr(self, "_bench_mmap", None)
    if disk is not None:
        return disk
    with self.lock:
        f = self._value_buffer._file
        if isinstance(f, io.BytesIO):
            return f.getvalue()
        self._value_buffer.seek(0)
        return self._value_buffer.read()


models.FakeKey.value = property(value, models.FakeKey.value.fset)
app = DomainDispatcherApplication(create_backend_app)
stats = {"log": [], "trips": 0, "inflight": 0, "latency_s": 0.0}
lock = threading.Lock()


def serve_from_disk(folder, bucket, prefix):
    # every file under `folder` as object `prefix/<relative path>` of `bucket`, its bytes read
    # from the file on each GET (a store too big to upload into moto's memory)
    import mmap, os
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    backend.create_bucket(bucket, "us-west-2")
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            key = prefix + "/" + os.path.relpath(path, folder)
            obj = backend.put_object(bucket, key, b"")
            size = os.path.getsize(path)
            if size:
                with open(path, "rb") as f:
                    # small objects (metadata, region arrays) are read whole: bytes; a
                    # map served whole would be closed by werkzeug after one response
                    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    obj._bench_mmap = mm if size > (1 << 20) else mm[:]
            obj.contentsize = size
            obj._etag = "%032x" % (hash((key, size)) & (2**128 - 1))


if SERVE_DIR:
    serve_from_disk(SERVE_DIR, "bench", "store.gvl")


def delayed(environ, start_response):
    # the round trip of a cloud region: every request waits the set latency before moto
    # serves it, in the server's own thread (no proxy hop through the benchmark's process)
    path = environ.get("PATH_INFO", "")
    if path.startswith("/__bench_latency/"):  # set the latency (seconds)
        stats["latency_s"] = float(path.rsplit("/", 1)[1])
        start_response("204 No Content", [("Content-Length", "0")])
        return [b""]
    if path == "/__bench_stats":
        with lock:
            body = json.dumps({"log": stats["log"], "trips": stats["trips"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    with lock:
        stats["log"].append((path, environ.get("HTTP_RANGE")))
        stats["trips"] += stats["inflight"] == 0
        stats["inflight"] += 1
    try:
        if stats["latency_s"] > 0:
            time.sleep(stats["latency_s"])
        return app(environ, start_response)
    finally:
        with lock:
            stats["inflight"] -= 1


if KEEP_ALIVE:
    # werkzeug's server closes every connection after one response ("Connection: close"), so
    # each request paid a TCP connect and close on both sides (~25% of the client's event-loop
    # time in py-spy); S3 keeps connections alive. waitress serves HTTP/1.1 keep-alive. Its
    # default limit of 100 open connections stalled a second client for ~20 s while the first
    # one's 64 pooled connections stayed open.
    from waitress import create_server

    server = create_server(delayed, host="127.0.0.1", port=0, threads=64, backlog=256, connection_limit=1024)
    threading.Thread(target=server.run, daemon=True).start()
    print(server.effective_port, flush=True)
else:
    server = make_server("127.0.0.1", 0, delayed, True, request_handler=MotoRequestHandler)
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
sys.stdin.read()
"""


def moto_process(keep_alive: bool = True, serve_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A moto S3 server in its own process (as a real server, it takes none of this
    process's CPU or GIL) that waits a settable latency (`ServerStats.set_latency`) before
    serving each request, and whose range GETs do not copy the whole object (see _MOTO).
    `keep_alive`: served by waitress, which keeps connections open as S3 does; otherwise
    by werkzeug's server (moto's own), which closes each after one response. `serve_dir`:
    a store served from disk as s3://bench/store.gvl, without uploading it into memory."""
    env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(1 << 40)}
    proc = subprocess.Popen(
        [sys.executable, "-c", f"KEEP_ALIVE = {keep_alive!r}\nSERVE_DIR = {str(serve_dir or '')!r}\n" + _MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


class ServerStats:
    """Requests the latency server has seen: `log` of (path, Range header) and `trips`,
    requests that arrived while none was in flight (the first of a concurrent wave)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def read(self) -> tuple[list[tuple[str, str | None]], int]:
        with urllib.request.urlopen(self.endpoint + "/__bench_stats") as r:
            got = json.loads(r.read())
        return [tuple(x) for x in got["log"]], int(got["trips"])

    def set_latency(self, seconds: float) -> None:
        urllib.request.urlopen(f"{self.endpoint}/__bench_latency/{seconds}").close()


def measure(
    ds, shuffle: str, batch_size: int, n_batches: int, stats: ServerStats, prefetch: bool | int
) -> tuple[float, float, float]:
    """(instances/s, requests/batch, round trips/batch) over at most `n_batches` batches of
    one epoch, after one warm-up batch."""
    loader = ds.to_dataloader(batch_size=batch_size, shuffle=shuffle, seed=0, prefetch=prefetch)
    it = iter(loader)
    next(it)
    log, n_trips = stats.read()
    n_requests = len(log)
    n, k, start = 0, 0, time.perf_counter()
    for k, batch in enumerate(it, 1):
        n += len(batch[0] if isinstance(batch, tuple) else batch)
        if k >= n_batches:
            break
    elapsed = time.perf_counter() - start
    log, trips = stats.read()
    return n / elapsed, (len(log) - n_requests) / max(k, 1), (trips - n_trips) / max(k, 1)


def private_mib() -> float:
    """This process's private memory now, MiB: RssAnon + RssShmem (/proc/self/status)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return sum(int(fields.get(k, "0 kB").split()[0]) for k in ("RssAnon", "RssShmem")) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def replay(log: list[tuple[str, str | None]], endpoint: str, options: dict, moto_pid: int) -> str:
    """Fetch the range GETs of `log` again with a bare s3fs client (`cat_ranges`, all in
    flight together as gvl_zarr's waves are, 64 pooled connections) from `endpoint`: the
    harness alone. Returns a line with MB/s and the CPU seconds of the moto process and of
    this process (the client)."""
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
    moto0 = cpu_seconds(moto_pid)
    cpu0, t0 = time.process_time(), time.perf_counter()
    nbytes = 0
    for i in range(0, len(paths), 64):
        nbytes += sum(map(len, fs.cat_ranges(paths[i : i + 64], starts[i : i + 64], ends[i : i + 64])))
    wall = time.perf_counter() - t0
    cpu, moto = time.process_time() - cpu0, cpu_seconds(moto_pid) - moto0
    return (
        f"{len(paths)} ranges, {nbytes / 1e6:.0f} MB in {wall:.2f} s ({nbytes / 1e6 / wall:.0f} MB/s); CPU s: "
        f"moto {moto:.2f}, this process {cpu:.2f} ({(moto + cpu) / wall / os.cpu_count() * 100:.0f}% of "
        f"{os.cpu_count()} cores)"
    )


def obstore_location(endpoint: str) -> Any:
    """s3://bench/store.gvl on `endpoint` as zarr's obstore-backed ObjectStore."""
    from obstore.store import S3Store
    from zarr.storage import ObjectStore

    inner = S3Store(
        "bench",
        prefix="store.gvl",
        endpoint=endpoint,
        region="us-west-2",
        access_key_id="bench",
        secret_access_key="bench",
        client_options={"allow_http": True},
    )
    return ObjectStore(inner, read_only=True)


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
        "--ahead", type=int, default=None, help="with prefetch on: windows (chunks) or batches (random) ahead"
    )
    parser.add_argument(
        "--mapper",
        action="store_true",
        help="also read the store through an fsspec file:// mapper: the remote read path (LRU chunks, "
        "prefetch thread) with no server, i.e. the client's own ceiling",
    )
    parser.add_argument(
        "--from-disk",
        action="store_true",
        help="serve the store's files from disk (read-only maps in the moto process) instead of uploading "
        "them into moto's memory: for stores larger than memory allows",
    )
    parser.add_argument(
        "--clients",
        default="s3fs,obstore",
        help="comma-separated S3 clients read through: s3fs (an s3:// URL, fsspec) and/or obstore (zarr's ObjectStore)",
    )
    parser.add_argument(
        "--no-keep-alive",
        action="store_true",
        help="serve with werkzeug (moto's server), which closes every connection after one response",
    )
    parser.add_argument(
        "--harness",
        action="store_true",
        help="after the cases, fetch the last remote case's ranges again with a bare s3fs client, with the "
        "latency and without: the harness's own throughput and CPU",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "remote" / f"{time.strftime('%Y%m%d-%H%M%S')}.json",
        help="where to write the rows as JSON",
    )
    args = parser.parse_args(argv)

    import s3fs

    import gvl_zarr as gvl
    from gvl_zarr.sampler import default_block

    for name in ("werkzeug", "moto", "botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="shuffle=.* over the network")  # measured on purpose
    with tempfile.TemporaryDirectory(prefix="gvl_zarr-remote-bench-") as tmp:
        store = args.store or small_store(Path(tmp))
        proc, endpoint = moto_process(
            keep_alive=not args.no_keep_alive, serve_dir=Path(store).resolve() if args.from_disk else None
        )
        stats = ServerStats(endpoint)
        try:
            options = {"key": "bench", "secret": "bench"}
            s3 = s3fs.S3FileSystem(**options, client_kwargs={"endpoint_url": endpoint, "region_name": "us-west-2"})
            if not args.from_disk:
                s3.mkdir("bench")
                s3.put(str(store), "bench/store.gvl", recursive=True)
            stats.set_latency(args.latency_ms / 1000)
            remote_options = {**options, "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-west-2"}}
            served = "werkzeug, a connection per request" if args.no_keep_alive else "waitress, keep-alive"
            print(
                f"store {store}; moto (own process, {served}); {args.latency_ms:g} ms per request; "
                f"batch {args.batch_size}"
            )
            on = True if args.ahead is None else args.ahead
            prefetch = {"on": [on], "off": [False], "both": [False, on]}[args.prefetch]
            log: list = []
            rows: list[dict] = []
            cases = [("local", store, {}, False)]
            if args.mapper:  # the remote read path with no server: the client's own cost
                import fsspec

                mapper = fsspec.get_mapper(f"file://{Path(store).resolve()}")
                cases += [("fsspec-file", mapper, {}, p) for p in prefetch]
            for client in args.clients.split(","):
                location = obstore_location(endpoint) if client == "obstore" else "s3://bench/store.gvl"
                extra = {} if client == "obstore" else {"storage_options": remote_options}
                cases += [(f"s3-{client}", location, extra, p) for p in prefetch]
            for where, location, extra, ahead in cases:
                for shuffle in args.shuffles.split(","):
                    t0 = time.perf_counter()
                    ds = gvl.Dataset.open(location, cache_bytes=args.cache_bytes, preload=False, **extra)
                    opened = time.perf_counter() - t0
                    mark = len(stats.read()[0])
                    rate, requests, trips = measure(ds, shuffle, args.batch_size, args.batches, stats, ahead)
                    rows.append(
                        {
                            "location": where,
                            "shuffle": shuffle,
                            "prefetch": ahead,
                            "block": list(default_block(ds, 16)) if shuffle == "chunks" else None,
                            "open_s": opened,
                            "instances_per_s": rate,
                            "requests_per_batch": requests,
                            "round_trips_per_batch": trips,
                            "cache_peak_bytes": ds.cache_info()["peak"],
                            "private_mib": private_mib(),
                        }
                    )
                    print(
                        f"{where:12s} shuffle={shuffle:6s} prefetch={ahead if ahead else 'off'} "
                        f"open {opened * 1000:6.0f} ms {rate:10.1f} instances/s "
                        f"{requests:7.1f} requests/batch {trips:5.1f} round trips/batch "
                        f"cache peak {ds.cache_info()['peak'] / 2**20:5.0f} MiB, private {private_mib():5.0f} MiB",
                        flush=True,
                    )
                    if ds._data.prefetcher is not None:
                        ds._data.prefetcher.close()
                    if where != "local":
                        log = stats.read()[0][mark:]
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps({"argv": sys.argv[1:], "store": str(store), "rows": rows}, indent=1))
                print(f"wrote {args.out}")
            if args.harness:
                print(f"harness, {args.latency_ms:g} ms: {replay(log, endpoint, options, proc.pid)}")
                stats.set_latency(0)
                print(f"harness, no latency: {replay(log, endpoint, options, proc.pid)}")
        finally:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
