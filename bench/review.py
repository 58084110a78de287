"""The review page against its targets (a usable gallery, thumbnails and review step), measured against a running `mobilabel serve`:

    python -m bench.review [--rows 200000] [--pg-rows 2000000] [--runs 30] [--no-postgres] [--no-photos]

(a) gallery page: the requests the gallery makes when it opens (the HTML of /ui/, its JS,
    /api/corrections, /api/models, then the first results page of 100 with its filters), over
    a SQLite database and a PostgreSQL one filled by `bench.results_scale`'s SQL (20 jobs,
    1,000 labels, two model versions, 0.2% failed); p50/p95 per request and of the whole set
    in the page's order (target: < 300 ms). Times are taken by the client on 127.0.0.1 with a
    kept-alive connection: server time plus loopback, an upper bound of server time.
(b) thumbnails: 100 photos of 12 megapixels made from the shared flowers (upscaled to
    4032x3024, mild noise, JPEG q90, one in four with EXIF orientation 6; cached under
    bench/data, git-ignored), labelled with `mobilabel label`; the 100 gallery thumbnails
    (256 px) fetched 6 at a time as a browser does: cold (made on demand; target < 15 s in
    total) and warm (cached on disk; target < 1 s in total).
(c) review step, over the 100 photos in turn: a correction PUT, as the page sends per key
    press, then the next image's 512 px thumbnail (prefetched by the page two ahead, so
    already cached by the server): the time from the PUT to the next image ready (target
    < 100 ms), over the first and the last tenth of the steps; then GET /api/corrections.
Results are appended to bench/results/review.csv with the load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import update

from bench.api import free_port
from bench.paths import RESULTS
from bench.results_scale import drop_database, fill, make_database
from mobilabel.storage import open_database
from mobilabel.storage.tables import ModelVersion

REPO = Path(__file__).resolve().parents[1]
OUT = RESULTS / "review.csv"
SHARED = Path(os.environ.get("MOBILABEL_SHARED", REPO.parent / "shared"))
FLOWERS = SHARED / "datasets" / "flowers" / "train"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_imagenet.pth"
PHOTOS = REPO / "bench" / "data" / "review_12mp"
PHOTO_SIZE = (4032, 3024)  # a 12-megapixel phone photo
BROWSER_CONNECTIONS = 6  # a browser's connections per host over HTTP/1.1
# The gallery's views, as the page builds their URLs: the default one, one job's review queue, a label's confidence band, a folder.
VIEWS = {
    "gallery, default view": {"sort": "path"},
    "review queue of job 3": {"job": "3", "status": "ok", "sort": "confidence"},
    "label in a confidence range": {"label": "label_17", "min_confidence": "0.2", "max_confidence": "0.8", "sort": "-confidence"},
    "path pattern": {"path": "/photos/job3/dir42/*", "sort": "path"},
}

Row = tuple[str, str, float, float, int]  # measure, kind, p50 ms (or a value), p95 ms, samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


@contextmanager
def server(env: dict[str, str]) -> Iterator[httpx.Client]:
    """A `mobilabel serve` on a free loopback port, and a kept-alive client to it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mobilabel", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=60)


def get_ms(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    client.get(path, params=params).raise_for_status()
    return (time.perf_counter() - started) * 1000


def gallery(client: httpx.Client, runs: int) -> list[Row]:
    """Per request and for the whole page load: the requests the gallery makes, in its order."""
    rows: list[Row] = []
    for view, filters in VIEWS.items():
        steps: dict[str, Callable[[], float]] = {
            "GET /ui/": partial(get_ms, client, "/ui/"),
            "GET /ui/app.js": partial(get_ms, client, "/ui/app.js"),
            "GET /api/corrections": partial(get_ms, client, "/api/corrections"),
            "GET /api/models": partial(get_ms, client, "/api/models"),
            "GET /api/results (100)": partial(get_ms, client, "/api/results", {**filters, "limit": "100"}),
        }
        for step in steps.values():
            step()  # warm-up: the steady state is measured
        samples: dict[str, list[float]] = {name: [] for name in [*steps, "page total"]}
        for _ in range(runs):
            total = 0.0
            for name, step in steps.items():
                ms = step()
                samples[name].append(ms)
                total += ms
            samples["page total"].append(total)
        for name, values in samples.items():
            p50, p95 = percentiles(values)
            rows.append((view, name, p50, p95, len(values)))
            print(f"  {view:28} {name:24} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    return rows


def database_section(dialect: str, rows: int, runs: int, home: Path) -> list[Row]:
    with tempfile.TemporaryDirectory() as workdir:
        url = make_database(dialect, Path(workdir))
        try:
            db = open_database(url, auto_upgrade=True)
            started = time.perf_counter()
            fill(db, rows)
            with db.transaction() as session:  # the versions' classes: the API checks a label filter against them
                session.execute(update(ModelVersion).values(classes=[f"label_{i}" for i in range(1000)]))
            db.dispose()
            filled = time.perf_counter() - started
            print(f"{dialect}, {rows:,} result rows filled in {filled:.0f} s")
            env = {**os.environ, "PYTHONPATH": str(REPO), "MOBILABEL_HOME": str(home), "MOBILABEL_DATABASE_URL": url}
            with server(env) as client:
                measured = gallery(client, runs)
        finally:
            drop_database(url)
    return [(f"{dialect} {rows} rows: {view}", kind, p50, p95, n) for view, kind, p50, p95, n in measured]


def make_photos(count: int) -> list[Path]:
    """``count`` 12-megapixel JPEGs from the shared flowers (made once, then reused)."""
    PHOTOS.mkdir(parents=True, exist_ok=True)
    sources = sorted(FLOWERS.glob("*/*.jpg"))[:: max(1, len(sorted(FLOWERS.glob("*/*.jpg"))) // count)][:count]
    rng = np.random.default_rng(15)
    made: list[Path] = []
    for n, source in enumerate(sources):
        target = PHOTOS / f"{source.parent.name}_{n:03d}.jpg"
        made.append(target)
        if target.is_file():
            continue
        with Image.open(source) as image:
            big = np.asarray(image.convert("RGB").resize(PHOTO_SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
        noisy = np.clip(big + rng.integers(-6, 7, size=big.shape, dtype=np.int16), 0, 255).astype(np.uint8)
        exif = Image.Exif()
        if n % 4 == 0:
            exif[0x0112] = 6  # stored sideways: shown turned 90° clockwise
        Image.fromarray(noisy).save(target, "JPEG", quality=90, exif=exif.tobytes())
    return made


def fetch_all(client: httpx.Client, paths: list[str]) -> float:
    """Seconds to GET every path, ``BROWSER_CONNECTIONS`` at a time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        for response in pool.map(client.get, paths):
            response.raise_for_status()
    return time.perf_counter() - started


def photo_section(count: int, home: Path) -> list[Row]:
    started = time.perf_counter()
    photos = make_photos(count)
    print(f"\n{len(photos)} photos of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} ready in {time.perf_counter() - started:.0f} s")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MOBILABEL_HOME": str(home),
        "MOBILABEL_PRETRAINED": str(WEIGHTS),
        "MOBILABEL_DATABASE_URL": f"sqlite:///{home / 'review.db'}",
        "MOBILABEL_ALLOWED_ROOTS": str(PHOTOS),
        "COLUMNS": "400",
    }
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mobilabel", "label", str(PHOTOS)], env=env, cwd=REPO, check=True, capture_output=True)
    print(f"  labelled in {time.perf_counter() - started:.0f} s")
    rows: list[Row] = []
    with server(env) as client:
        items = client.get("/api/results", params={"sort": "confidence", "limit": "100"}).json()["items"]
        thumbnails = [f"/api/results/{item['id']}/thumbnail?size=256" for item in items]
        cold = fetch_all(client, thumbnails)
        warm = [fetch_all(client, thumbnails) * 1000 for _ in range(5)]
        print(
            f"  {len(thumbnails)} thumbnails, {BROWSER_CONNECTIONS} at a time: cold {cold:.2f} s, warm p50 {statistics.median(warm):.0f} ms"
        )
        rows.append(("thumbnails 256 px of 12 MP photos", f"cold, {len(thumbnails)} in total", cold * 1000, cold * 1000, 1))
        rows.append(("thumbnails 256 px of 12 MP photos", f"warm, {len(thumbnails)} in total", *percentiles(warm), len(warm)))
        for item in items[:3]:  # the page prefetches the next two before the first key press
            client.get(f"/api/results/{item['id']}/thumbnail", params={"size": "512"}).raise_for_status()
        # Every image reviewed in turn: the first and last tenth of the steps show whether a step grows with the verified labels.
        puts: list[float] = []
        steps: list[float] = []
        for index, item in enumerate(items[:-3]):
            started = time.perf_counter()
            client.put("/api/corrections", json={"result_id": item["id"], "label": item["label"]}).raise_for_status()
            puts.append((time.perf_counter() - started) * 1000)
            client.get(f"/api/results/{items[index + 1]['id']}/thumbnail", params={"size": "512"}).raise_for_status()
            steps.append((time.perf_counter() - started) * 1000)
            # The page's prefetch of the image two ahead, off the measured path.
            client.get(f"/api/results/{items[index + 3]['id']}/thumbnail", params={"size": "512"}).raise_for_status()
        tenth = max(1, len(steps) // 10)
        for kind, values in (
            ("PUT /api/corrections", puts),
            ("PUT to next image ready", steps),
            (f"PUT to next image ready, first {tenth} (1-{tenth} verified)", steps[:tenth]),
            (f"PUT to next image ready, last {tenth} ({len(steps) - tenth + 1}-{len(steps)} verified)", steps[-tenth:]),
        ):
            p50, p95 = percentiles(values)
            rows.append(("review step", kind, p50, p95, len(values)))
            print(f"  review step, {kind:48} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
        listed = [get_ms(client, "/api/corrections") for _ in range(10)]
        p50, p95 = percentiles(listed)
        rows.append(("gallery with review done", f"GET /api/corrections ({len(steps)} verified)", p50, p95, len(listed)))
        print(f"  GET /api/corrections with {len(steps)} verified labels: p50 {p50:.1f} ms  p95 {p95:.1f} ms")
    return rows


def write_csv(load: float, rows: list[Row]) -> None:
    new = not OUT.exists()
    with OUT.open("a", newline="") as out:
        writer = csv.writer(out)
        if new:
            writer.writerow(["date", "machine", "load_avg", "measure", "kind", "p50_ms", "p95_ms", "samples"])
        stamp, machine = time.strftime("%Y-%m-%dT%H:%M"), f"{platform.processor() or platform.machine()} {os.cpu_count()} cores"
        for measure, kind, p50, p95, n in rows:
            writer.writerow([stamp, machine, f"{load:.1f}", measure, kind, f"{p50:.1f}", f"{p95:.1f}", n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="result rows in the SQLite database")
    parser.add_argument("--pg-rows", type=int, default=2_000_000, help="result rows in the PostgreSQL database")
    parser.add_argument("--runs", type=int, default=30, help="page loads per view")
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-photos", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"bench.review: load average {load:.1f} on {os.cpu_count()} cores")
    home = Path(tempfile.mkdtemp(prefix="bench-review-"))
    for part in ("sqlite", "postgresql", "photos"):
        (home / part).mkdir()
    rows: list[Row] = []
    try:
        if not args.no_sqlite:
            rows += database_section("sqlite", args.rows, args.runs, home / "sqlite")
        if not args.no_postgres:
            rows += database_section("postgresql", args.pg_rows, args.runs, home / "postgresql")
        if not args.no_photos:
            rows += photo_section(args.photos, home / "photos")
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if rows:
            write_csv(load, rows)


if __name__ == "__main__":
    main()
