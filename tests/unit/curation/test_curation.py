"""Likely mistakes, near-duplicate groups, "more like this" and group answers (issue 29): end to end on a
small library of shared flowers labelled with the ImageNet weights (stored embeddings), then the pure
functions on arrays the tests make."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result
from PIL import Image
from sqlalchemy import select

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.curation.duplicates import near_duplicate_groups
from mobilabel.curation.mistakes import rank_mistakes
from mobilabel.curation.neighbours import ExactIndex, IvfIndex
from mobilabel.storage import open_database
from mobilabel.storage.tables import AnswerHistory
from tests.api_support import ClientFactory, api  # noqa: F401
from tests.conftest import FLOWERS

PER_CLASS = 8


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def labelled_library(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    """PER_CLASS photos of each flower class and a copy of the first resized to 3/4 (a JPEG again), labelled;
    the folder labels by path."""
    if not database_url.startswith("sqlite"):
        run("db", "upgrade")
    folder = tmp_path / "library"
    folder.mkdir()
    truth = {}
    for class_dir in sorted((FLOWERS / "val").iterdir()):
        for path in sorted(class_dir.glob("*.jpg"))[:PER_CLASS]:
            target = folder / f"{class_dir.name}-{path.name}"
            shutil.copy(path, target)
            truth[str(target)] = class_dir.name
    original = folder / sorted(truth)[0]
    with Image.open(original) as image:
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(folder / "resized-copy.jpg", quality=90)
    run("label", str(folder))
    return folder, truth


def rows(result: Result) -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_a_flipped_answer_leads_the_mistakes_and_a_resized_copy_joins_its_group(
    database_url: str,
    tmp_path: Path,
    api: ClientFactory,  # noqa: F811
) -> None:
    folder, truth = labelled_library(tmp_path, database_url)
    flipped = sorted(truth)[-1]  # a tulip, answered "daisy"
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_path", "label"])
        writer.writerows([path, "daisy" if path == flipped else label] for path, label in truth.items())
    run("correct", "--csv", str(answers), "--new-class")

    mistakes = rows(run("review", "mistakes", "--count", "3", "--format", "json"))
    assert flipped in [str(m["image_path"]) for m in mistakes], mistakes
    top = next(m for m in mistakes if m["image_path"] == flipped)
    assert top["given_label"] == "daisy" and top["model_label"] == "tulips" and "without this answer" in str(top["why"])
    # The table says why each row is listed, as the page does: flagged, or only a low given_p (a row whose given
    # label is the model's own is listed so, and showed no reason before).
    listed = rows(run("review", "mistakes", "--count", "20", "--format", "json"))
    assert {m["flagged"] for m in listed} == {True, False}, listed
    table = CliRunner().invoke(cli, ["review", "mistakes", "--count", "20"], env={"COLUMNS": "80"})
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, table.stdout
    for mistake in listed:
        row = next(line for line in lines if str(mistake["image_path"])[-10:] in line)
        assert row.rstrip().endswith("flagged" if mistake["flagged"] else "low given_p"), table.stdout
    assert "low given_p: not flagged" in table.stderr, table.stderr
    # Kept (the page's k): not offered again while the model still says tulips.
    client = api()
    body = {"result_id": top["result_id"], "label": "daisy", "reviewer": "ann", "kept_against": "tulips"}
    assert client.put("/api/corrections", json=body).status_code == 200
    listed = client.get("/api/review/mistakes", params={"count": 100}).json()["items"]
    assert flipped not in [m["image_path"] for m in listed] and len(listed) == len(truth) - 1

    groups = rows(run("review", "duplicates", "--format", "json"))
    original = sorted(truth)[0]
    copy_group = next(m["group"] for m in groups if m["image_path"] == str(folder / "resized-copy.jpg"))
    members = {str(m["image_path"]) for m in groups if m["group"] == copy_group}
    assert members == {original, str(folder / "resized-copy.jpg")}

    similar = rows(
        run("review", "similar", str(next(m["result_id"] for m in groups if m["image_path"] == original)), "--format", "json")
    )
    assert similar[0]["image_path"] == str(folder / "resized-copy.jpg")


def test_one_answer_for_a_group_writes_one_answer_per_member(database_url: str, tmp_path: Path, api: ClientFactory) -> None:  # noqa: F811
    folder, _ = labelled_library(tmp_path, database_url)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    assert client.get("/api/review/mistakes").status_code == 409  # no answers yet: said, not a traceback
    groups = client.get("/api/review/duplicates").json()["groups"]
    ids = [m["result_id"] for m in groups[0]]
    assert str(folder / "resized-copy.jpg") in {m["image_path"] for m in groups[0]}
    similar = client.get(f"/api/results/{ids[0]}/similar", params={"count": 3}).json()["items"]
    assert similar[0]["result_id"] == ids[1] and similar[0]["label"]

    answered = client.post(
        "/api/review/group", json={"result_ids": ids, "label": "sunflowers", "new_class": True, "reviewer": "ann"}
    )
    assert answered.status_code == 200 and answered.json()["answers"] == len(ids)
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        history = session.execute(select(AnswerHistory.label, AnswerHistory.reviewer, AnswerHistory.answer_group)).all()
    assert sorted(history) == [("sunflowers", "ann", answered.json()["group"])] * len(ids)
    assert client.post("/api/review/group", json={"result_ids": [999999], "label": "sunflowers"}).status_code == 404


def test_confident_learning_ranks_a_confidently_contradicted_label_first() -> None:
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.95, 0.05]], np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1])  # the last is labelled 1 where the model is surest of 0
    ranking = rank_mistakes(probabilities, labels)
    assert ranking.order[0] == 5 and ranking.flagged.tolist() == [False] * 5 + [True] and ranking.suggested[5] == 0


def test_near_duplicates_group_by_centred_similarity_and_the_indexes_agree() -> None:
    rng = np.random.default_rng(0)
    photos = rng.random((400, 64), np.float32) + 1.0  # a large common component, as pooled ReLU features have
    copies = photos[:5] + rng.normal(0, 0.02, (5, 64)).astype(np.float32)
    groups = near_duplicate_groups(np.concatenate([photos, copies]))
    assert sorted(groups) == [[i, 400 + i] for i in range(5)]
    centred = photos - photos.mean(axis=0)
    exact = ExactIndex(centred).search(centred[:20], 5)[0]
    approximate = IvfIndex(centred, lists=4, probes=4).search(centred[:20], 5)[0]
    assert (approximate[:, 0] == np.arange(20)).all()  # every list scanned: each finds itself first
    overlap = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approximate.tolist(), exact.tolist(), strict=True)])
    assert overlap >= 0.8  # the rest up to 8-bit rounding of near ties
