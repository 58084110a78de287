"""A worker holds the files of a job or training run to the allowed roots of the process that created it
(issue 22, case 1): work created over HTTP cannot make a worker without roots of its own read outside the server's."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from mobilabel.broker import create_app
from mobilabel.config import load_settings
from mobilabel.confinement import Confinement
from mobilabel.imaging import ImageReadError, load_source
from mobilabel.models import Preprocessing
from mobilabel.storage import chunks as stored_chunks
from mobilabel.storage import jobs as stored_jobs
from mobilabel.storage import open_database
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.corrections import CorrectionRecord, save_corrections
from mobilabel.storage.result_queries import ResultFilter, query_results
from mobilabel.training.data import LabelledImage
from mobilabel.training.loader import make_loader
from mobilabel.worker.chunk import process_chunk
from mobilabel.worker.runtime import WorkerRuntime
from mobilabel.worker.training_task import run_training
from tests.api_support import ClientFactory
from tests.training_folders import copied_training_folder

JOB_ROOTS_REFUSED = "path is outside the allowed roots of the server that created the job (its MOBILABEL_ALLOWED_ROOTS); not read"


def photos_and_a_way_out(tmp_path: Path, val_images: list[Path]) -> tuple[Path, Path]:
    """(allowed, outside): allowed/ holds a photo and a link to one in outside/."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    shutil.copy(val_images[0], allowed / "good.jpg")
    shutil.copy(val_images[1], outside / "secret.jpg")
    (allowed / "linked.jpg").symlink_to(outside / "secret.jpg")
    return allowed, outside


def test_a_worker_without_roots_holds_a_job_to_its_creators_roots(
    database_url: str, tmp_path: Path, val_images: list[Path]
) -> None:
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    open_database(database_url, auto_upgrade=True).dispose()
    runtime = WorkerRuntime(load_settings())
    assert runtime.settings.allowed_roots == ()  # the worker would open anything on its own
    paths = [str(allowed / "good.jpg"), str(allowed / "linked.jpg"), str(outside / "secret.jpg")]
    with runtime.db.transaction() as session:
        job = stored_jobs.create_job(session, str(allowed), None, allowed_roots=(allowed,))
        (chunk_id,) = stored_chunks.add_chunks(session, job.id, 0, [paths], timedelta(seconds=60))
    outcome = process_chunk(runtime, chunk_id)
    assert (outcome.done, outcome.failed) == (1, 2)
    with runtime.db.transaction() as session:
        rows = {Path(r.image_path).name: r for r in query_results(session, ResultFilter(job_id=job.id))}
    runtime.db.dispose()
    assert rows["good.jpg"].status == "ok"
    for name in ("linked.jpg", "secret.jpg"):
        assert (rows[name].status, rows[name].error, rows[name].content_hash) == ("failed", JOB_ROOTS_REFUSED, None)


def test_the_roots_are_checked_on_the_file_opened_not_only_on_the_name(tmp_path: Path, val_images: list[Path]) -> None:
    """A link swapped in after every earlier check: the real path of what was opened is what is held to the roots."""
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    asked: list[Path] = []

    def confine(real: Path) -> str | None:
        asked.append(real)
        return None if real.is_relative_to(allowed) else "outside"

    assert load_source(allowed / "good.jpg", confine).data == (allowed / "good.jpg").read_bytes()
    try:
        load_source(allowed / "linked.jpg", confine)
    except ImageReadError as exc:
        assert str(exc) == "outside"
    else:
        raise AssertionError("a link out of the roots was read")
    assert asked == [allowed / "good.jpg", outside / "secret.jpg"]


RUN_ROOTS = "the allowed roots of the server that created the training run (its MOBILABEL_ALLOWED_ROOTS)"
ONE_EPOCH = {"epochs": 1, "batch_size": 8}


def test_a_worker_without_roots_holds_a_training_run_to_its_creators_roots(
    database_url: str, tmp_path: Path, val_images: list[Path]
) -> None:
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    clean = copied_training_folder(allowed / "clean")
    linked = copied_training_folder(allowed / "linked")
    (linked / "train" / "daisy" / "secret.jpg").symlink_to(outside / "secret.jpg")
    elsewhere = copied_training_folder(outside / "data")
    open_database(database_url, auto_upgrade=True).dispose()
    runtime = WorkerRuntime(load_settings())
    assert runtime.settings.allowed_roots == ()  # the worker would read anything on its own

    def run(data_dir: Path, answer: Path | None = None) -> tuple[str, str | None]:
        with runtime.db.transaction() as session:
            if answer is not None:  # an answer whose file lies outside: made by someone else (the CLI), on its own roots
                save_corrections(session, [CorrectionRecord(str(answer), "daisy")], new_classes=True)
            created = stored_runs.create_run(session, str(data_dir), ONE_EPOCH, False, False, "api", allowed_roots=(allowed,))
        run_training(runtime, create_app(runtime.settings), created.id, "test")
        with runtime.db.transaction() as session:
            done = stored_runs.get_run(session, created.id)
            assert done is not None and done.allowed_roots == [str(allowed)]
            return done.status, done.error

    status, error = run(elsewhere)
    assert (status, error) == ("failed", f"TrainingError: the training folder {elsewhere} is outside {RUN_ROOTS}; not read")
    status, error = run(linked)
    assert status == "failed"
    assert (
        error == f"TrainingError: 1 training image lies outside {RUN_ROOTS}, e.g. {linked}/train/daisy/secret.jpg; not trained on"
    )
    status, error = run(clean, answer=outside / "secret.jpg")
    assert status == "failed"
    assert error == f"TrainingError: 1 training image lies outside {RUN_ROOTS}, e.g. {outside}/secret.jpg; not trained on"
    runtime.db.dispose()


def test_a_training_run_inside_its_creators_roots_trains(database_url: str, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    data = copied_training_folder(allowed / "data")
    open_database(database_url, auto_upgrade=True).dispose()
    runtime = WorkerRuntime(load_settings())
    with runtime.db.transaction() as session:
        created = stored_runs.create_run(session, str(data), ONE_EPOCH, False, False, "api", allowed_roots=(allowed,))
    version = run_training(runtime, create_app(runtime.settings), created.id, "test")
    with runtime.db.transaction() as session:
        done = stored_runs.get_run(session, created.id)
        assert done is not None and (done.status, done.error, done.version_id) == ("completed", None, version)
    runtime.db.dispose()
    assert version is not None


def test_training_reads_check_the_file_opened_against_the_runs_roots(tmp_path: Path, val_images: list[Path]) -> None:
    """A link swapped in after the run's first check: the decode of each image asks about the real path it opened."""
    allowed, outside = photos_and_a_way_out(tmp_path, val_images)
    confine = Confinement((), (allowed,), "training run").refusal
    images = [LabelledImage(allowed / "good.jpg", 0), LabelledImage(allowed / "linked.jpg", 1)]
    loader = make_loader(images, Preprocessing().eval_transform(), 2, shuffle=False, workers=0, max_pixels=10**8, confine=confine)
    (batch,) = list(loader)
    assert batch.targets.tolist() == [0]
    assert batch.failures == [(str(allowed / "linked.jpg"), f"path is outside {RUN_ROOTS}; not read")]


def test_a_run_created_over_http_keeps_the_servers_roots(api: ClientFactory, database_url: str, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "empty").mkdir(parents=True)  # no class folders: the run fails at once, without training
    open_database(database_url, auto_upgrade=True).dispose()
    client = api(MOBILABEL_ALLOWED_ROOTS=str(allowed))
    created = client.post("/api/training-runs", json={"data_dir": str(allowed / "empty"), "epochs": 1})
    assert created.status_code == 202, created.text
    client.app.state.runner.wait_idle(timeout=120)  # type: ignore[attr-defined]
    db = open_database(database_url)
    with db.transaction() as session:
        run = stored_runs.get_run(session, created.json()["id"])
        assert run is not None and run.allowed_roots == [str(allowed)]
        assert run.status == "failed" and "has no class folders" in (run.error or "")
    db.dispose()
