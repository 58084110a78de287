"""Throughput, measured side by side in one run, as ratios to the tutorial's predict loop.

    python -m bench.bench [--large 5000] [--no-distributed] [--no-training] [--device cpu|cuda]

On the shared flowers (609 photos) and a larger set made by copying them, each copy its own content (5,000
files by default), it measures:
  (a) the tutorial's predict loop: open, transform, forward one image at a time, fp32;
  (b) decode + transform alone;  (c) the forward pass alone per engine, at its best batch
  size, with label agreement against fp32 eager (ImageNet classes and a flowers model);
  (d) `mobilabel label` end to end;  (e) one and two workers end to end, enqueue to the
  last row (needs the local Redis and PostgreSQL);  enqueueing 100,000 paths;
  and one training epoch of `mobilabel train` beside the tutorial's loop.
End-to-end figures are wall time with start-up, and marginal images/s from the
difference of the two folder sizes. Results go to bench/results/<machine>_<settings>.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from mobilabel.config import available_cores
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier, default_batch_size
from mobilabel.pipeline.decoders import DECODERS
from mobilabel.pipeline.labeller import Labeller

from .engines import ENGINE_CANDIDATES, agreement, forward_rate, lanes_rate
from .paths import DATA, FLOWERS, REPO, RESULTS, WEIGHTS

POSTGRES_ADMIN = os.environ.get("MOBILABEL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("MOBILABEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Row:
    name: str
    images: int
    wall_s: float | None = None
    images_per_s: float | None = None  # marginal: start-up excluded
    peak_rss_mb: float | None = None
    notes: str = ""
    ratio: float | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        rate = f"{row.images_per_s:8.1f} img/s" if row.images_per_s else " " * 14
        wall = f"{row.wall_s:7.1f} s" if row.wall_s is not None else " " * 9
        rss = f"{row.peak_rss_mb:6.0f} MB" if row.peak_rss_mb else ""
        print(f"  {row.name:<44} {row.images:>6} img {wall} {rate} {rss} {row.notes}", flush=True)
        return row


# -- data ----------------------------------------------------------------------------------


def flower_photos() -> list[Path]:
    return sorted(FLOWERS.glob("*/*/*.jpg"))


def large_folder(count: int) -> Path:
    """``count`` JPEG files copied from the flowers, each its own content (made once, kept under bench/data).

    Each copy carries its number in a JPEG comment after the start marker: identical files would
    cost one inference per content (labelling reuses a content's result), and measure nothing.
    """
    folder = DATA / f"unique{count}"
    if len(list(folder.glob("*/*.jpg"))) != count:
        shutil.rmtree(folder, ignore_errors=True)
        photos = flower_photos()
        for i in range(count):
            target = folder / f"{i // 500:03d}" / f"{i:06d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            data = photos[i % len(photos)].read_bytes()
            comment = f"mobilabel bench copy {i}".encode()
            target.write_bytes(data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:])
    return folder


def empty_paths_folder(count: int) -> Path:
    """``count`` empty .jpg files: enough to measure enqueueing, which never opens them."""
    folder = DATA / f"paths{count}"
    if sum(1 for _ in folder.glob("*/*.jpg")) != count:
        shutil.rmtree(folder, ignore_errors=True)
        for i in range(count):
            target = folder / f"{i // 1000:03d}" / f"{i:06d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    return folder


# -- (a) the tutorial, (b) decode, (c) forward ---------------------------------------------


def tutorial_predict(paths: list[Path]) -> tuple[float, float, list[int]]:
    """The tutorial's predict script, once per image: (load seconds, loop seconds, labels)."""
    from torchvision import transforms as T
    from torchvision.models import mobilenet_v2

    started = time.perf_counter()
    transform = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    )
    model = mobilenet_v2(num_classes=1000)
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    model.eval()
    loaded = time.perf_counter()
    labels = []
    for path in paths:
        image = transform(Image.open(path)).unsqueeze(0)
        with torch.no_grad():
            output = torch.squeeze(model(image)).cpu()
            probabilities = torch.softmax(output, dim=0)
            labels.append(int(torch.argmax(probabilities)))
    return loaded - started, time.perf_counter() - loaded, labels


def decode_rate(paths: list[Path], threads: int, decoder: str, classifier: Classifier) -> float:
    """Images per second from file to model input, with the product's reader and decoder."""
    labeller = Labeller(
        classifier, batch_size=default_batch_size(classifier.engine.device), decode_threads=threads, decoder=decoder
    )
    torch.set_num_threads(1)
    started = time.perf_counter()
    ready = [item for batch in labeller.read_ahead(paths) for item in labeller.prepare(batch.items, classifier)]
    if classifier.engine.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    torch.set_num_threads(available_cores())
    assert all(item.tensor is not None for item in ready)
    return len(paths) / seconds


def decoder_agreement(paths: list[Path], classifier: Classifier) -> float:
    """Share of ``paths`` given the same ImageNet label through both decoders."""
    labels = [
        [r.label for batch in Labeller(classifier, decoder=decoder).label(paths) for r in batch.records]
        for decoder in ("pillow", "torchvision")
    ]
    return sum(a == b for a, b in zip(*labels, strict=True)) / len(paths)


def real_batch(paths: list[Path], size: int) -> torch.Tensor:
    """``size`` transformed photos (repeating ``paths`` as needed)."""
    transform = Checkpoint.load(WEIGHTS).preprocessing.eval_transform()
    photos = torch.stack([transform(read_rgb(p, 10**9)) for p in paths])
    return photos.repeat((size + len(photos) - 1) // len(photos), 1, 1, 1)[:size]


# -- (d) and (e): end to end, as a user runs it ---------------------------------------------


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command to its end: (wall seconds, peak RSS in MB, stderr)."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", *command],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stderr[-3000:]}")
    peak = re.findall(r"peak_rss_kb=(\d+)", finished.stderr)[-1]
    return time.perf_counter() - started, int(peak) / 1024, finished.stderr


def mobilabel(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "mobilabel", *arguments]


def embedded_label(folder: Path, env: dict[str, str], home: Path) -> tuple[float, float]:
    shutil.rmtree(home, ignore_errors=True)
    wall, rss, _ = run_measured(mobilabel("label", str(folder)), {**env, "MOBILABEL_HOME": str(home)})
    return wall, rss


def marginal(small: int, small_s: float, large: int, large_s: float) -> float:
    return (large - small) / (large_s - small_s)


@contextmanager
def distributed_env(base: dict[str, str]) -> Iterator[dict[str, str]]:
    """A private PostgreSQL database and Redis key prefix for the distributed measurements."""
    import redis
    from sqlalchemy import create_engine, text

    name = f"mobilabel_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    prefix = f"mobilabel-bench-{uuid.uuid4().hex[:8]}:"
    env = {
        **base,
        "MOBILABEL_DATABASE_URL": POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}",
        "MOBILABEL_BROKER_URL": REDIS,
        "MOBILABEL_REDIS_PREFIX": prefix,
    }
    try:
        subprocess.run(mobilabel("db", "upgrade"), env=env, check=True, capture_output=True)
        yield env
    finally:
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def peak_rss_mb(pid: int) -> float:
    """High-water RSS of a live process, from /proc."""
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(p) for p in children.read_text().split())] if children.exists() else [pid]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def distributed_label(folder: Path, env: dict[str, str], workers: int, log_dir: Path) -> tuple[float, float, float]:
    """Start ``workers`` workers, enqueue ``folder``, wait for its last row:
    (seconds from worker start, seconds from enqueue, peak RSS of one worker process in MB)."""
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    processes = []
    for i in range(workers):
        log = open(log_dir / f"worker{i}.log", "wb")
        concurrency = max(1, available_cores() // workers)
        processes.append(
            subprocess.Popen(
                mobilabel(
                    "worker", f"--concurrency={concurrency}", f"--name=bench{i}-{uuid.uuid4().hex[:6]}@%h", "--loglevel=WARNING"
                ),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    engine = create_engine(env["MOBILABEL_DATABASE_URL"])
    try:
        for i, process in enumerate(processes):
            wait_for(partial(lambda pid: len(process_tree(pid)) > 1, process.pid), 120, f"worker {i}")
        enqueued = time.perf_counter()
        job = subprocess.run(
            mobilabel("enqueue", str(folder)), env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

        def finished() -> bool:
            with engine.connect() as connection:
                return (
                    connection.execute(text("select status from jobs where id = :id"), {"id": int(job)}).scalar() == "completed"
                )

        wait_for(finished, 3600, f"job {job}")
        ended = time.perf_counter()
        rss = max(peak_rss_mb(pid) for process in processes for pid in process_tree(process.pid)[1:])
    finally:
        engine.dispose()
        for process in processes:
            os.killpg(process.pid, 9)
            process.wait()
    return ended - started, ended - enqueued, rss


# -- the run ---------------------------------------------------------------------------------


def machine_name(device: str = "cpu") -> str:
    model = "cpu"
    cpuinfo = Path("/proc/cpuinfo")
    if device.startswith("cuda"):
        model = torch.cuda.get_device_name(device)
    elif cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        if found:
            model = found.group(1)
    model = re.sub(r"\(R\)|\(TM\)|CPU|@.*|Processor", "", model).strip()
    return re.sub(r"[^A-Za-z0-9.]+", "-", f"{model}-{available_cores()}cores").strip("-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=int, default=5000, help="size of the larger folder (copies of the flowers)")
    parser.add_argument("--no-distributed", action="store_true", help="skip (e) and enqueueing (no Redis/PostgreSQL)")
    parser.add_argument("--no-training", action="store_true", help="skip the training epoch comparison")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for (c) and (d)")
    parser.add_argument("--enqueue-paths", type=int, default=100_000)
    args = parser.parse_args()

    report = Report()
    photos = flower_photos()
    large = large_folder(args.large)
    env = {**os.environ, "MOBILABEL_PRETRAINED": str(WEIGHTS), "MOBILABEL_DEVICE": args.device}
    for name in ("MOBILABEL_DATABASE_URL", "MOBILABEL_HOME", "MOBILABEL_ENGINE", "MOBILABEL_DECODER"):
        env.pop(name, None)
    settings = f"engine-{os.environ.get('MOBILABEL_ENGINE', 'auto')}_batch-{os.environ.get('MOBILABEL_BATCH_SIZE', 'auto')}_{args.device}"
    print(f"machine {machine_name(args.device)}, torch {torch.__version__}, {available_cores()} threads, settings {settings}\n")

    # (a) runs three times, spread over the benchmark, and its median is the base of every ratio:
    # on a shared VM a single run of it has varied by a third within an hour.
    tutorial_runs = [tutorial_predict(photos)[:2]]
    print(f"  (a) tutorial predict loop, run 1: {len(photos) / tutorial_runs[0][1]:.1f} img/s", flush=True)

    imagenet = Checkpoint.load(WEIGHTS)
    flowers_model = flowers_checkpoint(args.no_training)
    engine_kind = "torch" if args.device.startswith("cuda") else "auto"
    classifier = Classifier.load(imagenet, engine=engine_kind, device=args.device)
    for decoder in DECODERS:
        for threads in sorted({1, available_cores()}):
            report.add(
                Row(
                    f"(b) decode + transform, {decoder}, {threads} thread(s)",
                    len(photos),
                    images_per_s=decode_rate(photos, threads, decoder, classifier),
                    notes=f"JPEGs decoded on {classifier.engine.device if decoder == 'torchvision' else 'cpu'} (nvjpeg on a GPU)",
                )
            )
    notes = f"ImageNet {decoder_agreement(photos, classifier):.2%}"
    if flowers_model is not None:
        notes += (
            f", flowers {decoder_agreement(photos, Classifier.load(flowers_model, engine=engine_kind, device=args.device)):.2%}"
        )
    report.add(Row("(b) labels, torchvision decoder = pillow", len(photos), notes=notes))
    del classifier

    sizes = (32, 64, 128, 256, 512) if args.device.startswith("cuda") else (1, 8, 16, 32, 64)
    batch = real_batch(photos[:64], max(sizes))
    for candidate in ENGINE_CANDIDATES:
        if not candidate.runs_on(args.device):
            continue
        engine = candidate.build(imagenet.build(), args.device)
        best_size, best_rate = max(((size, forward_rate(engine, batch[:size])) for size in sizes), key=lambda r: r[1])
        notes = f"best batch {best_size}; labels = fp32 eager: ImageNet {agreement(candidate, imagenet, photos, args.device):.2%}"
        if flowers_model is not None:
            notes += f", flowers {agreement(candidate, flowers_model, photos, args.device):.2%}"
        report.add(Row(f"(c) forward alone, {candidate.name}", best_size, images_per_s=best_rate, notes=notes))
    if not args.device.startswith("cuda"):
        labelling = Classifier.load(imagenet, device="cpu", threads=1)
        pixels = labelling.stack([labelling.pixels(read_rgb(p, 10**9)) for p in photos[:32]])
        report.add(
            Row(
                f"(c) forward alone, as labelling runs it: {available_cores()} lanes",
                len(pixels),
                images_per_s=lanes_rate(labelling.engine, pixels, available_cores()),
                notes="onnxruntime fp32, a lane per core, each one thread, image by image; batch 32",
            )
        )

    home = DATA / "home"
    default_decoder = next(iter(DECODERS))
    for decoder in DECODERS:  # the default first: its rows are (d)'s figure
        denv = {**env, "MOBILABEL_DECODER": decoder}
        small_s, small_rss = embedded_label(FLOWERS, denv, home)
        large_s, large_rss = embedded_label(large, denv, home)
        which = "" if decoder == default_decoder else f", {decoder} decoder"
        report.add(Row(f"(d) mobilabel label, flowers{which}", len(photos), small_s, peak_rss_mb=small_rss))
        report.add(
            Row(
                f"(d) mobilabel label, {args.large} copies{which}",
                args.large,
                large_s,
                marginal(len(photos), small_s, args.large, large_s),
                large_rss,
                f"marginal from the two sizes; {decoder}",
            )
        )

    tutorial_runs.append(tutorial_predict(photos)[:2])
    print(f"  (a) tutorial predict loop, run 2: {len(photos) / tutorial_runs[-1][1]:.1f} img/s", flush=True)

    if not args.no_distributed:
        for workers in (1, 2):
            # A database per worker count: the second would reuse every result the first stored.
            with distributed_env({**env, "MOBILABEL_HOME": str(home)}) as denv, tempfile.TemporaryDirectory() as logs:
                small = distributed_label(FLOWERS, denv, workers, Path(logs))
                large_run = distributed_label(large, denv, workers, Path(logs))
            report.add(
                Row(
                    f"(e) {workers} worker(s), flowers",
                    len(photos),
                    small[0],
                    len(photos) / small[1],
                    small[2],
                    "rate from enqueue to last row",
                )
            )
            report.add(
                Row(
                    f"(e) {workers} worker(s), {args.large} copies",
                    args.large,
                    large_run[0],
                    marginal(len(photos), small[1], args.large, large_run[1]),
                    large_run[2],
                    "marginal from the two sizes; RSS of one worker process",
                )
            )
        with distributed_env({**env, "MOBILABEL_HOME": str(home)}) as denv:
            paths = empty_paths_folder(args.enqueue_paths)
            wall, rss, _ = run_measured(mobilabel("enqueue", str(paths), "--chunk", "64"), denv)
            report.add(Row(f"enqueue {args.enqueue_paths:,} paths", args.enqueue_paths, wall, args.enqueue_paths / wall, rss))

    if not args.no_training:
        from .training import compare

        speeds = compare(FLOWERS / "train", WEIGHTS)
        report.add(
            Row(
                "training epoch, tutorial loop (batch 16, 0 workers)",
                speeds.tutorial.images,
                speeds.tutorial.seconds,
                speeds.tutorial.images_per_s,
            )
        )
        report.add(
            Row(
                "training epoch, mobilabel train",
                speeds.mobilabel.images,
                speeds.mobilabel.seconds,
                speeds.mobilabel.images_per_s,
                notes=f"{speeds.ratio:.2f}x the tutorial",
            )
        )

    tutorial_runs.append(tutorial_predict(photos)[:2])
    load_s, loop_s = sorted(tutorial_runs, key=lambda run: run[1])[len(tutorial_runs) // 2]
    runs = ", ".join(f"{len(photos) / loop:.1f}" for _, loop in tutorial_runs)
    tutorial = Row(
        "(a) tutorial predict loop, eager fp32, 1 by 1",
        len(photos),
        load_s + loop_s,
        len(photos) / loop_s,
        notes=f"median of {len(tutorial_runs)} runs over the benchmark: {runs} img/s",
    )
    report.rows.insert(0, tutorial)
    base_rate = tutorial.images_per_s or 1.0
    print(f"  {tutorial.name:<44} {base_rate:8.1f} img/s  {tutorial.notes}")

    print("\nratios to (a):")
    for row in report.rows:
        if row.images_per_s and not row.name.startswith(("training", "enqueue")):
            row.ratio = row.images_per_s / base_rate
            print(f"  {row.name:<44} {row.ratio:6.2f}x")
    write_csv(report, RESULTS / f"{machine_name(args.device)}_{settings}.csv")


def flowers_checkpoint(skip: bool) -> Checkpoint | None:
    """A 5-class flowers model trained for the agreement check (2 epochs: enough to be a real model)."""
    if skip:
        return None
    from mobilabel.config import load_settings
    from mobilabel.storage import open_database
    from mobilabel.training import TrainingOptions, train

    with tempfile.TemporaryDirectory() as home:
        settings = load_settings().model_copy(
            update={"home": Path(home), "database_url": f"sqlite:///{home}/bench.db", "pretrained": WEIGHTS}
        )
        database = open_database(settings.database_url)
        report = train(database, settings, FLOWERS, TrainingOptions(epochs=2))
        checkpoint = Checkpoint.load(report.checkpoint_path)
        database.dispose()
    return checkpoint


def write_csv(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["measurement", "images", "wall_s", "images_per_s", "ratio_to_a", "peak_rss_mb", "notes"])
        for row in report.rows:
            writer.writerow(
                [
                    row.name,
                    row.images,
                    _fmt(row.wall_s),
                    _fmt(row.images_per_s),
                    _fmt(row.ratio),
                    _fmt(row.peak_rss_mb),
                    row.notes,
                ]
            )
    print(f"\nwritten {path.relative_to(REPO)}")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
