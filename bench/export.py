"""The library export at scale (issue 30): constant memory however many rows.

    python -m bench.export [--rows 100000,1000000] [--no-folders]

For each ``--rows`` count it makes a SQLite database of its own (a temporary file), fills it by
SQL with that many current result rows (paths under /photos, 1,000 labels, one content in ten
verified by a correction), and times `mobilabel export DIR --format labelstudio --review-state
verified,suggested` in a child process (bench.peak_rss: wall time and peak RSS). Those paths
name no files, so the class-folder modes are measured apart, on the shared flower photos (609
files, every photo labelled by its folder): `--mode symlink` into a new folder, then again into
the same folder (the idempotent re-run), and `--mode copy`. Rows are appended to
bench/results/export.csv (``load_avg``: the 1-minute load average at the start).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.paths import FLOWERS, RESULTS
from mobilabel.hashing import hash_file
from mobilabel.storage import open_database
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.versions import VersionRecord, register_version

OUT = RESULTS / "export.csv"
COLUMNS = (
    "date",
    "machine",
    "load_avg",
    "rows",
    "tree",
    "format",
    "mode",
    "run",
    "exported",
    "new_files",
    "seconds",
    "peak_rss_mb",
)
LABELS = 1000

_FILL = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :rows)
INSERT INTO results (image_path, content_id, content_hash, label, confidence, model_version_id, status, created_at, updated_at, is_current)
SELECT '/photos/dir' || (i % 1000) || '/img_' || i || '.jpg', '1:1', printf('%032x', i), 'label_' || (i * 7919 % :labels),
       (i * 104729 % 1000003) * 1.0 / 1000003, 'v1', 'ok', :now, :now, 1
FROM seq
"""
_VERIFY = """
INSERT INTO corrections (content_hash, image_path, label, created_at, updated_at)
SELECT content_hash, image_path, label, created_at, created_at FROM results WHERE id % 10 = 0
"""


def classes() -> list[str]:
    return [f"label_{i}" for i in range(LABELS)]


def fill(url: str, rows: int) -> float:
    """A migrated database with ``rows`` current rows; returns the seconds filling took."""
    db = open_database(url, auto_upgrade=True)
    started = time.perf_counter()
    with db.transaction() as session:
        register_version(session, VersionRecord("v1", "mobilenet_v2", 1.0, classes(), {}, b"w"), activate=True)
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        session.execute(text(_FILL), {"rows": rows, "labels": LABELS, "now": now})
        session.execute(text(_VERIFY))
    db.dispose()
    return time.perf_counter() - started


def flowers(url: str) -> int:
    """A database labelling every shared flower photo by its folder; returns how many."""
    photos = sorted(FLOWERS.glob("*/*/*.jpg"))
    names = sorted({p.parent.name for p in photos})
    db = open_database(url, auto_upgrade=True)
    with db.transaction() as session:
        register_version(session, VersionRecord("v1", "mobilenet_v2", 1.0, names, {}, b"w"), activate=True)
        records = [ResultRecord(str(p), "1:1", ResultStatus.OK, p.parent.name, 0.9, content_hash=hash_file(p)) for p in photos]
        write_results(session, records, "v1", None)
    db.dispose()
    return len(photos)


def export(url: str, destination: Path, *args: str) -> tuple[float, float, int, int]:
    """(seconds, peak RSS in MiB, images exported, files made) of one `mobilabel export` in a child process."""
    command = [sys.executable, "-m", "bench.peak_rss", sys.executable, "-m", "mobilabel", "export", str(destination), *args]
    environment = {**os.environ, "MOBILABEL_DATABASE_URL": url, "COLUMNS": "200"}
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    seconds = time.perf_counter() - started
    if run.returncode:
        raise SystemExit(f"mobilabel export failed: {run.stderr[-2000:]}")
    summary = next(line for line in run.stderr.splitlines() if line.startswith("exported "))
    exported, made = int(summary.split()[1]), int(summary.split("(", 1)[1].split()[0])
    return seconds, int(run.stderr.rsplit("peak_rss_kb=", 1)[1]) / 1024, exported, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--no-folders", action="store_true", help="skip the class-folder runs on the flower photos")
    options = parser.parse_args()
    stamp, machine = time.strftime("%Y-%m-%dT%H:%M"), f"{platform.processor() or platform.machine()} {os.cpu_count()} cores"
    load = os.getloadavg()[0]
    measured: list[tuple[object, ...]] = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as work:
        for rows in (int(r) for r in options.rows.split(",")):
            url = f"sqlite:///{work}/rows{rows}.db"
            print(f"{rows} rows: filled in {fill(url, rows):.1f} s", flush=True)
            seconds, rss, exported, made = export(
                url, Path(work) / f"ls{rows}", "--format", "labelstudio", "--review-state", "verified,suggested"
            )
            measured.append((rows, "synthetic", "labelstudio", "", "first", exported, made, seconds, rss))
            print(f"  labelstudio: {exported} tasks in {seconds:.1f} s, peak RSS {rss:.0f} MiB", flush=True)
        if not options.no_folders:
            url = f"sqlite:///{work}/flowers.db"
            count = flowers(url)
            for mode, destination, run in (
                ("symlink", "links", "first"),
                ("symlink", "links", "again"),
                ("copy", "copies", "first"),
            ):
                seconds, rss, exported, made = export(
                    url, Path(work) / destination, "--mode", mode, "--review-state", "suggested"
                )
                measured.append((count, "flowers", "imagefolder", mode, run, exported, made, seconds, rss))
                print(f"  imagefolder {mode} ({run}): {exported} images in {seconds:.1f} s, peak RSS {rss:.0f} MiB", flush=True)
    new = not OUT.exists()
    with OUT.open("a", newline="") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(COLUMNS)
        for rows, tree, fmt, mode, run, exported, made, seconds, rss in measured:
            writer.writerow(
                [stamp, machine, f"{load:.1f}", rows, tree, fmt, mode, run, exported, made, f"{seconds:.2f}", f"{rss:.0f}"]
            )
    print(f"appended to {OUT}")


if __name__ == "__main__":
    main()
