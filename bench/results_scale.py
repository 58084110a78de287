"""Pages of current results at millions of rows (each image's current label, the one the API pages show):

    python -m bench.results_scale [--dialect postgresql|sqlite] [--rows 2000000] [--runs 100] [--no-export] [--only QUERY]
                                  [--keep | --database URL]

Makes a database of its own (PostgreSQL: a new database on 127.0.0.1, dropped at the end
unless ``--keep``, which prints its URL; SQLite: a temporary file), migrated to head, and fills
it with SQL (``--database URL`` instead reuses one that ``--keep`` left: filling 2,000,000 rows
takes minutes; it is migrated to head first): ``--rows`` result rows,
20 jobs, 1,000 labels, confidences spread over [0, 1], 0.2% failed, from two model versions:
an old one that labelled 90% of the rows' images and the active one that labelled the first
10% again (same content), so one image in nine has two rows and the current flag must pick.
Then it times, in this process (server time: the query and the ORM rows, no network), the
first page of 100 current rows and the next page by key (sort value, id: as the API's keyset
pages do) for each query below, ``--runs`` times each after one warm-up, and reports p50/p95.
Last, unless ``--no-export``, every current row exported, side by side (see ``export``): `mobilabel
results --format csv|jsonl --limit 0` (wall time, peak RSS) and the API's streamed export
(`mobilabel serve`: wall time, the server's RSS growth) against the database's own dump of the
same rows (`psql \\copy`, or `sqlite3 -csv`). Results are appended to bench/results/results_scale.csv
(``load_avg``: the 1-minute load average at the start).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text, tuple_
from sqlalchemy.orm import Session

from bench.api import serving
from bench.paths import RESULTS
from mobilabel.api.services.heap import freeze_long_lived
from mobilabel.storage import Database, open_database
from mobilabel.storage.current import refresh_current
from mobilabel.storage.result_queries import ResultFilter, results_statement
from mobilabel.storage.tables import Result

REPO = Path(__file__).resolve().parents[1]
OUT = RESULTS / "results_scale.csv"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PAGE = 100
EXPORTED = "image_path, label, confidence, status, error, warning, model_version_id, job_id, content_hash, top_k"

# The five page queries the API serves (the fifth: the next page of each, by key). Parameters as the API bench's.
QUERIES = {
    "job's current labels, confidence ascending": ResultFilter(job_id=3, status="ok", sort="confidence"),
    "label in a confidence range": ResultFilter(label="label_17", min_confidence=0.2, max_confidence=0.8, sort="-confidence"),
    "failed rows": ResultFilter(status="failed", sort="path"),
    "path prefix": ResultFilter(path_pattern="/photos/job3/dir42/*", sort="path"),
    # Not from the root: matched anywhere in the path (the trigram index of migration 0007 on PostgreSQL).
    "path pattern anywhere": ResultFilter(path_pattern="*/job3/dir42/*", sort="path"),
}
# sort -> (column, descending), as the API's keyset pages.
SORTS = {"path": (Result.image_path, False), "confidence": (Result.confidence, False), "-confidence": (Result.confidence, True)}

_FILL = """
INSERT INTO results (image_path, content_id, content_hash, label, confidence, top_k, model_version_id, job_id, status, error,
                     created_at, updated_at)
SELECT '/photos/job' || (i % 20 + 1) || '/dir' || (i % 100) || '/img_' || i || '.jpg', '1:1', 'h' || i,
       CASE WHEN g % 500 = 0 THEN NULL ELSE 'label_' || ((g * 7919) % 1000) END,
       CASE WHEN g % 500 = 0 THEN NULL ELSE ((g * 104729) % 1000003) * 1.0 / 1000003 END,
       '[{{"label": "x", "confidence": 0.5}}]', CASE WHEN g <= {images} THEN 'old' ELSE 'new' END, i % 20 + 1,
       CASE WHEN g % 500 = 0 THEN 'failed' ELSE 'ok' END, CASE WHEN g % 500 = 0 THEN 'corrupt image' ELSE NULL END,
       {now}, {now}
FROM (SELECT g, CASE WHEN g <= {images} THEN g ELSE g - {images} END AS i FROM {series}) numbered
"""
_MEMBERS = """
INSERT INTO job_images (job_id, image_path, model_version_id, outcome, updated_at)
SELECT job_id, image_path, model_version_id, CASE WHEN status = 'ok' THEN 'labelled' ELSE 'failed' END, updated_at
FROM results WHERE true ON CONFLICT (job_id, image_path) DO NOTHING
"""


def make_database(dialect: str, workdir: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{workdir / 'results_scale.db'}"
    name = f"mobilabel_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def fill(db: Database, rows: int) -> dict[str, float]:
    """Fill by SQL; returns the seconds of each phase (the flag's backfill is migration 0009's at this size)."""
    postgres = db.dialect == "postgresql"
    images = rows * 9 // 10
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with db.engine.begin() as connection:
        for version_id, active, age in (("old", False, "-1 day"), ("new", True, "+0 day")):
            created = f"now() + interval '{age}'" if postgres else f"strftime('%Y-%m-%d %H:%M:%f', 'now', '{age}')"
            connection.execute(
                text(
                    "INSERT INTO model_versions (id, arch, alpha, classes, metrics, checkpoint, sha256, size_bytes, source, active, created_at) "
                    f"VALUES (:id, 'mobilenet_v2', 1.0, '[]', '{{}}', :blob, '', 0, '', :active, {created})"
                ),
                {"id": version_id, "blob": b"", "active": active},
            )
        for job in range(1, 21):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, root, status, total, done, failed, skipped, created_at) "
                    "VALUES (:id, :root, 'completed', 0, 0, 0, 0, CURRENT_TIMESTAMP)"
                ),
                {"id": job, "root": f"/photos/job{job}"},
            )
        if postgres:
            series = f"generate_series(1::bigint, {rows}::bigint) g"
            connection.execute(text(_FILL.format(images=images, now="now()", series=series)))
        else:
            recursive = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) "
            connection.execute(
                text(recursive + _FILL.format(images=images, now="strftime('%Y-%m-%d %H:%M:%f', 'now')", series="s"))
            )
        connection.execute(text(_MEMBERS))
    phases["fill_s"] = time.perf_counter() - started
    phases["analyze_s"] = vacuum_analyze(db)
    started = time.perf_counter()
    with db.transaction() as session:
        refresh_current(session, None)
    phases["current_flag_backfill_s"] = time.perf_counter() - started
    phases["vacuum_analyze_s"] = vacuum_analyze(db)
    return phases


def vacuum_analyze(db: Database) -> float:
    """Statistics for the planner (and, on PostgreSQL, the dead rows of the backfill gone), as autovacuum would."""
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


def page(session: Session, where: ResultFilter, after: tuple[Any, int] | None = None) -> list[Result]:
    """One page of 100 current rows with a value in the sort column, after the key ``after``."""
    column, descending = SORTS[where.sort]
    statement = results_statement(replace(where, limit=None)).order_by(None).where(column.is_not(None))
    if after is not None:
        key = tuple_(column, Result.id)
        statement = statement.where(key < after if descending else key > after)
    order = (column.desc(), Result.id.desc()) if descending else (column.asc(), Result.id.asc())
    return list(session.scalars(statement.order_by(*order).limit(PAGE)))


def timed(runs: int, call: Callable[[], object], budget_s: float = 30) -> list[float]:
    """Milliseconds of ``runs`` calls after one warm-up (the steady state), fewer if they take over ``budget_s``."""
    call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < runs and (len(samples) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def plan(db: Database, where: ResultFilter) -> str:
    column, descending = SORTS[where.sort]
    statement = results_statement(replace(where, limit=None)).order_by(None).where(column.is_not(None))
    order = (column.desc(), Result.id.desc()) if descending else (column.asc(), Result.id.asc())
    statement = statement.order_by(*order).limit(PAGE)
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN " if db.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as connection:
        lines = [" | ".join(str(c) for c in row) for row in connection.execute(text(explain + str(compiled)))]
    return "\n      ".join(lines[:8])


def export(url: str, dialect: str, timeout_s: float) -> dict[str, float]:
    """Every current row, side by side: the database's own CSV dump (`psql \\copy`, or `sqlite3
    -csv`) before and after (their mean the reference: this machine's load moves), `mobilabel
    results --format csv|jsonl --limit 0` (seconds, peak RSS) and the API's streamed export (a
    `mobilabel serve` on 127.0.0.1: seconds to the last byte, the server's RSS growth). Each
    export's time is also given as a multiple of the dump's (``_x_dump``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MOBILABEL_DATABASE_URL": url}
    measured: dict[str, float] = {}
    dumps = [database_dump(url, dialect)]
    for fmt in ("csv", "jsonl"):
        measured.update(cli_export(env, fmt, timeout_s))
    with tempfile.TemporaryDirectory() as home, serving({**env, "MOBILABEL_HOME": home}) as (base, server):
        httpx.get(
            f"{base}/api/results", params={"limit": 1}, timeout=60
        ).raise_for_status()  # the first query's setup, not the export's
        for fmt in ("csv", "jsonl"):
            measured.update(api_export(base, server.pid, fmt, timeout_s))
    dumps.append(database_dump(url, dialect))
    measured["database_dump_before_s"], measured["database_dump_after_s"] = dumps
    measured["database_dump_s"] = statistics.mean(dumps)
    for name in [k for k in measured if k.endswith("_s") and not k.startswith("database_dump")]:
        measured[name.removesuffix("_s") + "_x_dump"] = measured[name] / measured["database_dump_s"]
    return measured


def database_dump(url: str, dialect: str) -> float:
    """Seconds for the database's own client to write every current row as CSV (to /dev/null)."""
    query = f"select {EXPORTED} from results where is_current order by image_path, id"
    if dialect == "postgresql":
        dump = [
            "psql",
            url.replace("postgresql+psycopg://", "postgresql://"),
            "-c",
            f"\\copy ({query}) to '/dev/null' csv header",
        ]
    else:
        dump = ["sqlite3", "-csv", "-header", url.removeprefix("sqlite:///"), query]
    started = time.perf_counter()
    subprocess.run(dump, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def cli_export(env: dict[str, str], fmt: str, timeout_s: float) -> dict[str, float]:
    """`mobilabel results --format FMT --limit 0` to /dev/null: seconds and peak RSS (MB)."""
    command = [
        sys.executable,
        "-m",
        "bench.peak_rss",
        sys.executable,
        "-m",
        "mobilabel",
        "results",
        "--format",
        fmt,
        "--limit",
        "0",
    ]
    started = time.perf_counter()
    try:
        run = subprocess.run(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        print(f"  CLI export ({fmt}) did not finish within {timeout_s:g} s", file=sys.stderr)
        return {f"cli_{fmt}_s": float("nan")}
    measured = {
        f"cli_{fmt}_s": time.perf_counter() - started,
        f"cli_{fmt}_peak_rss_mb": int(run.stderr.rsplit("peak_rss_kb=", 1)[1]) / 1024,
    }
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
        measured[f"cli_{fmt}_exit_code"] = run.returncode
    return measured


def api_export(base: str, server_pid: int, fmt: str, timeout_s: float) -> dict[str, float]:
    """GET /api/results/export?format=FMT read to its last byte: seconds, MB, and how far the
    server's RSS rose above where it stood before (its peak, reset first: Linux's clear_refs 5)."""
    status = Path(f"/proc/{server_pid}/status")
    before_kb = _status_kb(status, "VmRSS")
    Path(f"/proc/{server_pid}/clear_refs").write_text("5")
    size = 0
    started = time.perf_counter()
    with httpx.stream("GET", f"{base}/api/results/export", params={"format": fmt}, timeout=timeout_s) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    seconds = time.perf_counter() - started
    growth_mb = (_status_kb(status, "VmHWM") - before_kb) / 1024
    return {f"api_{fmt}_s": seconds, f"api_{fmt}_mb": size / 1e6, f"api_{fmt}_server_rss_growth_mb": growth_mb}


def _status_kb(status: Path, field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", status.read_text(), re.MULTILINE)
    assert match, f"no {field} in {status}"
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialect", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rows", type=int, help="result rows (default 2,000,000 on PostgreSQL, 200,000 on SQLite)")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per page (of 30, the p95 lies between the two slowest)")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--only", action="append", choices=list(QUERIES), help="time only this page query (repeatable)")
    parser.add_argument("--export-timeout", type=float, default=900)
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the filled database (PostgreSQL) and print its URL")
    reuse.add_argument("--database", help="reuse a database an earlier --keep run filled, instead of filling one")
    args = parser.parse_args()
    if args.keep and args.dialect != "postgresql":
        parser.error("--keep: only a PostgreSQL database outlives the run")
    rows = args.rows or (2_000_000 if args.dialect == "postgresql" else 200_000)
    load = os.getloadavg()[0]
    print(f"{args.dialect}, {rows:,} result rows; load average {load:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as workdir:
        url = args.database or make_database(args.dialect, Path(workdir))
        try:
            db = open_database(url, auto_upgrade=True)
            measured: list[tuple[str, str, float, float, int]] = []
            phases = {} if args.database else fill(db, rows)
            print("  " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
            with db.transaction() as session:
                current = session.scalar(select(text("count(*)")).select_from(Result).where(Result.is_current))
                stored = session.scalar(select(text("count(*)")).select_from(Result))
            print(f"  {current:,} current rows")
            if stored != rows:
                sys.exit(f"Error: the database holds {stored:,} result rows, not {rows:,} (give --rows)")
            freeze_long_lived()  # as the server does once started: full collections skip the modules' objects
            for name, where in QUERIES.items():
                if args.only and name not in args.only:
                    continue
                column = SORTS[where.sort][0]
                with db.transaction() as session:
                    first = page(session, where)
                    after = (getattr(first[-1], column.key), first[-1].id)
                    assert all(r.is_current for r in first + page(session, where, after))
                    if len(first) < PAGE:
                        print(f"  {name}: only {len(first)} rows at this size")
                    for kind, key in (("first page", None), ("next page", after)):
                        samples = timed(args.runs, partial(page, session, where, key))
                        p50, p95 = statistics.median(samples), statistics.quantiles(samples, n=20)[-1]
                        measured.append((name, kind, p50, p95, len(samples)))
                        print(f"  {name:45} {kind:10}  p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")
                print(f"      {plan(db, where)}")
            db.dispose()
            exported = {} if args.no_export else export(url, args.dialect, args.export_timeout)
            if exported:
                print("  " + ", ".join(f"{k} {v:.1f}" for k, v in exported.items()))
        finally:
            if args.keep:
                print(f"  kept: --database {url}")
            elif not args.database:
                drop_database(url)
    write_csv(args.dialect, rows, load, phases, measured, exported)


def write_csv(
    dialect: str,
    rows: int,
    load: float,
    phases: dict[str, float],
    pages: list[tuple[str, str, float, float, int]],
    other: dict[str, float],
) -> None:
    new = not OUT.exists()
    with OUT.open("a", newline="") as out:
        writer = csv.writer(out)
        if new:
            writer.writerow(
                ["date", "machine", "load_avg", "dialect", "rows", "measure", "kind", "p50_ms_or_value", "p95_ms", "runs"]
            )
        stamp, machine = time.strftime("%Y-%m-%dT%H:%M"), f"{platform.processor() or platform.machine()} {os.cpu_count()} cores"
        for name, value in {**phases, **other}.items():
            writer.writerow([stamp, machine, f"{load:.1f}", dialect, rows, name, "", f"{value:.2f}", "", 1])
        for name, kind, p50, p95, runs in pages:
            writer.writerow([stamp, machine, f"{load:.1f}", dialect, rows, name, kind, f"{p50:.2f}", f"{p95:.2f}", runs])


if __name__ == "__main__":
    main()
