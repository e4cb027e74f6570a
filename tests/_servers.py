"""Real servers on loopback for remote-store tests: a static HTTP server honouring byte
ranges (with a request log) and an S3-compatible server (moto in server mode)."""

from __future__ import annotations

import functools
import http.server
import io
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that honours `Range: bytes=a-b` and `bytes=-n`, as object stores
    do, and appends every request (method, path, range) to `server.log`. `server.trips`
    counts round trips: requests that arrived while none was in flight."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        spec = self.headers.get("Range")
        self.server.log.append((self.command, self.path, spec))
        if any(self.path.startswith(p) for p in self.server.failing):  # a server-side failure
            self.send_error(500, "Internal Server Error")
            return None
        with self.server.lock:
            self.server.trips += self.server.inflight == 0
            self.server.inflight += 1
            self.server.max_inflight = max(self.server.max_inflight, self.server.inflight)
        try:
            time.sleep(self.server.delay)  # a network round trip, so concurrent requests overlap
            return self._head(spec)
        finally:
            with self.server.lock:
                self.server.inflight -= 1

    def _head(self, spec: str | None):
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
        return io.BytesIO(data[lo:hi])


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops bursts of connections for 1 s


@dataclass
class HttpServer:
    url: str
    server: http.server.ThreadingHTTPServer

    @property
    def log(self) -> list[tuple[str, str, str | None]]:
        return self.server.log


@functools.cache
def _quiet() -> None:
    for name in ("werkzeug", "moto", "botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.ERROR)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1, valid for a day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def serve_http(directory: Path, tls: tuple[Path, Path] | None = None) -> Iterator[HttpServer]:
    """Serve `directory`; over TLS with `tls` = (certificate, key)."""
    handler = functools.partial(_RangeHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    if tls is not None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.log = []
    server.lock = threading.Lock()
    server.inflight = server.max_inflight = server.trips = 0
    server.delay = 0.0
    server.failing = set()  # path prefixes answered with 500
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield HttpServer(f"{scheme}://127.0.0.1:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class S3Server:
    """A moto S3 server on loopback; `bucket()` makes a fresh bucket."""

    endpoint: str
    options: dict[str, Any] = field(default_factory=dict)

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(**self.options, skip_instance_cache=True)

    def bucket(self) -> str:
        name = f"b{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    def upload(self, local: Path, url: str) -> None:
        self.filesystem().put(str(local), url.removeprefix("s3://"), recursive=True)

    def object_store(self, url: str, key: str = "testing", endpoint: str | None = None):
        """`url` (s3://bucket/prefix) as zarr's obstore-backed `ObjectStore` on this server."""
        from obstore.store import S3Store
        from zarr.storage import ObjectStore

        bucket, prefix = url.removeprefix("s3://").split("/", 1)
        inner = S3Store(
            bucket,
            prefix=prefix,
            endpoint=endpoint or self.endpoint,
            region="us-west-2",
            access_key_id=key,
            secret_access_key=key,
            client_options={"allow_http": True},
        )
        return ObjectStore(inner, read_only=True)


def s3_options(endpoint: str) -> dict[str, Any]:
    # a region other than us-east-1: moto rejects a LocationConstraint of us-east-1
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-west-2"},
    }


def serve_s3() -> Iterator[S3Server]:
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    _quiet()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield S3Server(endpoint, s3_options(endpoint))
    finally:
        server.stop()
