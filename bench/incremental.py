"""Incremental labelling: a large folder labelled again with nothing changed.

    python -m bench.incremental [--files 20000]

Makes ``--files`` hard links of the shared flowers (each its own path, so each its own
result row), stores the rows a previous `mobilabel label` of them leaves (ok, with each
file's fingerprint, for the ImageNet version: written directly, since labelling 20,000
photos first would take minutes and is not what is measured), then times, start-up
included, `mobilabel label DIR` (target: under 10 s) and `mobilabel enqueue DIR` (no chunk
may be sent) with nothing changed. Results go to bench/results/<machine>_incremental.csv.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from pathlib import Path

from mobilabel.imaging import content_identity
from mobilabel.models import Checkpoint
from mobilabel.pipeline.paths import iter_images
from mobilabel.storage import open_database
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.versions.checkpoints import register_checkpoint

from .bench import REDIS, Report, Row, flower_photos, machine_name, mobilabel, run_measured, write_csv
from .paths import DATA, RESULTS, WEIGHTS


def linked_folder(count: int) -> Path:
    """``count`` hard links of the flowers (made once, kept under bench/data)."""
    folder = DATA / f"links{count}"
    if sum(1 for _ in folder.glob("*/*.jpg")) != count:
        photos = flower_photos()
        for i in range(count):
            target = folder / f"{i // 1000:03d}" / f"{i:06d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.link(photos[i % len(photos)], target)
    return folder


def store_previous_run(database_url: str, folder: Path) -> str:
    """The rows labelling ``folder`` with the ImageNet weights leaves; returns the version id."""
    db = open_database(database_url)
    version_id = register_checkpoint(db, Checkpoint.load(WEIGHTS))
    records = [ResultRecord(str(p), content_identity(p), ResultStatus.OK, "daisy", 0.9) for p in iter_images(folder)]
    with db.transaction() as session:
        write_results(session, records, version_id, None)
    db.dispose()
    return version_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    folder = linked_folder(args.files)
    report = Report()
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "MOBILABEL_HOME": home,
            "MOBILABEL_DATABASE_URL": f"sqlite:///{home}/bench.db",
            "MOBILABEL_PRETRAINED": str(WEIGHTS),
            "MOBILABEL_BROKER_URL": REDIS,
            "MOBILABEL_REDIS_PREFIX": f"mobilabel-bench-{uuid.uuid4().hex[:8]}:",
        }
        store_previous_run(env["MOBILABEL_DATABASE_URL"], folder)
        wall, rss, stderr = run_measured(mobilabel("label", str(folder)), env)
        expected = f"{args.files} images, 0 labelled, 0 failed, {args.files} skipped (unchanged)"
        if expected not in stderr:
            raise RuntimeError(f"expected {expected!r}:\n{stderr[-2000:]}")
        report.add(
            Row("incremental: label, nothing changed", args.files, wall, None, rss, "start-up included; target under 10 s")
        )
        wall, rss, stderr = run_measured(mobilabel("enqueue", str(folder)), env)
        expected = f"0 images sent to queue cpu, {args.files} skipped (unchanged)"
        if expected not in stderr:
            raise RuntimeError(f"expected {expected!r}:\n{stderr[-2000:]}")
        report.add(Row("incremental: enqueue, nothing changed", args.files, wall, None, rss, "start-up included; no chunk sent"))
    write_csv(report, RESULTS / f"{machine_name()}_incremental.csv")


if __name__ == "__main__":
    main()
