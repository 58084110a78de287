"""`mobilabel label`, `results`, `jobs` and `predict`, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from mobilabel.cli.main import cli
from mobilabel.storage import open_database
from mobilabel.storage.tables import Job
from mobilabel.storage.tables import Result as ResultRow
from tests.bad_images import make_bad_input_folder
from tests.conftest import FLOWERS, REPO

VAL = FLOWERS / "val"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def csv_rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_label_the_val_folder_then_query_it(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    labelled = run("label", str(VAL))
    assert labelled.exit_code == 0, labelled.output
    assert "120 images, 120 labelled, 0 failed" in labelled.output

    rows = csv_rows(run("results", "--format", "csv").output)
    assert len(rows) == 120
    assert {r["status"] for r in rows} == {"ok"}
    assert all(0 < float(r["confidence"]) <= 1 for r in rows)
    assert len({r["image_path"] for r in rows}) == 120
    assert sum(r["label"] == "daisy" for r in rows) >= 15, "ImageNet knows daisies"

    daisies = json.loads(run("results", "--label", "daisy", "--format", "json").output)
    assert daisies and all(r["label"] == "daisy" for r in daisies)
    assert len(daisies[0]["top_k"]) == 5
    sure = csv_rows(run("results", "--min-confidence", "0.9", "--sort=-confidence", "--format", "csv").output)
    assert sure and all(float(r["confidence"]) >= 0.9 for r in sure)
    assert [float(r["confidence"]) for r in sure] == sorted((float(r["confidence"]) for r in sure), reverse=True)
    tulips = csv_rows(run("results", "--path", "*/tulips/*", "--format", "csv").output)
    assert len(tulips) == 27 and all("/tulips/" in r["image_path"] for r in tulips)
    (job,) = csv_rows(run("jobs", "--format", "csv").output)
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("completed", "120", "120", "0")


def test_labelling_a_folder_twice_leaves_no_duplicate_rows(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        assert run("db", "upgrade").exit_code == 0
    assert run("label", str(VAL / "roses")).exit_code == 0
    assert run("label", "--force", str(VAL / "roses")).exit_code == 0  # unchanged files are labelled again only when forced
    # Nothing to label: no progress bar ("0/? - img/s recent ... eta" read as a stalled run), only the summary.
    unchanged = run("label", str(VAL / "roses"))
    assert "nothing new to label: 20 images unchanged for model version imagenet-" in unchanged.output, unchanged.output
    assert "0/?" not in unchanged.output and "img/s recent" not in unchanged.output, unchanged.output
    database = open_database(database_url)
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ResultRow)) == 20
        assert session.scalar(select(func.count(func.distinct(ResultRow.image_path)))) == 20
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.total, j.done, j.failed, j.status) for j in jobs] == [(20, 20, 0, "completed")] * 2 + [(20, 0, 0, "completed")]
        assert {r.job_id for r in session.scalars(select(ResultRow))} == {jobs[1].id}
    database.dispose()
    for job in jobs:  # the shared rows were written last by the second job; the first keeps its images all the same
        assert len(csv_rows(run("results", "--job", str(job.id), "--format", "csv").output)) == 20


def test_bad_input_folder_completes_with_a_row_per_file(tmp_path: Path, val_images: list[Path]) -> None:
    folder = tmp_path / "bad"
    expect = make_bad_input_folder(folder, val_images[0])
    command = [sys.executable, "-m", "mobilabel", "label", str(folder)]
    if os.geteuid() == 0:
        # root reads any file: drop that power so the unreadable file is really unreadable.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    # Measured from a small launcher: a child's peak RSS would count this test process's memory too.
    labelled = subprocess.run(
        [sys.executable, "-m", "bench.peak_rss", *command], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    stderr = labelled.stderr
    assert labelled.returncode == 0, stderr
    assert "Traceback" not in stderr
    peak_mb = int(re.findall(r"peak_rss_kb=(\d+)", stderr)[-1]) / 1024
    assert peak_mb < 2048, f"peak RSS {peak_mb:.0f} MB: the bomb must be refused, not decoded"

    rows = {Path(r["image_path"]).relative_to(folder).as_posix(): r for r in csv_rows(run("results", "--format", "csv").output)}
    assert rows.keys() == expect.keys(), "one row per image file, nothing else, no loop through the symlink"
    for name, outcome in expect.items():
        if outcome == "ok":
            assert rows[name]["status"] == "ok" and rows[name]["label"], name
        else:
            assert rows[name]["status"] == "failed", name
            assert outcome in rows[name]["error"], (name, rows[name]["error"])
    failed = sum(outcome != "ok" for outcome in expect.values())
    assert f"{len(expect)} images, {len(expect) - failed} labelled, {failed} failed" in " ".join(stderr.split())


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["label", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "folder not found" in result.output and "Traceback" not in result.output


def test_an_empty_folder_is_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("label", str(tmp_path / "empty"))
    assert result.exit_code == 0
    assert "No images under" in result.output


def test_no_weights_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOBILABEL_PRETRAINED")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    result = CliRunner().invoke(cli, ["label", str(VAL)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no model weights found" in lines[0] and "MOBILABEL_PRETRAINED" in lines[0]


def test_imagenet_weights_are_pointed_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("label", str(VAL / "roses")).exit_code == 0
    monkeypatch.delenv("MOBILABEL_PRETRAINED")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    again = run("label", str(VAL / "tulips"))
    assert again.exit_code == 0 and "27 images, 27 labelled" in again.output
    assert "model version imagenet-" in again.output


def test_predict_prints_label_and_confidence(val_images: list[Path]) -> None:
    result = run("predict", "--top-k", "3", str(val_images[0]), str(val_images[1]))
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    fields = lines[0].split("\t")
    assert fields[0] == str(val_images[0]) and len(fields) == 7
    assert 0 < float(fields[2]) <= 1


def test_the_summary_rate_says_it_is_over_the_whole_job_and_the_bar_rate_over_recent_images() -> None:
    # The bar showed 127 img/s and the summary 43.7 img/s for one job: read side by side, they contradicted each
    # other. Each now names what it measures.
    from rich.console import Console
    from rich.progress import Task

    from mobilabel.cli.labelling import _print_summary
    from mobilabel.cli.progress import RateColumn
    from mobilabel.pipeline.embedded import JobSummary

    console = Console(record=True, width=300)
    _print_summary(console, JobSummary(1, "/photos", "v1", 100, done=100, seconds=2.0), "sqlite://", "onnx")
    assert "(50.0 img/s overall, start-up included; onnx engine)" in console.export_text()
    task = Task(0, "labelling", 100, 100, _get_time=lambda: 0.0)
    task.finished_speed = 127.0
    assert RateColumn().render(task).plain == "127.0 img/s recent"


def test_a_run_with_nothing_new_says_so_without_a_time_or_a_rate() -> None:
    # The newcomer's incremental run: "609 images, 0 labelled, ... in 0.0 s (68.3 img/s overall ...)".
    from rich.console import Console

    from mobilabel.cli.labelling import _print_summary
    from mobilabel.pipeline.embedded import JobSummary

    console = Console(record=True, width=300)
    unchanged = JobSummary(7, "/photos", "v1", 609, skipped=609, seconds=0.0146, passed_over={"not an image": 2})
    _print_summary(console, unchanged, "sqlite://", "onnx")
    (first, *_) = console.export_text().splitlines()
    assert first == (
        "job 7: nothing new to label: 609 images unchanged for model version v1, 2 skipped: not an image; "
        "--force labels all again"
    )
