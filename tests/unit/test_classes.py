"""Your own classes and answers: `mobilabel classes ...` and `mobilabel correct` with other, skip, reviewers and history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from mobilabel.cli.main import cli
from mobilabel.storage import open_database
from mobilabel.storage.tables import AnswerHistory
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    return line


def listed(*args: str) -> dict[str, tuple[str, int]]:
    return {row["name"]: (row["state"], row["answers"]) for row in json.loads(run("classes", *args, "--format", "json").output)}


@pytest.fixture
def photos(database_url: str, tmp_path: Path) -> list[Path]:
    """Six distinct photos copied into one unsorted folder; the database (SQLite, then PostgreSQL) migrated."""
    open_database(database_url, auto_upgrade=True).dispose()
    folder = tmp_path / "unsorted"
    folder.mkdir()
    sources = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:3] + sorted((FLOWERS / "val" / "roses").glob("*.jpg"))[:3]
    return [Path(shutil.copyfile(source, folder / f"{n}.jpg")) for n, source in enumerate(sources)]


def test_classes_are_added_renamed_merged_retired_and_restored_keeping_every_answer(
    database_url: str, photos: list[Path]
) -> None:
    assert listed() == {"other": ("reserved", 0), "skip": ("reserved", 0)}
    assert run("classes", "add", "daisy").output == "added class daisy\n"
    assert run("classes", "add", "Daisies").exit_code == 0
    assert run("classes", "add", "rose").exit_code == 0
    assert "exists already" in error_line(run("classes", "add", "daisy"))
    assert "reserved answer" in error_line(run("classes", "add", "Other"))
    for photo in photos[:2]:
        assert run("correct", str(photo), "daisy").exit_code == 0
    assert run("correct", str(photos[2]), "Daisies").exit_code == 0
    assert run("correct", str(photos[3]), "rose").exit_code == 0
    assert run("correct", str(photos[4]), "other").exit_code == 0
    assert run("correct", str(photos[5]), "skip").exit_code == 0
    assert listed() == {
        "Daisies": ("active", 1), "daisy": ("active", 2), "rose": ("active", 1), "other": ("reserved", 1), "skip": ("reserved", 1),
    }  # fmt: skip

    assert run("classes", "rename", "rose", "roses").output == "renamed class rose to roses (1 answer kept)\n"
    assert "exists already; to put the answers of 'roses' into it: mobilabel classes merge roses --into daisy" in error_line(
        run("classes", "rename", "roses", "daisy")
    )
    assert run("classes", "merge", "Daisies", "--into", "daisy").output == "merged Daisies into daisy (1 answer moved)\n"
    assert "no class 'tulip'" in error_line(run("classes", "merge", "tulip", "--into", "daisy"))
    assert listed() == {"daisy": ("active", 3), "roses": ("active", 1), "other": ("reserved", 1), "skip": ("reserved", 1)}
    labels = {row["image_path"]: row["label"] for row in json.loads(run("correct", "--list", "--format", "json").output)}
    assert labels == {str(photos[0]): "daisy", str(photos[1]): "daisy", str(photos[2]): "daisy", str(photos[3]): "roses",
                      str(photos[4]): "other", str(photos[5]): "skip"}  # fmt: skip

    assert run("classes", "retire", "roses").exit_code == 0
    assert listed()["roses"] == ("retired", 1), "a retired class keeps its answers"
    refused = error_line(run("correct", str(photos[4]), "roses"))
    assert (
        refused
        == "Error: class 'roses' is retired (answers kept, not trained on); bring it back with: mobilabel classes restore roses"
    )
    assert run("classes", "restore", "roses").exit_code == 0
    assert listed()["roses"] == ("active", 1)


def test_an_unknown_answer_is_refused_with_the_classes_and_the_nearest_unless_new_class(
    database_url: str, photos: list[Path]
) -> None:
    run("classes", "add", "sunflower")
    refused = error_line(run("correct", str(photos[0]), "sunflowr"))
    assert (
        "'sunflowr'; did you mean 'sunflower'?; add --new-class to make it a class (classes: sunflower, other, skip)" in refused
    )
    assert "did you mean 'other'" in error_line(run("correct", str(photos[0]), "Other"))
    assert "reserved answer" in error_line(run("correct", str(photos[0]), "Skip", "--new-class"))
    assert run("correct", str(photos[0]), "tulip", "--new-class").exit_code == 0
    assert listed()["tulip"] == ("active", 1), "--new-class creates the class as `classes add` does"


def test_each_answer_records_its_reviewer_and_a_changed_answer_keeps_its_history(database_url: str, photos: list[Path]) -> None:
    run("classes", "add", "daisy")
    run("classes", "add", "rose")
    assert run("correct", str(photos[0]), "daisy", "--reviewer", "ann").exit_code == 0
    assert run("correct", str(photos[0]), "skip", env={"MOBILABEL_REVIEWER": "bob"}).exit_code == 0
    table = photos[0].parent / "answers.csv"
    table.write_text(f"image_path,label\n{photos[0].name},rose\n{photos[1].name},\n")
    imported = CliRunner().invoke(
        cli, ["correct", "--csv", str(table)], env={"USER": "carol", "LOGNAME": "carol"}, catch_exceptions=False
    )
    assert imported.exit_code == 0, imported.output
    assert "1 row without a label left unanswered" in imported.output
    (row,) = json.loads(run("correct", "--list", "--format", "json").output)
    assert (row["label"], row["reviewer"]) == ("rose", "carol")
    database = open_database(database_url)
    with database.transaction() as session:
        history = [(h.label, h.reviewer) for h in session.scalars(select(AnswerHistory).order_by(AnswerHistory.id))]
    database.dispose()
    assert history == [("daisy", "ann"), ("skip", "bob"), ("rose", "carol")]


def test_the_api_lists_adds_renames_merges_retires_and_restores(api: ClientFactory, photos: list[Path]) -> None:
    client = api(MOBILABEL_ALLOWED_ROOTS=str(photos[0].parent))
    assert client.post("/api/classes", json={"name": " daisy "}).json() == {"name": "daisy"}
    assert client.post("/api/classes", json={"name": "rose"}).status_code == 201
    assert client.post("/api/classes", json={"name": "daisy"}).status_code == 409
    assert client.post("/api/classes", json={"name": "skip"}).status_code == 400
    answer = client.put("/api/corrections", json={"image_path": str(photos[0]), "label": "rose", "reviewer": "ann"})
    assert answer.status_code == 201 and (answer.json()["reviewer"], answer.json()["audit"]) == ("ann", False)
    assert client.put("/api/corrections", json={"image_path": str(photos[1]), "label": "other"}).status_code == 201
    assert client.post("/api/classes/rename", json={"old": "rose", "new": "roses"}).json() == {"answers": 1}
    assert client.post("/api/classes/rename", json={"old": "rose", "new": "x"}).status_code == 404
    assert client.post("/api/classes/merge", json={"sources": ["roses"], "into": "daisy"}).json() == {"answers": 1}
    assert client.post("/api/classes/retire", json={"name": "daisy"}).status_code == 204
    assert client.put("/api/corrections", json={"image_path": str(photos[2]), "label": "daisy"}).status_code == 422
    rows = {c["name"]: (c["state"], c["answers"]) for c in client.get("/api/classes").json()}
    assert rows == {"daisy": ("retired", 1), "other": ("reserved", 1), "skip": ("reserved", 0)}
    assert client.post("/api/classes/restore", json={"name": "daisy"}).status_code == 204
    assert client.get("/api/classes").json()[0]["state"] == "active"
