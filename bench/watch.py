"""`mobilabel watch`: how soon a photo written into a watched folder has its row, and a burst of photos
written while it runs, each labelled exactly once.

    python -m bench.watch [--latency 10] [--burst 1000] [--no-distributed] [--prefix]

For each mode (labelling here with filesystem events; here with --poll, checks every 2 s; and, unless
--no-distributed, sent to one worker through Redis with results in PostgreSQL; with --prefix, an
``s3://`` prefix of a local SeaweedFS server, polled every 2 s, the burst uploaded by 16 threads), starts
`mobilabel watch` on an empty folder or prefix, waits for it to be ready, then writes ``--latency`` photos one at a time, each
timed from the start of its write to its result row (polled every 10 ms), and then ``--burst``
photos as fast as it can, timed from the first write to the last row; every photo must be labelled
by exactly one job. `mobilabel label` of the burst's photos, already in place, is the baseline rate.
Photos are distinct re-encodings of the shared flowers (no content repeats, so
none is answered by reuse), made once under bench/data. Target: a photo's row within 5 s of its
write. Appends to bench/results/watch.csv (``load_avg``: the 1-minute load average at the start).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Job, JobImage, Result
from tests.s3_support import S3Store, running_store

from .bench import distributed_env, flower_photos, mobilabel, wait_for
from .paths import DATA, RESULTS, WEIGHTS

OUT = RESULTS / "watch.csv"
COLUMNS = ["date", "machine", "load_avg", "mode", "measurement", "images", "p50_s", "max_s", "labelled_once", "notes"]


def distinct_photos(count: int) -> list[bytes]:
    """``count`` JPEGs of different content: the flowers, each re-encoded with one pixel set from its index."""
    folder = DATA / f"watch{count}"
    if sum(1 for _ in folder.glob("*.jpg")) != count:
        folder.mkdir(parents=True, exist_ok=True)
        flowers = flower_photos()
        for i in range(count):
            with Image.open(flowers[i % len(flowers)]) as image:
                rgb = image.convert("RGB")
            rgb.putpixel((0, 0), (i % 256, i // 256 % 256, 7))
            buffer = io.BytesIO()
            rgb.save(buffer, "JPEG", quality=92)
            (folder / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
    return [path.read_bytes() for path in sorted(folder.glob("*.jpg"))]


@contextmanager
def watching(source: str, env: dict[str, str], log: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen([*mobilabel("watch", source, *options)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: "watching" in log.read_text() or process.poll() is not None, 600, "watch to start")
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)


def has_row(db: Database, path: str) -> bool:
    with db.transaction() as session:
        return session.scalar(select(Result.id).where(Result.image_path == path, Result.status == "ok")) is not None


def ok_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Result).where(Result.status == "ok")) or 0)


def labelled_once(db: Database, count: int) -> bool:
    """Whether ``count`` photos have an ok row, each labelled by one job, and the jobs covered ``count`` in all."""
    with db.transaction() as session:
        ok = set(session.scalars(select(Result.image_path).where(Result.status == "ok")))
        counts = session.execute(
            select(JobImage.image_path, func.count()).where(JobImage.outcome == "labelled").group_by(JobImage.image_path)
        ).all()
        total = int(session.scalar(select(func.sum(Job.total))) or 0)
    return len(ok) == count and {n for path, n in counts if path in ok} == {1} and total == count


Put = Callable[[str, bytes], str]  # writes a photo under a name relative to the watched source: its result path


def folder_target(folder: Path) -> tuple[str, Put]:
    """A local folder to watch, and how a photo is written into it."""
    folder.mkdir()

    def put(name: str, data: bytes) -> str:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        return str(folder / name)

    return str(folder), put


def prefix_target(store: S3Store) -> tuple[str, Put]:
    """A fresh bucket's prefix to watch, and how a photo is uploaded into it."""
    bucket, client = store.new_bucket(), store.client()

    def put(name: str, data: bytes) -> str:
        client.put_object(Bucket=bucket, Key=f"inbox/{name}", Body=data)
        return f"s3://{bucket}/inbox/{name}"

    return f"s3://{bucket}/inbox", put


def measure(
    mode: str, env: dict[str, str], work: Path, photos: list[bytes], latency: int, options: list[str], target: tuple[str, Put]
) -> list[list[str]]:
    source, put = target
    rows = []
    with watching(source, env, work / f"{mode}.log", *options):
        db = open_database(env["MOBILABEL_DATABASE_URL"])
        waits = []
        for i, data in enumerate(photos[:latency]):
            started = time.perf_counter()
            path = put(f"single-{i:03d}.jpg", data)
            wait_for(partial(has_row, db, path), 120, f"{path}'s row")
            waits.append(time.perf_counter() - started)
            print(f"{mode}: {path} labelled {waits[-1]:.2f} s after its write", flush=True)
        burst = photos[latency:]
        started = time.perf_counter()
        with ThreadPoolExecutor(16 if source.startswith("s3://") else 1) as pool:  # uploads wait on the network
            list(pool.map(lambda item: put(f"burst-{item[0] // 100:02d}/{item[0]:05d}.jpg", item[1]), enumerate(burst)))
        if burst:
            wait_for(lambda: ok_count(db) == len(photos), 1800, "the burst's rows")
        burst_s = time.perf_counter() - started
    once = labelled_once(db, len(photos))
    db.dispose()
    rows.append(
        [
            mode,
            "write to row",
            str(latency),
            f"{statistics.median(waits):.2f}",
            f"{max(waits):.2f}",
            str(once),
            "target under 5 s",
        ]
    )
    if burst:
        note = f"{len(burst) / burst_s:.1f} photos/s from the first write to the last row"
        rows.append([mode, "burst written while watching", str(len(burst)), "", f"{burst_s:.2f}", str(once), note])
    print(f"{mode}: {rows}", flush=True)
    return rows


def label_baseline(env: dict[str, str], work: Path, photos: list[bytes]) -> list[str]:
    """`mobilabel label` of the same photos, already in place, into a fresh database: the rate without watching."""
    folder = work / "library-label"
    folder.mkdir()
    for i, data in enumerate(photos):
        (folder / f"{i:05d}.jpg").write_bytes(data)
    started = time.perf_counter()
    subprocess.run(mobilabel("label", str(folder)), env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    note = f"{len(photos) / seconds:.1f} photos/s, start-up included: the rate the bursts compare with"
    return ["label, no watching", "the burst's photos, in place", str(len(photos)), "", f"{seconds:.2f}", "", note]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=10, help="photos written one at a time, each timed to its row")
    parser.add_argument("--burst", type=int, default=1000, help="photos then written at once while watching")
    parser.add_argument("--no-distributed", action="store_true", help="skip the run through Redis, PostgreSQL and a worker")
    parser.add_argument("--prefix", action="store_true", help="also watch a prefix of a local S3 server (SeaweedFS)")
    options = parser.parse_args()
    stamp, machine = time.strftime("%Y-%m-%dT%H:%M"), f"{platform.processor() or platform.machine()} {os.cpu_count()} cores"
    load = os.getloadavg()[0]
    photos = distinct_photos(options.latency + options.burst)
    measured: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as temporary:
        work = Path(temporary)
        base = {**os.environ, "MOBILABEL_HOME": str(work / "home"), "MOBILABEL_PRETRAINED": str(WEIGHTS)}
        base.pop("MOBILABEL_BROKER_URL", None)
        here = {**base, "MOBILABEL_DATABASE_URL": f"sqlite:///{work}/events.db"}
        measured += measure("here, events", here, work, photos, options.latency, [], folder_target(work / "events"))
        if options.burst:
            baseline = {**base, "MOBILABEL_DATABASE_URL": f"sqlite:///{work}/label.db"}
            measured.append(label_baseline(baseline, work, photos[options.latency :]))
        polled = {**base, "MOBILABEL_DATABASE_URL": f"sqlite:///{work}/polling.db"}
        measured += measure(
            "here, polling every 2 s",
            polled,
            work,
            photos[: options.latency],
            options.latency,
            ["--poll"],
            folder_target(work / "polling"),
        )
        if options.prefix:
            (work / "seaweedfs").mkdir()
            with running_store(work / "seaweedfs") as store:
                in_bucket = {**base, **store.env, "MOBILABEL_DATABASE_URL": f"sqlite:///{work}/prefix.db"}
                prefix = prefix_target(store)
                measured += measure(
                    "here, a bucket prefix polled every 2 s", in_bucket, work, photos, options.latency, [], prefix
                )
        if not options.no_distributed:
            with distributed_env(base) as env:
                allowed = {**env, "MOBILABEL_ALLOWED_ROOTS": str(work)}
                with open(work / "worker.log", "wb") as out:
                    worker = subprocess.Popen(
                        mobilabel("worker", "--concurrency=1", "--queues=cpu"), stdout=out, stderr=subprocess.STDOUT, env=allowed
                    )
                try:
                    wait_for(lambda: "loaded model version" in (work / "worker.log").read_text(), 600, "the worker")
                    target = folder_target(work / "distributed")
                    measured += measure("one worker, events", allowed, work, photos, options.latency, [], target)
                finally:
                    worker.send_signal(signal.SIGTERM)
                    worker.wait(timeout=300)
    new = not OUT.exists()
    with OUT.open("a", newline="") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(COLUMNS)
        for row in measured:
            writer.writerow([stamp, machine, f"{load:.1f}", *row])
    print(f"appended to {OUT}")


if __name__ == "__main__":
    main()
