"""Label Studio both ways: `mobilabel export --format labelstudio` writes tasks with our labels as
predictions, and `mobilabel correct --labelstudio` takes its JSON export back as answers, matched
by path, else by content hash. Exported, accepted as they are in Label Studio and imported back,
the answers are the ones we had."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mobilabel.config import load_settings
from mobilabel.storage import open_database
from mobilabel.storage.corrections import list_corrections
from tests.unit.exchange.test_export_library import manifest, run


def answers() -> set[tuple[str, str, str | None]]:
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        found = {(c.image_path, c.label, c.content_hash) for c in list_corrections(session)}
    db.dispose()
    return found


def as_annotated(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Label Studio's JSON export gives after a person accepted each prediction as it is."""
    return [
        {
            "id": i + 1,
            **t,
            "annotations": [
                {
                    "id": 100 + i,
                    "result": t["predictions"][0]["result"],
                    "was_cancelled": False,
                    "updated_at": "2026-12-06T10:00:00Z",
                }
            ],
        }
        for i, t in enumerate(tasks)
    ]


def test_tasks_carry_our_labels_as_predictions_with_local_files_references(library: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "ls"
    root = tmp_path / "photos"
    result = run(
        "export", str(out), "--format", "labelstudio", "--review-state", "verified,suggested", "--document-root", str(root)
    )
    assert result.exit_code == 0, result.output
    tasks = json.loads((out / "tasks.json").read_text())
    rows = {r["source_path"]: r for r in manifest(out)}
    assert len(tasks) == 12 and sorted(rows) == sorted(library)
    for task in tasks:
        data = task["data"]
        path = data["source_path"]
        assert data["image"] == "/data/local-files/?d=" + str(Path(path).relative_to(root)) == rows[path]["file"]
        (prediction,) = task["predictions"]
        assert prediction["result"][0]["value"]["choices"] == [rows[path]["label"]]
        assert prediction["model_version"] == "v1" and prediction["score"] == float(rows[path]["confidence"])
        assert data["content_hash"] == rows[path]["content_hash"] and data["review_state"] == rows[path]["review_state"]
    config = (out / "labelstudio-config.xml").read_text()
    assert all(f'<Choice value="{c}"/>' in config for c in ("daisy", "roses", "tulips")) and 'toName="image"' in config


def test_exported_answers_imported_back_are_the_same_answers(library: dict[str, str], tmp_path: Path) -> None:
    before = answers()
    assert len(before) == 4
    assert run("export", str(tmp_path / "ls"), "--format", "labelstudio").exit_code == 0
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(as_annotated(json.loads((tmp_path / "ls" / "tasks.json").read_text()))))
    for path, _, _ in before:
        assert run("correct", "--delete", path).exit_code == 0
    assert answers() == set()
    imported = run("correct", "--labelstudio", str(exported))
    assert imported.exit_code == 0 and "stored 4 verified labels from 4 answers" in imported.output, imported.output
    assert answers() == before


def test_answers_match_by_reference_else_by_content_hash_and_odd_tasks_are_reported(
    library: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    by_reference, by_hash, unknown, two_choices = sorted(p for p in library if library[p] == "tulips")
    db_hashes = {r["source_path"]: r["content_hash"] for r in manifest_of_all(tmp_path)}

    def choice(*labels: str) -> list[dict[str, Any]]:
        return [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": list(labels)}}]

    tasks = [
        {
            "id": 1,
            "data": {"image": "/data/local-files/?d=" + str(Path(by_reference).relative_to(root))},
            "annotations": [{"result": choice("roses"), "was_cancelled": False}],
        },
        {
            "id": 2,
            "data": {"image": "/data/local-files/?d=moved/elsewhere.jpg", "content_hash": db_hashes[by_hash]},
            "annotations": [{"result": choice("daisy"), "was_cancelled": False}],
        },
        {
            "id": 3,
            "data": {"image": "/data/local-files/?d=moved/unknown.jpg", "content_hash": "0" * 32},
            "annotations": [{"result": choice("daisy"), "was_cancelled": False}],
        },
        {
            "id": 4,
            "data": {"image": "/data/local-files/?d=" + str(Path(two_choices).relative_to(root))},
            "annotations": [{"result": choice("daisy", "roses"), "was_cancelled": False}],
        },
        {
            "id": 5,
            "data": {"image": "/data/local-files/?d=" + str(Path(unknown).relative_to(root))},
            "annotations": [{"result": choice("daisy"), "was_cancelled": True}],
        },
        {"id": 6, "data": {"image": "/data/local-files/?d=x.jpg"}, "annotations": []},
    ]
    exported = tmp_path / "export.json"
    exported.write_text(json.dumps(tasks))
    result = run("correct", "--labelstudio", str(exported), "--document-root", str(root))
    assert result.exit_code == 0, result.output
    assert "stored 2 verified labels from 3 answers" in result.output and "left out 2 tasks" in result.output
    assert "task 3: no file at" in result.output and "task 4: its annotation has 2 choices" in result.output
    got = {(path, label) for path, label, _ in answers()}
    assert (by_reference, "roses") in got and (by_hash, "daisy") in got


def test_a_file_that_is_not_a_label_studio_export_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"tasks": []}')
    result = run("correct", "--labelstudio", str(bad))
    assert result.exit_code == 1 and result.output.startswith("Error:") and "not a Label Studio JSON export" in result.output


def manifest_of_all(tmp_path: Path) -> list[dict[str, str]]:
    assert run("export", str(tmp_path / "all"), "--format", "labelstudio", "--review-state", "verified,suggested").exit_code == 0
    return manifest(tmp_path / "all")
