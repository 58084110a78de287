"""The HTTP API against its targets (pages, exports and predictions at scale), measured side by side in one run:

    python -m bench.api [--rows 200000] [--pg-rows 200000] [--requests 480] [--no-postgres] [--no-pages] [--no-predict]

(a) result pages (100 rows) on SQLite and PostgreSQL databases filled by SQL (20 jobs, 1,000
    labels, confidences spread over [0, 1], 0.2% failed): p95 server time of the first page and
    the next page by cursor, for one job's labels by confidence ascending, one label with a
    confidence range, failed rows, a path prefix;
(b) export of every row as CSV and JSON Lines through the API, against `psql \\copy` of the
    same rows, with the server's RSS growth, and `mobilabel results --format csv` peak RSS;
(c) predict under load: 16 concurrent clients each sending one flower photo at a time to a
    `mobilabel serve` on 127.0.0.1, with dynamic batching and with batches of 1, against
    `mobilabel label` on the same photos (images/s, p50/p99 latency).
Server time in (a) and (b) is measured in-process through the ASGI app (no network).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from mobilabel.api.app import create_app
from mobilabel.config import load_settings
from mobilabel.storage import open_database

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOBILABEL_SHARED", REPO.parent / "shared"))
FLOWERS = SHARED / "datasets" / "flowers"
FLOWERS_VAL = FLOWERS / "val"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_imagenet.pth"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

_FILL = """
INSERT INTO results (image_path, content_id, label, confidence, top_k, model_version_id, job_id, status, error, created_at, updated_at)
SELECT '/photos/job' || (g % 20 + 1) || '/dir' || (g % 100) || '/img_' || g || '.jpg', '1:1',
       CASE WHEN g % 500 = 0 THEN NULL ELSE 'label_' || ((g * 7919) % 1000) END,
       CASE WHEN g % 500 = 0 THEN NULL ELSE ((g * 104729) % 1000003) * 1.0 / 1000003 END,
       {top_k}, 'bench', g % 20 + 1,
       CASE WHEN g % 500 = 0 THEN 'failed' ELSE 'ok' END,
       CASE WHEN g % 500 = 0 THEN 'corrupt image' ELSE NULL END, {now}, {now}
FROM {series}
"""
QUERIES = {
    "job's labels, confidence ascending": {"job": 3, "status": "ok", "sort": "confidence"},
    "label in a confidence range": {"label": "label_17", "min_confidence": 0.2, "max_confidence": 0.8, "sort": "-confidence"},
    "failed rows": {"status": "failed", "sort": "path"},
    "path prefix": {"path": "/photos/job3/dir42/*", "sort": "path"},
}


def fill(url: str, rows: int) -> None:
    """Migrate and fill a database with ``rows`` results by SQL."""
    db = open_database(url, auto_upgrade=True)
    postgres = db.dialect == "postgresql"
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, arch, alpha, classes, metrics, checkpoint, sha256, size_bytes, source, active, created_at) "
                "VALUES ('bench', 'mobilenet_v2', 1.0, :classes, '{}', :blob, '', 0, '', true, CURRENT_TIMESTAMP)"
            ),
            {"blob": b"", "classes": json.dumps([f"label_{i}" for i in range(1000)])},
        )
        for job in range(1, 21):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, root, status, total, done, failed, created_at) VALUES (:id, :root, 'completed', 0, 0, 0, CURRENT_TIMESTAMP)"
                ),
                {"id": job, "root": f"/photos/job{job}"},
            )
        if postgres:
            statement = _FILL.format(
                top_k='\'[{"label": "x", "confidence": 0.5}]\'::json',
                now="now()",
                series=f"generate_series(1::bigint, {rows}::bigint) g",
            )
        else:
            statement = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) " + _FILL.format(
                top_k='\'[{"label": "x", "confidence": 0.5}]\'', now="strftime('%Y-%m-%d %H:%M:%f', 'now')", series="s"
            )
        connection.execute(text(statement))
        # Each job's membership, as labelling records it: `job=N` lists the images job N covered.
        connection.execute(
            text(
                "INSERT INTO job_images (job_id, image_path, model_version_id, outcome, updated_at) "
                "SELECT job_id, image_path, model_version_id, CASE WHEN status = 'failed' THEN 'failed' ELSE 'labelled' END, updated_at FROM results"
            )
        )
        connection.execute(text("ANALYZE"))
    db.dispose()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def pages(client: TestClient, repeats: int = 20) -> dict[str, tuple[float, float, int]]:
    """query -> (p95 ms of the first page, p95 ms of the next page by cursor, rows on the first page)."""
    measured = {}
    for name, params in QUERIES.items():
        first, following = [], []
        client.get("/api/results", params={**params, "limit": 100}).raise_for_status()  # warm-up: the steady state is measured
        rows = 0
        for _ in range(repeats):
            started = time.perf_counter()
            page = client.get("/api/results", params={**params, "limit": 100}).json()
            first.append(time.perf_counter() - started)
            rows = len(page["items"])
            if page["next_cursor"]:
                started = time.perf_counter()
                client.get("/api/results", params={**params, "limit": 100, "cursor": page["next_cursor"]}).raise_for_status()
                following.append(time.perf_counter() - started)
        measured[name] = (p95(first) * 1000, p95(following) * 1000 if len(following) > 1 else float("nan"), rows)
    return measured


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))  # type: ignore[union-attr]


def export(client: TestClient, fmt: str) -> tuple[float, int, int]:
    """(seconds, bytes, RSS growth in KB of this process while streaming)."""
    before, peak = rss_kb(), 0
    started = time.perf_counter()
    size = 0
    with client.stream("GET", "/api/results/export", params={"format": fmt}) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
            peak = max(peak, rss_kb())
    return time.perf_counter() - started, size, peak - before


def psql_copy(url: str) -> float:
    columns = "image_path, label, confidence, status, error, model_version_id, job_id, top_k"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    subprocess.run(
        ["psql", plain, "-c", f"\\copy (select {columns} from results order by image_path, id) to '/dev/null' csv header"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def cli_peak_rss(env: dict[str, str]) -> int:
    run = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", sys.executable, "-m", "mobilabel", "results", "--format", "csv", "--limit", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        cwd=REPO,
    )
    return int(run.stderr.rsplit("peak_rss_kb=", 1)[1])


def database_section(label: str, url: str, rows: int, postgres: bool, report: Callable[[str], None]) -> None:
    started = time.perf_counter()
    fill(url, rows)
    report(f"\n{label}: {rows:,} rows filled in {time.perf_counter() - started:.1f} s")
    os.environ["MOBILABEL_DATABASE_URL"] = url
    with TestClient(create_app(load_settings()), base_url="http://localhost") as client:
        for name, (first, following, count) in pages(client).items():
            report(f"  page of 100, {name}: p95 {first:.1f} ms, next page {following:.1f} ms ({count} rows)")
        copy_s = psql_copy(url) if postgres else None
        for fmt in ("csv", "jsonl"):
            seconds, size, growth = export(client, fmt)
            ratio = f", {seconds / copy_s:.2f}x psql \\copy ({copy_s:.2f} s)" if copy_s else ""
            report(
                f"  export {fmt}: {seconds:.2f} s, {size / 1e6:.0f} MB, {rows / seconds:,.0f} rows/s{ratio}; RSS growth {growth / 1024:.0f} MB"
            )
    peak = cli_peak_rss({**os.environ, "PYTHONPATH": str(REPO)})
    report(f"  mobilabel results --format csv --limit 0: peak RSS {peak / 1024:.0f} MB")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mobilabel serve` on a free port of 127.0.0.1, answering /healthz: (its base URL, its process); stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mobilabel", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=60)


def load(env: dict[str, str], photos: list[Path], requests: int, clients: int = 16) -> tuple[float, float, float, int, float]:
    """(images/s, p50 ms, p99 ms, batches, cores the load generator itself used) of ``clients``
    threads sending one photo per request (the photos in turn: all distinct while requests <= photos)."""
    with serving(env) as (base, _):
        data = [(p.name, p.read_bytes()) for p in photos]
        httpx.post(f"{base}/api/predict", files=[("files", data[0])], timeout=300).raise_for_status()  # loads the model
        latencies: list[float] = []
        counter = iter(range(requests))
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(timeout=120) as http:
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    started = time.perf_counter()
                    http.post(f"{base}/api/predict", files=[("files", data[i % len(data)])]).raise_for_status()
                    with lock:
                        latencies.append(time.perf_counter() - started)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        cpu = time.process_time()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        client_cores = (time.process_time() - cpu) / elapsed
        metrics = httpx.get(f"{base}/metrics").text
        batches = int(float(re.search(r"mobilabel_predict_batch_size_count (\S+)", metrics).group(1))) - 1  # type: ignore[union-attr]
        latencies.sort()
        return (
            requests / elapsed,
            latencies[len(latencies) // 2] * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000,
            batches,
            client_cores,
        )


def label_rate(env: dict[str, str], folder: Path) -> float:
    """`mobilabel label --force` of ``folder`` on a database of its own: images/s (model load excluded).

    --force and a new database: nothing is skipped as unchanged; the flower photos are distinct
    contents, so no result is a copy of another file's (both would flatter label)."""
    database = Path(tempfile.mkdtemp(prefix="bench-api-label-")) / "label.db"
    # A wide console: rich wraps the summary line at 80 columns when stderr is not a terminal.
    labelled = subprocess.run(
        [sys.executable, "-m", "mobilabel", "label", "--force", str(folder)],
        env={**env, "COLUMNS": "400", "MOBILABEL_DATABASE_URL": f"sqlite:///{database}"},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(database.parent, ignore_errors=True)
    return float(re.search(r"\(([\d.]+)\s+img/s", labelled.stderr).group(1))  # type: ignore[union-attr]


def predict_section(requests: int, report: Callable[[str], None]) -> None:
    # Every flower photo (train and val, 609 distinct contents): label and predict see the same files.
    photos = sorted(FLOWERS.glob("*/*/*.jpg"))
    home = Path(tempfile.mkdtemp(prefix="bench-api-home-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MOBILABEL_HOME": str(home),
        "MOBILABEL_PRETRAINED": str(WEIGHTS),
        "MOBILABEL_DATABASE_URL": f"sqlite:///{home / 'predict.db'}",
    }
    # label before and after the load runs, their mean the reference: the load of this shared machine moves.
    before = label_rate(env, FLOWERS)
    runs = [
        (name, load({**env, **extra}, photos, requests))
        for name, extra in (("dynamic batching", {}), ("batches of 1", {"MOBILABEL_PREDICT_MAX_BATCH": "1"}))
    ]
    after = label_rate(env, FLOWERS)
    reference = (before + after) / 2
    report(
        f"\npredict under load (16 clients, one photo per request, {requests} requests, load average {os.getloadavg()[0]:.1f}; "
        f"`mobilabel label --force` on the same {len(photos)} photos: {before:.1f} img/s before, {after:.1f} after)"
    )
    for name, (rate, p50, p99, batches, client_cores) in runs:
        report(
            f"  {name}: {rate:.1f} img/s ({rate / reference:.2f}x label), p50 {p50:.0f} ms, p99 {p99:.0f} ms, {batches} batches; "
            f"the load generator used {client_cores:.2f} of {os.cpu_count()} cores"
        )
    shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows in the SQLite database")
    parser.add_argument(
        "--pg-rows", type=int, default=200_000, help="rows in the PostgreSQL database (the scale the pages must serve: 2,000,000)"
    )
    parser.add_argument("--requests", type=int, default=480, help="predict requests per load run")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-predict", action="store_true")
    parser.add_argument("--no-pages", action="store_true", help="skip (a) and (b): only predict under load")
    args = parser.parse_args()

    def report(line: str) -> None:
        print(line, flush=True)

    report(
        f"bench.api on {os.cpu_count()} cores, peak RSS of this process so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    os.environ["MOBILABEL_HOME"] = str(folder / "home")
    try:
        if not args.no_pages:
            database_section("SQLite", f"sqlite:///{folder / 'results.db'}", args.rows, False, report)
        if not args.no_postgres and not args.no_pages:
            name = f"mobilabel_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                database_section("PostgreSQL", ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.pg_rows, True, report)
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        if not args.no_predict:
            predict_section(args.requests, report)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
