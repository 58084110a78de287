"""Photos in a local S3 store (SeaweedFS) against the same photos on local disk, and the incremental check of a
large prefix.

    python -m bench.object_store [--photos 2436] [--rounds 1] [--objects 100000] [--baseline DIR]

(a) ``mobilabel label FOLDER`` and ``mobilabel label s3://bucket/prefix`` of the same ``--photos`` distinct
JPEGs (``bench.large_folder``: each its own content), embedded, each on a fresh database, alternating, side by
side on this machine: the rate each prints (start-up excluded) and the peak RSS of the process; targets: S3 at
least 0.8x the disk rate, peak RSS no more than 10% above. (b) ``--objects`` tiny objects named as photos under
one prefix, each with the ``ok`` row a previous run left (written directly), then ``mobilabel label`` of the
prefix with nothing changed, through a counting gateway (``tests.s3_support.FaultyGateway`` with no fault):
every object skipped, no object read; target under 30 s. With ``--baseline DIR`` (the ``mobilabel`` package of
an earlier commit, e.g. ``git archive COMMIT mobilabel | tar -x -C DIR``) that tree's ``label`` runs too,
alternating with this one's, ``--rounds`` times each, on the same prefix and database: a before/after ratio
measured side by side. Results go to bench/results/<machine>_object_store.csv.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mobilabel.models import Checkpoint
from mobilabel.object_paths import parse_uri
from mobilabel.object_store import fingerprint
from mobilabel.storage import open_database
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.versions.checkpoints import register_checkpoint
from tests.s3_support import FaultyGateway, S3Store, running_store

from .bench import Report, Row, large_folder, machine_name, mobilabel, run_measured, write_csv
from .paths import RESULTS, WEIGHTS

_RATE = re.compile(r"\(([\d.]+) img/s")
_CPU = re.compile(r"cpu_s=([\d.]+)")


def labelled(source: str, count: int, env: dict[str, str], home: Path) -> tuple[float, float, float]:
    """(wall s, rate img/s as printed, peak RSS MB) of ``mobilabel label SOURCE`` on a fresh database."""
    home.mkdir(parents=True, exist_ok=True)
    run_env = {**env, "MOBILABEL_HOME": str(home), "MOBILABEL_DATABASE_URL": f"sqlite:///{home}/bench.db", "COLUMNS": "400"}
    wall, rss, stderr = run_measured(mobilabel("label", source), run_env)
    if f"{count} images, {count} labelled, 0 failed" not in stderr:
        raise RuntimeError(f"label {source}:\n{stderr[-2000:]}")
    return wall, float(_RATE.findall(stderr)[-1]), rss


def upload(store: S3Store, folder: Path, bucket: str, prefix: str) -> None:
    client = store.client()
    files = sorted(p for p in folder.rglob("*.jpg"))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda p: client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(folder).as_posix()}"), files))


def disk_against_s3(report: Report, store: S3Store, env: dict[str, str], photos: int, rounds: int, work: Path) -> None:
    folder = large_folder(photos)
    bucket = store.new_bucket()
    upload(store, folder, bucket, "library")
    runs: dict[str, list[tuple[float, float, float]]] = {"disk": [], "s3": []}
    for i in range(rounds):
        for kind, source in (("disk", str(folder)), ("s3", f"s3://{bucket}/library")):
            runs[kind].append(labelled(source, photos, env, work / f"{kind}{i}"))
    disk_rate = max(rate for _, rate, _ in runs["disk"])
    disk_rss = max(rss for _, _, rss in runs["disk"])
    for kind, measured in runs.items():
        wall, rate, rss = max(measured, key=lambda m: m[1])
        ratio = rate / disk_rate
        notes = f"best of {rounds}; rate as label prints it (start-up excluded); peak RSS {rss / disk_rss:.2f}x disk's"
        row = Row(f"label from {kind} (embedded)", photos, wall, rate, rss, notes, ratio)
        report.add(row)


def listing_check(
    report: Report, store: S3Store, env: dict[str, str], objects: int, work: Path, rounds: int, baseline: Path | None
) -> None:
    bucket = store.new_bucket()
    client = store.client()
    keys = [f"big/{i // 1000:03d}/{i:06d}.jpg" for i in range(objects)]
    body = b"\xff\xd8\xff not read by an incremental check"
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=body)["ETag"], keys))
    home = work / "listing"
    home.mkdir(parents=True)
    url = f"sqlite:///{home}/bench.db"
    db = open_database(url, auto_upgrade=True)
    version_id = register_checkpoint(db, Checkpoint.load(WEIGHTS))
    records = [
        ResultRecord(str(parse_uri(f"s3://{bucket}/{key}")), fingerprint(etag, len(body)), ResultStatus.OK, "daisy", 0.9)
        for key, etag in zip(keys, answers, strict=True)
    ]
    with db.transaction() as session:
        write_results(session, records, version_id, None)
    db.dispose()
    gateway = FaultyGateway(store)
    run_env = {**env, "MOBILABEL_HOME": str(home), "MOBILABEL_DATABASE_URL": url, "AWS_ENDPOINT_URL_S3": gateway.endpoint}
    trees = {"this tree": None} if baseline is None else {"baseline": baseline, "this tree": None}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    try:
        for _ in range(rounds):
            for name, tree in trees.items():
                wall, rss, stderr = run_measured(label_command(tree, f"s3://{bucket}/big"), {**run_env, "COLUMNS": "400"})
                expected = f"{objects} images, 0 labelled, 0 failed, {objects} skipped (unchanged)"
                if expected not in stderr:
                    raise RuntimeError(f"expected {expected!r}:\n{stderr[-2000:]}")
                runs[name].append((wall, rss, float(_CPU.findall(stderr)[-1])))
    finally:
        gateway.close()
    reads = sum(gateway.gets.values())
    first = min(wall for wall, _, _ in runs[next(iter(trees))])
    for name, measured in runs.items():
        wall, rss, _ = min(measured)
        walls = " / ".join(f"{w:.1f}" for w, _, _ in measured)
        cpu = " / ".join(f"{c:.1f}" for _, _, c in measured)
        notes = (
            f"nothing changed: listing + incremental check, start-up included; objects read: {reads}; target under 30 s; "
            f"{name}{f' ({baseline.name})' if name == 'baseline' and baseline else ''}, best of {walls} s wall "
            f"(CPU {cpu} s), alternated"
        )
        report.add(Row(f"label s3:// prefix, nothing changed ({name})", objects, wall, None, rss, notes, first / wall))


def label_command(tree: Path | None, source: str) -> list[str]:
    """``mobilabel label SOURCE`` from this checkout, or from the ``mobilabel`` package under ``tree``."""
    if tree is None:
        return mobilabel("label", source)
    start = f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); sys.argv[0] = 'mobilabel'; runpy.run_module('mobilabel', run_name='__main__')"
    return [sys.executable, "-c", start, "label", source]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2436)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="a folder holding an earlier commit's mobilabel package, run side by side")
    args = parser.parse_args()
    report = Report()
    with tempfile.TemporaryDirectory() as tmp, running_store(Path(tmp)) as store:
        env = {**os.environ, **store.env, "MOBILABEL_PRETRAINED": str(WEIGHTS)}
        env = {k: v for k, v in env.items() if not k.startswith("MOBILABEL_") or k == "MOBILABEL_PRETRAINED"}
        if args.photos:
            disk_against_s3(report, store, env, args.photos, args.rounds, Path(tmp))
        if args.objects:
            listing_check(report, store, env, args.objects, Path(tmp), args.rounds, args.baseline)
    write_csv(report, RESULTS / f"{machine_name()}_object_store.csv")


if __name__ == "__main__":
    main()
