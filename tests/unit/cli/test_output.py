"""Tables read well in a pipe (80 columns): ids, dates and states whole, long paths shortened from the left."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from mobilabel.cli.accepting import TABLE_COLUMNS as ACCEPT_COLUMNS
from mobilabel.cli.accepting import TABLE_DROP_FIRST as ACCEPT_DROP_FIRST
from mobilabel.cli.main import cli
from mobilabel.cli.output import table_of
from mobilabel.config import load_settings
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database, versions
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.database import DbSession
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import JobState, ResultStatus
from tests.conftest import FLOWERS

DEEP = "/srv/photos/2024/summer holiday in the mountains/day 3/camera roll/originals"


@contextmanager
def stored() -> Iterator[DbSession]:
    """A transaction on this test's own database."""
    database = open_database(load_settings().database_url, auto_upgrade=True)
    try:
        with database.transaction() as session:
            yield session
    finally:
        database.dispose()


def active_version(session: DbSession, version_id: str, classes: list[str] | None = None) -> None:
    """Register ``version_id`` (a stand-in checkpoint, validation accuracy 0.9) and make it the active version."""
    record = versions.VersionRecord(version_id, "mobilenet_v2", 1.0, classes or ["daisy", "roses"], {"val_accuracy": 0.9}, b"x")
    versions.register_version(session, record, activate=True)


def rendered(table: Table, width: int) -> str:
    """``table`` as a terminal ``width`` characters wide prints it."""
    out = io.StringIO()
    Console(file=out, width=width).print(table)
    return out.getvalue()


def test_jobs_in_a_pipe_fit_80_columns_without_breaking_an_id_a_date_or_a_state() -> None:
    with stored() as session:
        for _ in range(3):
            job = stored_jobs.create_job(session, DEEP, None, status=JobState.COMPLETED)
        stored_jobs.set_total(session, job.id, 123456)
    listed = CliRunner().invoke(cli, ["jobs"])  # not a terminal: rich lays it out for 80 columns
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= 80, listed.output
    (row,) = [line for line in lines if line.startswith("3 ")]
    assert "completed" in row and "123456" in row, listed.output
    assert row.rstrip().endswith("camera roll/originals") and "…" in row, "a long path keeps its end"
    created = job.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    assert created in row, listed.output


LONG_LABEL = "lesser spotted mountain flower"
LONG_TEXT = "the decoder said something long about this file that goes on and on"


def table_lines(*args: str, width: int = 80) -> list[str]:
    listed = CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width)})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= width, listed.output
    return lines


def leading_cell(lines: list[str], ending: str) -> str:
    """The row's text up to the end of ``ending`` (a path shown first in its row, its end kept)."""
    (row,) = [line for line in lines if ending in line]
    return row[: row.index(ending) + len(ending)]


def test_every_table_fits_80_columns_and_keeps_the_columns_it_is_about(tmp_path: Path) -> None:
    folder = tmp_path / DEEP.lstrip("/")
    folder.mkdir(parents=True)
    photos = [folder / f"IMG_000{i}.jpg" for i in (1, 2)]
    for photo, source in zip(photos, sorted((FLOWERS / "val" / "roses").glob("*.jpg")), strict=False):
        shutil.copy(source, photo)
        assert CliRunner().invoke(cli, ["correct", str(photo), LONG_LABEL, "--new-class"]).exit_code == 0
    with stored() as session:
        classes = [f"class {i}" for i in range(20)]
        version_id = "trained-20261206-221500-" + "f" * 40
        active_version(session, version_id, classes)
        job = stored_jobs.create_job(session, str(folder), version_id, status=JobState.RUNNING)
        stored_jobs.finish_job(session, job.id, JobState.FAILED, error=LONG_TEXT)
        write_results(
            session,
            [
                ResultRecord(str(photos[0]), "1:1", ResultStatus.OK, LONG_LABEL, 0.5, [], warning=LONG_TEXT),
                ResultRecord(str(photos[1]), "1:1", ResultStatus.FAILED, error=LONG_TEXT),
            ],
            version_id,
            job.id,
        )
        run = stored_runs.create_run(session, str(folder), {"epochs": 2}, False, False, trigger="schedule")
        stored_runs.finish_run(session, run.id, None, None, error=LONG_TEXT)
        promoting = stored_runs.create_run(session, str(folder), {"epochs": 2}, False, False, trigger="schedule")
        stored_runs.finish_run(session, promoting.id, version_id, True)

    # Before: no label column, and each path cut to nine characters. Narrower, columns are left out, never those two.
    for width in (80, 50):
        lines = table_lines("correct", "--list", width=width)
        for photo in photos:
            assert len(leading_cell(lines, photo.name)) >= 16, lines
            assert LONG_LABEL.split()[0] in next(line for line in lines if photo.name in line), lines
    assert "left out to fit 50 columns: made on" in " ".join(lines), lines
    lines = table_lines("results")
    assert len(leading_cell(lines, "IMG_0001.jpg")) >= 16 and LONG_LABEL.split()[0] in next(
        line for line in lines if "IMG_0001.jpg" in line
    )
    lines = table_lines("jobs")
    row = next(line for line in lines if line.startswith(f"{job.id} "))
    assert "failed" in row and "roll/originals" in row and LONG_TEXT.split()[0] in row, lines
    lines = table_lines("runs")
    row = next(line for line in lines if line.startswith(f"{run.id} "))
    assert "failed" in row and "originals" in row, lines
    assert any("promoted" in line for line in lines[:3]), lines  # kept at 80 columns: what a reviewer waits for
    lines = table_lines("models")
    row = next(line for line in lines if line.startswith("trained-"))
    assert "yes" in row, lines  # the id and whether it is active


def test_version_ids_and_the_estimate_stay_whole_at_80_columns() -> None:
    # The newcomer's walkthrough: `runs` showed "quick-804f87e1085" for quick-804f87e10853, and `models`
    # "no audit answers labell…".
    version_id = "quick-804f87e10853"
    with stored() as session:
        active_version(session, version_id)
        run = stored_runs.create_run(session, None, {"quick": True}, False, False, trigger="quick")
        stored_runs.finish_run(session, run.id, version_id, True)
    lines = table_lines("runs")
    assert version_id in next(line for line in lines if line.startswith(f"{run.id} ")), lines
    lines = table_lines("models")
    assert version_id in next(line for line in lines if line.startswith("quick-")), lines
    shown = "\n".join(lines)
    assert "…" not in shown and "no audit answers labelled" in shown, lines  # wrapped at a word, not cut


def test_runs_at_80_columns_keep_the_version_id_beside_a_progress_and_an_error() -> None:
    # The newcomer's `runs` at COLUMNS=80: a run with progress and a failed one left the version id out.
    version_id = "804f87e10853"
    with stored() as session:
        active_version(session, version_id)
        trained = stored_runs.create_run(session, str(FLOWERS), {"epochs": 10}, False, False, trigger="cli")
        progress = {"epoch": 10, "epochs": 10, "phase": "val", "done": 120, "total": 120, "loss": 0.5, "accuracy": 0.8}
        stored_runs.record_progress(session, trained.id, progress)
        stored_runs.finish_run(session, trained.id, version_id, True)
        failed = stored_runs.create_run(session, str(FLOWERS), {"epochs": 10}, False, False, trigger="cli")
        stored_runs.finish_run(session, failed.id, None, None, error=LONG_TEXT)
    lines = table_lines("runs")
    assert "version id" in lines[1], lines
    row = next(line for line in lines if line.startswith(f"{trained.id} "))
    assert f" {version_id} " in row and "yes" in row, lines
    assert LONG_TEXT.split()[0] in next(line for line in lines if line.startswith(f"{failed.id} ")), lines
    assert "left out to fit 80 columns: trigger, created at, progress" in " ".join(lines), lines


def test_a_key_column_is_left_out_by_no_command() -> None:
    version_id = "imagenet-0123456789ab"
    rows = [{"id": 1, "version_id": version_id, "error": LONG_TEXT, "status": "completed"}]
    table = table_of(("id", "version_id", "status", "error"), rows, 40, drop_first=("version_id", "id", "status"))
    lines = rendered(table, 40).splitlines()
    assert lines[1].startswith(f"1  {version_id} the decoder"), lines  # whole, on one line
    assert "left out to fit 40 columns: status" in " ".join(" ".join(lines).split()), lines


def test_results_matching_nothing_print_the_usual_header_and_say_so() -> None:
    # Before: a header alone, without its label column ("image path confidence status review state version").
    header = "image path label confidence status review state version"
    empty = CliRunner().invoke(cli, ["results"], env={"COLUMNS": "80"})
    assert empty.exit_code == 0 and empty.stdout.split("\n")[1] == header, empty.stdout
    assert empty.stderr == "no results stored yet: mobilabel label FOLDER labels one\n"
    with stored() as session:
        active_version(session, "804f87e10853")
        job = stored_jobs.create_job(session, "/photos", "804f87e10853", status=JobState.COMPLETED)
        write_results(session, [ResultRecord("/photos/a.jpg", "1:1", ResultStatus.OK, "daisy", 0.9, [])], "804f87e10853", job.id)
    shown = CliRunner().invoke(cli, ["results"]).stdout.split("\n")
    headed = shown[1 : next(i for i, line in enumerate(shown) if "a.jpg" in line)]
    assert sorted(" ".join(headed).split()) == sorted(header.split()), shown  # the same columns with a row
    none = CliRunner().invoke(cli, ["results", "--path", "*/nothing/*"], env={"COLUMNS": "80"})
    assert none.exit_code == 0 and none.stdout.split("\n")[1] == header and none.stderr == "no results match\n", none.output
    formats = {f: CliRunner().invoke(cli, ["results", "--path", "*/nothing/*", "--format", f]) for f in ("csv", "json", "jsonl")}
    assert formats["csv"].stdout.startswith("image_path,label,") and formats["csv"].stdout.count("\n") == 1
    assert formats["json"].stdout == "[]\n" and formats["jsonl"].stdout == ""
    assert all(r.exit_code == 0 and r.stderr == "" for r in formats.values()), formats


def test_the_accept_table_at_80_columns_breaks_no_header_and_wraps_needs_between_words() -> None:
    needs = "more answers than the 359 unanswered"
    row = {"class": "sunflowers", "accepted": 0, "evidence": "12/60", "bound": 0.9123, "needs": needs, "withdrawn": 65}
    for width in (80, 200):
        shown = rendered(table_of(ACCEPT_COLUMNS, [row], width, "accept", ACCEPT_DROP_FIRST), width)
        words = shown.split()
        assert {"accepted", "withdrawn", "changed", "sunflowers"} <= set(words), shown
        assert all(w in words for w in needs.split()), shown  # wrapped between words, never folded
        if width == 200:
            assert needs in shown  # room enough: on one line
