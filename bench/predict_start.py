"""`mobilabel predict` of one photo from a warm cache, this checkout beside an earlier commit (issue 32).

    python -m bench.predict_start --before REV [--times 5]

Run with the full install's Python. REV's ``mobilabel`` package is exported with ``git archive`` into a
temporary folder and put first on PYTHONPATH for its runs; this checkout's runs use the package as
installed. Both predict the first shared val flower, each in a fresh MOBILABEL_HOME and SQLite database of its own (a
first run registers the ImageNet weights and exports their ONNX file: the cache is then warm), taking
turns, ``--times`` rounds, so a shared machine's load falls on both alike. Rows: each one's median CPU
time (user + system: steadier than wall time where other work holds the cores), median wall time and
the fastest run's (the least held up by other work), the CPU times' ratio, each one's printed label line
(they must be the same, or the bench exits 1), and which of the heavy packages each imported, to
bench/results/predict_start.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.paths import FLOWERS, REPO, RESULTS, WEIGHTS

# Packages `predict` of a local photo from an ONNX file needs none of: what it imported of them is reported.
HEAVY = ("torch", "torchvision", "boto3", "botocore", "alembic", "sqlalchemy", "rich")
PROBE = (
    "import sys\nfrom mobilabel.cli.main import cli\ntry:\n    cli(sys.argv[1:], prog_name='mobilabel')\n"
    "finally:\n    print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy})), file=sys.stderr)\n"
)


def predict(env: dict[str, str], photo: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one `mobilabel predict` of ``photo`` in a fresh process, and its output."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(
        [sys.executable, Path(sys.executable).parent / "mobilabel", "predict", photo],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"bench.predict_start: predict failed:\n{done.stderr}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout.strip()


def imported(env: dict[str, str], photo: Path) -> str:
    """Which of ``HEAVY`` a `mobilabel predict` of ``photo`` imported, space-separated."""
    code = PROBE.format(heavy=set(HEAVY))
    # -P: not the current folder (this checkout) first on the path, so PYTHONPATH's package is the one imported.
    command = [sys.executable, "-P", "-c", code, "predict", str(photo)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the commit (or branch) to compare with")
    parser.add_argument("--times", type=int, default=5)
    args = parser.parse_args()
    before_rev = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short", args.before], capture_output=True, text=True, check=True
    ).stdout.strip()
    photo = sorted((FLOWERS / "val").glob("*/*.jpg"))[0]
    with tempfile.TemporaryDirectory() as homes, tempfile.TemporaryDirectory() as old:
        archive = subprocess.run(["git", "-C", REPO, "archive", before_rev, "mobilabel"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", old], input=archive.stdout, check=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith("MOBILABEL_") and key != "PYTHONPATH"}
        env |= {"MOBILABEL_PRETRAINED": str(WEIGHTS), "MOBILABEL_DEVICE": "cpu"}

        def home(name: str) -> dict[str, str]:
            # A home and database each: an older checkout refuses a database a newer one migrated.
            folder = Path(homes) / name
            folder.mkdir()
            return {"MOBILABEL_HOME": str(folder), "MOBILABEL_DATABASE_URL": f"sqlite:///{folder}/results.db"}

        sides = {f"before ({before_rev})": env | home("before") | {"PYTHONPATH": old}, "now": env | home("now")}
        load = os.getloadavg()[0]
        for side_env in sides.values():
            predict(side_env, photo)  # registers the weights, exports the ONNX file: the cache is warm
        timings: dict[str, list[tuple[float, float, str]]] = {side: [] for side in sides}
        for _ in range(args.times):
            for side, side_env in sides.items():
                timings[side].append(predict(side_env, photo))
        loaded = {side: imported(side_env, photo) for side, side_env in sides.items()}
    outputs = {output for runs in timings.values() for _, _, output in runs}
    wall = {side: statistics.median(run[0] for run in runs) for side, runs in timings.items()}
    cpu = {side: statistics.median(run[1] for run in runs) for side, runs in timings.items()}
    # The run least held up by other work: nearest what a machine with its cores free takes.
    fastest = {side: min(run[0] for run in runs) for side, runs in timings.items()}
    old_side = next(iter(sides))
    figures = [
        *((f"predict one photo, warm cache, {side}: CPU", "s", f"{cpu[side]:.2f}") for side in sides),
        *((f"predict one photo, warm cache, {side}: wall", "s", f"{wall[side]:.2f}") for side in sides),
        *((f"predict one photo, warm cache, {side}: wall of the fastest run", "s", f"{fastest[side]:.2f}") for side in sides),
        ("CPU time, before / now", "x", f"{cpu[old_side] / cpu['now']:.1f}"),
        *((f"heavy packages imported, {side}", "", loaded[side] or "none") for side in sides),
        ("load average (1 min) when the timings started", "", f"{load:.1f}"),
        ("distinct outputs over all runs", "", str(len(outputs))),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "predict_start.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["measure", "unit", "value", "cores"])
        writer.writerows([*row, os.cpu_count()] for row in figures)
    for row in figures:
        print(*row, sep="\t")
    if len(outputs) != 1:
        sys.exit(f"bench.predict_start: the outputs differ: {sorted(outputs)}")


if __name__ == "__main__":
    main()
