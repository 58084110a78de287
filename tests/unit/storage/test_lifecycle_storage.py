"""The label lifecycle in storage: job membership, the current view, identity, corrections, pruning.

Runs here on SQLite; tests/integration/test_lifecycle_storage_pg.py runs the same tests on PostgreSQL.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from mobilabel.hashing import hash_file
from mobilabel.imaging import content_identity
from mobilabel.storage import Database, corrections, jobs, migrations_runner, open_database, training_runs, versions
from mobilabel.storage.corrections import (
    CURRENT,
    STALE,
    CorrectionError,
    CorrectionRecord,
    delete_corrections,
    list_corrections,
    save_corrections,
    usable_corrections,
)
from mobilabel.storage.filters import FilterError, check_filter
from mobilabel.storage.pruning import JobRunningError, delete_job, delete_paths, missing_paths
from mobilabel.storage.result_queries import ResultFilter, label_counts, labelled_contents, query_results, verified_labels
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import JobState, ResultStatus
from tests.conftest import FLOWERS

DAISIES = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lifecycle.db'}"


def test_the_upgrade_keeps_what_is_known_of_jobs_and_keys_corrections_by_content(db_url: str, tmp_path: Path) -> None:
    database = Database(db_url)
    migrations_runner.upgrade(database.engine, "0004")
    photo = tmp_path / "photo.jpg"
    shutil.copyfile(DAISIES[0], photo)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, arch, alpha, classes, metrics, sha256, size_bytes, source, active, created_at) "
                "VALUES ('v1', 'm', 1.0, '[]', '{}', '', 0, '', false, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO jobs (root, status, total, done, failed, created_at) VALUES ('/p', 'completed', 1, 1, 0, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO results (image_path, label, model_version_id, job_id, status, created_at, updated_at) "
                "VALUES ('/p/a.jpg', 'daisy', 'v1', 1, 'ok', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        for path in (str(photo), "/gone.jpg"):
            connection.execute(
                text(
                    "INSERT INTO corrections (image_path, label, created_at, updated_at) VALUES (:p, 'roses', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"p": path},
            )
    migrations_runner.upgrade(database.engine)
    with database.transaction() as session:
        assert {r.image_path: (r.label, r.model_version_id) for r in query_results(session, ResultFilter(job_id=1))} == {
            "/p/a.jpg": ("daisy", "v1")
        }
        listed = {v.made_on: (v.content_hash, v.state) for v in list_corrections(session)}
    assert listed == {str(photo): (hash_file(photo), CURRENT), "/gone.jpg": (None, STALE)}
    database.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url, auto_upgrade=True)
    yield database
    database.dispose()


def add_version(db: Database, version_id: str, classes: list[str] | None = None) -> None:
    with db.transaction() as session:
        record = versions.VersionRecord(
            version_id, "mobilenet_v2", 1.0, classes or ["daisy", "roses"], {}, b"w-" + version_id.encode()
        )
        versions.register_version(session, record)


def ok(path: str, label: str, confidence: float = 0.9, content_hash: str | None = None) -> ResultRecord:
    return ResultRecord(
        path, "1:1", ResultStatus.OK, label, confidence, [{"label": label, "confidence": confidence}], content_hash=content_hash
    )


def new_job(db: Database, version_id: str) -> int:
    with db.transaction() as session:
        return jobs.create_job(session, "/p", version_id).id


def write(db: Database, records: list[ResultRecord], version_id: str, job_id: int | None) -> None:
    with db.transaction() as session:
        write_results(session, records, version_id, job_id)


def view(db: Database, **where: object) -> dict[str, tuple[str | None, str, str | None]]:
    """path -> (label, version, verified label) of the rows `results` would show."""
    with db.transaction() as session:
        rows = query_results(session, check_filter(session, ResultFilter(**where)))  # type: ignore[arg-type]
        verified = verified_labels(session, (r.content_hash for r in rows))
    return {r.image_path: (r.label, r.model_version_id, verified.get(r.content_hash or "")) for r in rows}


def test_a_job_keeps_every_image_it_labelled_when_a_later_job_relabels_them(db: Database) -> None:
    add_version(db, "v1")
    first, second = new_job(db, "v1"), new_job(db, "v1")
    write(db, [ok("/p/a.jpg", "daisy"), ResultRecord("/p/b.jpg", "1:1", ResultStatus.FAILED, error="truncated")], "v1", first)
    write(db, [ok("/p/a.jpg", "roses"), ok("/p/b.jpg", "daisy"), ok("/p/c.jpg", "daisy")], "v1", second)
    assert set(view(db, job_id=first)) == {"/p/a.jpg", "/p/b.jpg"}
    assert set(view(db, job_id=second)) == {"/p/a.jpg", "/p/b.jpg", "/p/c.jpg"}
    assert set(view(db, job_id=first, all_versions=True)) == {"/p/a.jpg", "/p/b.jpg"}
    with db.transaction() as session:
        # Each job's own outcomes, though the shared rows now hold the second job's labels.
        assert label_counts(session, first) == {"roses": 1}
        assert label_counts(session, second) == {"daisy": 2, "roses": 1}


def test_the_current_view_shows_one_row_per_image_from_the_right_version(db: Database) -> None:
    add_version(db, "old")
    add_version(db, "new")
    with db.transaction() as session:
        versions.activate_version(session, "old")
    write(
        db,
        [
            ok("/p/both.jpg", "daisy", content_hash="h1"),
            ResultRecord("/p/failed-old.jpg", "1:1", ResultStatus.FAILED, error="x"),
            ok("/p/edited.jpg", "daisy", content_hash="before"),
        ],
        "old",
        None,
    )
    write(
        db,
        [
            ok("/p/both.jpg", "roses", content_hash="h1"),
            ok("/p/failed-old.jpg", "roses"),
            ok("/p/new-only.jpg", "roses"),
            ok("/p/edited.jpg", "roses", content_hash="after"),
        ],
        "new",
        None,
    )
    assert view(db) == {
        "/p/both.jpg": ("daisy", "old", None),  # the active version labelled it
        "/p/failed-old.jpg": ("roses", "new", None),  # the active one failed: the newest that labelled it
        "/p/new-only.jpg": ("roses", "new", None),
        "/p/edited.jpg": ("roses", "new", None),  # the active version's row describes the file before its edit
    }
    assert set(view(db, label="daisy")) == {"/p/both.jpg"}, "the label filter applies to the current label"
    with db.transaction() as session:
        all_rows = query_results(session, ResultFilter(all_versions=True))
    assert len(all_rows) == 7
    assert set(view(db, model_version_id="active")) == {"/p/both.jpg", "/p/failed-old.jpg", "/p/edited.jpg"}
    assert view(db, model_version_id="ne")["/p/both.jpg"] == ("roses", "new", None), "a unique id prefix names a version"


def test_filters_naming_nothing_say_what_exists(db: Database) -> None:
    add_version(db, "imagenet-aaaa", ["daisy", "tulip"])
    add_version(db, "imagenet-bbbb")
    new_job(db, "imagenet-aaaa")
    with pytest.raises(FilterError, match=r"no job 999; jobs, newest first: 1 \(mobilabel jobs\)"):
        view(db, job_id=999)
    with pytest.raises(FilterError, match=r"labels are case-sensitive: did you mean 'daisy'\?"):
        view(db, label="Daisy")
    with pytest.raises(FilterError, match=r"did you mean 'tulip'\?"):
        view(db, label="tulips")
    with pytest.raises(versions.UnknownVersionError, match="'imagenet' matches 2 model versions: imagenet-aaaa, imagenet-bbbb"):
        view(db, model_version_id="imagenet")
    with pytest.raises(versions.UnknownVersionError, match="no model version is active"):
        view(db, model_version_id="active")
    with pytest.raises(versions.UnknownVersionError, match=r"no model version 'imagenet-aaab'; nearest: imagenet-aaaa"):
        view(db, model_version_id="imagenet-aaab")


def test_corrections_follow_the_content_through_a_rename_and_go_stale_on_an_edit(db: Database, tmp_path: Path) -> None:
    add_version(db, "v1")
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, source in zip(("a.jpg", "b.jpg", "c.jpg"), DAISIES, strict=False):
        shutil.copyfile(source, photos / name)
    a, b, c = (str(photos / n) for n in ("a.jpg", "b.jpg", "c.jpg"))
    with db.transaction() as session:
        assert (
            save_corrections(session, [CorrectionRecord(a, "roses"), CorrectionRecord(b, "daisy"), CorrectionRecord(c, "daisy")])
            == 3
        )
    write(db, [ok(p, "daisy", content_hash=hash_file(p)) for p in (a, b)], "v1", None)
    assert view(db)[a] == ("daisy", "v1", "roses"), "the verified label is shown beside the model's"

    renamed = str(photos / "renamed.jpg")
    Path(a).rename(renamed)
    write(db, [ok(renamed, "daisy", content_hash=hash_file(renamed))], "v1", None)  # a later job saw it at its new path
    with open(b, "ab") as f:
        f.write(b"edited")  # same path, other content
    Path(c).unlink()
    with db.transaction() as session:
        listed = {v.made_on: (v.image_path, v.state) for v in list_corrections(session)}
        usable = {(v.image_path, v.label) for v in usable_corrections(session)}
    assert listed == {a: (renamed, CURRENT), b: (b, STALE), c: (c, STALE)}
    assert usable == {(renamed, "roses")}
    assert view(db)[renamed][2] == "roses"


def test_listing_reads_no_file_whose_fingerprint_is_the_one_labelled(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_version(db, "v1")
    same, edited = tmp_path / "same.jpg", tmp_path / "edited.jpg"
    for path, source in zip((same, edited), DAISIES, strict=False):
        shutil.copyfile(source, path)
    records = [replace(ok(str(p), "daisy", content_hash=hash_file(p)), content_id=content_identity(p)) for p in (same, edited)]
    write(db, records, "v1", None)
    with db.transaction() as session:
        save_corrections(session, [CorrectionRecord(str(same), "roses"), CorrectionRecord(str(edited), "roses")])
    with open(edited, "ab") as f:
        f.write(b"edited")  # another size: its fingerprint changes, so it is read and found stale
    read: list[str] = []

    def hashing(path: str) -> str:
        read.append(str(path))
        return hash_file(path)

    monkeypatch.setattr(corrections, "hash_file", hashing)
    with db.transaction() as session:
        assert {v.image_path: v.state for v in list_corrections(session)} == {str(same): CURRENT, str(edited): STALE}
    assert read == [str(edited)]


def test_a_correction_needs_a_known_class_or_new_class_and_can_be_deleted(db: Database, tmp_path: Path) -> None:
    add_version(db, "v1")
    image = tmp_path / "x.jpg"
    shutil.copyfile(DAISIES[0], image)
    with (
        db.transaction() as session,
        pytest.raises(CorrectionError, match=r"'daisies'; did you mean 'daisy'\?; allow new classes to make it a class"),
    ):
        save_corrections(session, [CorrectionRecord(str(image), "daisies")])
    with db.transaction() as session, pytest.raises(CorrectionError, match=r"'x09' and 2 more; allow new classes"):
        save_corrections(
            session, [CorrectionRecord(str(image), f"x{n:02}") for n in range(12)]
        )  # the first 10 named, the rest counted
    with db.transaction() as session:
        save_corrections(session, [CorrectionRecord(str(image), "daisy")])
        save_corrections(session, [CorrectionRecord(str(image), "cactus")], new_classes=True)  # the same content: replaced
        assert [(v.label, v.state) for v in list_corrections(session)] == [("cactus", CURRENT)]
    with db.transaction() as session:
        assert delete_corrections(session, str(image)) == 1
        with pytest.raises(CorrectionError, match="no verified label for"):
            delete_corrections(session, str(image))
        save_corrections(session, [CorrectionRecord(str(image), "roses")])
        assert delete_corrections(session, hash_file(image)[:8]) == 1


def test_deleting_a_job_keeps_rows_other_jobs_share(db: Database) -> None:
    add_version(db, "v1")
    first, second = new_job(db, "v1"), new_job(db, "v1")
    write(db, [ok("/p/a.jpg", "daisy"), ok("/p/only-first.jpg", "daisy")], "v1", first)
    write(db, [ok("/p/a.jpg", "daisy")], "v1", second)
    with db.transaction() as session:
        jobs.finish_job(session, first, JobState.COMPLETED)
    with db.transaction() as session:
        deleted = delete_job(session, first)
    assert (deleted.images, deleted.results) == (2, 1)
    assert set(view(db)) == {"/p/a.jpg"}
    assert set(view(db, job_id=second)) == {"/p/a.jpg"}
    with pytest.raises(FilterError, match="no job"):
        view(db, job_id=first)
    running = new_job(db, "v1")
    with db.transaction() as session, pytest.raises(JobRunningError, match=f"job {running} is still running; cancel it first"):
        delete_job(session, running)


def test_deleting_a_version_never_the_active_one_and_rollback_steps_over_it(db: Database) -> None:
    for version_id in ("a", "b", "c"):
        add_version(db, version_id)
    with db.transaction() as session:
        for version_id in ("a", "b", "c"):
            versions.activate_version(session, version_id)
    job = new_job(db, "b")
    write(db, [ok("/p/x.jpg", "daisy")], "b", job)
    with db.transaction() as session:
        with pytest.raises(versions.ActiveVersionError, match="is active"):
            versions.delete_version(session, "c")
        with pytest.raises(versions.ActiveVersionError, match=f"is labelling job {job}; let it finish or cancel it first"):
            versions.delete_version(session, "b")
        jobs.finish_job(session, job, JobState.COMPLETED)
        assert versions.delete_version(session, "b").results == 1
    with db.transaction() as session:
        assert {v.id for v in versions.list_versions(session)} == {"a", "c"}
        assert "b" in [h.version_id for h in versions.activation_history(session)], "the history naming it stays"
        with pytest.raises(versions.UnknownVersionError, match="model version b was deleted"):
            versions.resolve_version(session, "b")
        with pytest.raises(versions.UnknownVersionError, match="was deleted"):
            versions.checkpoint_bytes(session, "b")
        assert versions.rollback(session) == "a", "b is stepped over"
    assert view(db) == {}


def test_prune_missing_deletes_only_rows_of_files_gone(db: Database, tmp_path: Path) -> None:
    add_version(db, "v1")
    kept, gone = tmp_path / "kept.jpg", tmp_path / "gone.jpg"
    kept.write_bytes(b"x")
    write(db, [ok(str(kept), "daisy"), ok(str(gone), "daisy")], "v1", new_job(db, "v1"))
    with db.transaction() as session:
        assert list(missing_paths(session)) == [str(gone)]
    with db.transaction() as session:
        assert delete_paths(session, list(missing_paths(session))) == 1
    assert set(view(db)) == {str(kept)}


def test_a_content_already_labelled_by_a_version_is_found_at_any_path(db: Database) -> None:
    add_version(db, "v1")
    add_version(db, "v2")
    write(
        db,
        [
            ok("/p/a.jpg", "daisy", content_hash="h1"),
            ResultRecord("/p/b.jpg", "1:1", ResultStatus.FAILED, error="x", content_hash="h2"),
        ],
        "v1",
        None,
    )
    with db.transaction() as session:
        found = labelled_contents(session, ["h1", "h2", "h3"], "v1")
        assert {h: (r.image_path, r.label) for h, r in found.items()} == {"h1": ("/p/a.jpg", "daisy")}
        assert labelled_contents(session, ["h1"], "v2") == {}


def test_roots_and_data_folders_are_stored_absolute_without_resolving_symlinks(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    with db.transaction() as session:
        assert jobs.create_job(session, "../link/./photos", None).root == str(tmp_path / "link" / "photos")
        run = training_runs.create_run(session, "../link", {}, force=False, relabel=False, trigger="cli")
        assert run.data_dir == str(tmp_path / "link")
