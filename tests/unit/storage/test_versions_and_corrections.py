"""Storage for training: activation history and rollback, corrections, on both dialects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mobilabel.storage import open_database, versions
from mobilabel.storage.corrections import CorrectionRecord, list_corrections, save_corrections
from tests.conftest import FLOWERS


def add_versions(db, *ids: str) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        for version_id in ids:
            versions.register_version(session, versions.VersionRecord(version_id, "mobilenet_v2", 1.0, ["a"], {}, b"w"))


def active(db) -> str | None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return versions.active_version_id(session)


def test_rollback_walks_back_through_activations_like_an_undo_stack(database_url: str) -> None:
    db = open_database(database_url, auto_upgrade=True)
    add_versions(db, "a", "b", "c")
    with db.transaction() as session:
        versions.activate_version(session, "a")
        versions.activate_version(session, "b", reason=versions.PROMOTED)
        versions.activate_version(session, "b")  # already active: no new history row
        versions.activate_version(session, "c")
    with db.transaction() as session:
        assert versions.rollback(session) == "b"
    assert active(db) == "b"
    with db.transaction() as session:
        assert versions.rollback(session) == "a"
        with pytest.raises(versions.NothingToRollBackError, match="no version was active before a"):
            versions.rollback(session)
        history = [(h.version_id, h.previous_version_id, h.reason) for h in versions.activation_history(session)]
    assert history == [
        ("a", None, versions.ROLLBACK),
        ("b", "a", versions.ROLLBACK),
        ("c", "b", versions.ACTIVATED),
        ("b", "a", versions.PROMOTED),
        ("a", None, versions.ACTIVATED),
    ]
    assert active(db) == "a"
    db.dispose()


def test_rollback_with_nothing_active_is_a_clear_error(database_url: str) -> None:
    db = open_database(database_url, auto_upgrade=True)
    with db.transaction() as session, pytest.raises(versions.NothingToRollBackError, match="no model version is active"):
        versions.rollback(session)
    db.dispose()


def test_correcting_an_image_again_replaces_its_label(database_url: str, tmp_path: Path) -> None:
    db = open_database(database_url, auto_upgrade=True)
    with db.transaction() as session:
        versions.register_version(
            session, versions.VersionRecord("v", "mobilenet_v2", 1.0, ["daisy", "roses", "sunflowers", "tulips"], {}, b"w")
        )
    a, b = str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")
    for path, source in zip((a, b), sorted((FLOWERS / "val" / "roses").glob("*.jpg")), strict=False):
        shutil.copyfile(source, path)
    with db.transaction() as session:
        assert save_corrections(session, [CorrectionRecord(a, "daisy"), CorrectionRecord(b, "roses")]) == 2
    with db.transaction() as session:
        # The same image twice in one batch is fine too: the last label wins.
        save_corrections(session, [CorrectionRecord(a, "tulips"), CorrectionRecord(a, "sunflowers")])
    with db.transaction() as session:
        assert [(c.image_path, c.label) for c in list_corrections(session)] == [(a, "sunflowers"), (b, "roses")]
    db.dispose()


def test_one_correction_error_for_reading_storing_and_finding(tmp_path: Path) -> None:
    # Callers (the CLI, the API) catch one class, whichever step refused the correction.
    from mobilabel.storage import corrections as stored_corrections
    from mobilabel.training import corrections as given_corrections

    assert given_corrections.CorrectionError is stored_corrections.CorrectionError
    (tmp_path / "empty.csv").write_text("image_path,label\n")
    for refused in (
        lambda: given_corrections.read_corrections_csv(tmp_path / "empty.csv"),
        lambda: given_corrections.check_image(tmp_path),
    ):
        with pytest.raises(stored_corrections.CorrectionError):
            refused()
