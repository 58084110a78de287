"""Slim CPU workers (issue 32, item 7): an install without torch labels from a version's stored ONNX file.

    python -m bench.slim [--venv DIR] [--check]

Run with the full install's Python. Makes (once) a virtual environment at ``--venv`` with
``pip install --no-deps .`` and ``requirements/slim.txt``, then in a fresh MOBILABEL_HOME and SQLite database:
  - the full install's `mobilabel predict` registers the ImageNet weights and exports their ONNX file;
  - in the slim venv, ``import torch`` must fail, and `mobilabel label` labels the shared val flowers
    (peak RSS, from bench.peak_rss); every result must have the label of the torch engine run in this
    process, its top-5 probabilities within 1e-4;
  - `mobilabel predict` of one photo from the warm cache, the median of five (wall and CPU time), in the
    slim install, in the full one, and in the full one with ``--engine torch`` (which imports torch: the
    start-up before this work);
  - the slim venv's size on disk;
  - the default decoder's resize and crop per photo in numpy (slim) and in torchvision (the same pixels), and
    the labeller's throughput on the shared flowers with each (``label_rates``, side by side in this process).
Rows go to bench/results/slim.csv with their targets. ``--check`` (the CI step) exits 1 when torch imports
in the slim venv or a result differs; the figures themselves are reported, not asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.paths import FLOWERS, REPO, RESULTS, WEIGHTS
from mobilabel.imaging import label_min_side, load_source, read_picture
from mobilabel.models import Checkpoint, Classifier, Preprocessing
from mobilabel.models.onnx_file import onnx_path
from mobilabel.models.preprocessing import TorchResizeCrop
from mobilabel.pipeline.labeller import Labeller

TOLERANCE = 1e-4


def make_venv(venv: Path) -> None:
    """The slim install, as docs/slim-workers.md gives it."""
    if (venv / "bin" / "mobilabel").exists():
        subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)], check=True)
        return
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", str(REPO)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "-r", str(REPO / "requirements" / "slim.txt")], check=True)


def run(command: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(part) for part in command], env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        sys.exit(f"bench.slim: {' '.join(map(str, command))} failed:\n{done.stderr}")
    return done


def predict_seconds(command: list[str | Path], env: dict[str, str], times: int = 5) -> tuple[float, float]:
    """Median wall time and CPU time (user + system) of ``command`` (a `mobilabel predict`), the model cache
    warm (run once before). On a shared machine the CPU time is the steadier figure: the wall time
    includes waiting for cores other work holds."""
    run(command, env)
    wall, cpu = [], []
    for _ in range(times):
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        run(command, env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall.append(time.perf_counter() - started)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(wall), statistics.median(cpu)


def torch_results(photos: list[Path]) -> dict[str, tuple[str | None, dict[str, float]]]:
    """Each photo's label and top-5 probabilities from the torch engine on the CPU (the reference)."""
    classifier = Classifier.load(Checkpoint.load(WEIGHTS), engine="torch", device="cpu", top_k=5)
    found = {}
    for batch in Labeller(classifier).label(photos):
        for record in batch.records:
            found[record.image_path] = (record.label, {k["label"]: k["confidence"] for k in record.top_k or []})
    return found


def crop_ms(photos: list[Path]) -> tuple[float, float]:
    """Milliseconds per photo of the default decoder's resize and crop of a decoded photo, on one thread:
    numpy (the slim path) and torchvision's tensor kernel (the torch path), the same pixels."""
    torch.set_num_threads(1)
    preprocessing = Preprocessing()
    pictures = [read_picture(load_source(p), 10**9, label_min_side(preprocessing.resize_size)).image for p in photos]
    numpy_crop, tensor_crop = preprocessing.eval_array_pixels(), preprocessing.eval_tensor_pixels()
    started = time.perf_counter()
    for picture in pictures:
        numpy_crop(picture)
    middle = time.perf_counter()
    for picture in pictures:
        tensor_crop(torch.from_numpy(np.array(picture)).permute(2, 0, 1))
    done = time.perf_counter()
    return 1000 * (middle - started) / len(pictures), 1000 * (done - middle) / len(pictures)


RESIZES = {
    "numpy (the slim install's)": lambda p: p.eval_array_pixels(),
    "torchvision (where torch is installed)": lambda p: TorchResizeCrop(p.resize_size, p.crop_size, numpy_first=0),
}


def label_rates(photos: list[Path], onnx_file: Path, version_id: str, rounds: int = 3) -> dict[str, float]:
    """Images per second of the labeller (decode threads, resize, ONNX Runtime lanes: `mobilabel label`'s
    pipeline without the database) from the stored ONNX file, for each resize of ``RESIZES``, side by side:
    the variants take turns, ``rounds`` times, and each keeps its best round (the least disturbed by other
    work on a shared machine). Every variant must give every photo the same label."""
    cores = os.cpu_count() or 1
    classifier = Classifier.from_onnx_file(onnx_file, version_id, threads=1)
    best: dict[str, float] = {}
    labels: dict[str, list[str | None]] = {}
    for _ in range(rounds):
        for name, resize in RESIZES.items():
            classifier._thread_pixels = resize(classifier.preprocessing)  # noqa: SLF001  # the variant measured
            labeller = Labeller(classifier, batch_size=32, decode_threads=cores, lanes=cores)
            started = time.perf_counter()
            records = [record for batch in labeller.label(photos) for record in batch.records]
            best[name] = max(best.get(name, 0.0), len(photos) / (time.perf_counter() - started))
            labels[name] = [record.label for record in records]
    if len({tuple(found) for found in labels.values()}) != 1:
        sys.exit("bench.slim: the resizes gave different labels")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "mobilabel-slim")
    parser.add_argument("--check", action="store_true", help="exit 1 if torch imports in the slim venv or a result differs")
    args = parser.parse_args()
    make_venv(args.venv)
    slim, full_mobilabel = args.venv / "bin" / "mobilabel", Path(sys.executable).parent / "mobilabel"
    val = FLOWERS / "val"
    photos = sorted(val.glob("*/*.jpg"))
    problems = []

    with tempfile.TemporaryDirectory() as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith("MOBILABEL_")}
        env |= {
            "MOBILABEL_HOME": home,
            "MOBILABEL_DATABASE_URL": f"sqlite:///{home}/results.db",
            "MOBILABEL_PRETRAINED": str(WEIGHTS),
            "MOBILABEL_DEVICE": "cpu",
        }
        torch_import = subprocess.run([args.venv / "bin" / "python", "-c", "import torch"], capture_output=True, text=True)
        if torch_import.returncode == 0:
            problems.append("torch imports in the slim venv")
        load = os.getloadavg()[0]
        full = predict_seconds([full_mobilabel, "predict", photos[0]], env)  # registers the weights, exports the ONNX file
        slim_predict = predict_seconds([slim, "predict", photos[0]], env)
        torch_predict = predict_seconds([full_mobilabel, "predict", "--engine", "torch", photos[0]], env)
        labelled = run([sys.executable, "-m", "bench.peak_rss", slim, "label", val], env)
        peak_mb = int(labelled.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0]) / 1024
        rows = [json.loads(line) for line in run([slim, "results", "--format", "jsonl", "--limit", "0"], env).stdout.splitlines()]
        reference = torch_results(photos)
        worst = 0.0
        for row in rows:
            label, top = reference[row["image_path"]]
            stored = {k["label"]: k["confidence"] for k in row["top_k"]}
            worst = max(worst, *(abs(p - stored.get(name, 0.0)) for name, p in top.items()))
            if row["label"] != label:
                problems.append(f"{row['image_path']}: {row['label']} from the ONNX file, {label} from torch")
        if len(rows) != len(photos):
            problems.append(f"{len(rows)} results for {len(photos)} photos")
        if worst >= TOLERANCE:
            problems.append(f"probabilities differ by up to {worst:.2e} (tolerance {TOLERANCE})")

        version_id = rows[0]["model_version_id"] if rows else ""
        rates = label_rates(sorted(FLOWERS.glob("*/*/*.jpg")), onnx_path(Path(home) / "models", version_id), version_id)

    numpy_ms, tensor_ms = crop_ms(photos)
    size_mb = sum(f.stat().st_size for f in args.venv.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    figures = [
        ("slim install size", "MB", f"{size_mb:.0f}", "< 500"),
        ("slim label peak RSS", "MB", f"{peak_mb:.0f}", "< 400"),
        ("slim predict one photo, warm cache: wall", "s", f"{slim_predict[0]:.2f}", "< 1"),
        ("slim predict one photo, warm cache: CPU", "s", f"{slim_predict[1]:.2f}", ""),
        ("full install predict (ONNX file): wall", "s", f"{full[0]:.2f}", ""),
        ("full install predict (ONNX file): CPU", "s", f"{full[1]:.2f}", ""),
        ("full install predict --engine torch (imports torch): wall", "s", f"{torch_predict[0]:.2f}", ""),
        ("full install predict --engine torch (imports torch): CPU", "s", f"{torch_predict[1]:.2f}", ""),
        ("load average (1 min) when the timings started", "", f"{load:.1f}", ""),
        ("resize and crop of a decoded val photo, numpy (slim), one thread", "ms", f"{numpy_ms:.1f}", ""),
        ("resize and crop of a decoded val photo, torchvision (torch path), one thread", "ms", f"{tensor_ms:.1f}", ""),
        *(
            (
                f"labeller throughput on the flowers ({os.cpu_count()} lanes, best of 3), resize by {name}",
                "images/s",
                f"{rate:.1f}",
                "",
            )
            for name, rate in rates.items()
        ),
        ("val photos labelled from the ONNX file", "images", str(len(rows)), str(len(photos))),
        ("largest probability difference from torch", "", f"{worst:.1e}", f"< {TOLERANCE}"),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "slim.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["measure", "unit", "value", "target", "cores"])
        writer.writerows([*row, os.cpu_count()] for row in figures)
    for row in figures:
        print(*row, sep="\t")
    if problems:
        print("\n".join(problems), file=sys.stderr)
    if args.check and problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
