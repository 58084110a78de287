"""/api/models, /api/corrections, /api/training-runs: thin, over the storage the CLI uses."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.storage import open_database, versions
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from mobilabel.storage.tables import Result
from mobilabel.versions.files import checkpoint_file, report_file
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS
from tests.training_folders import copied_training_folder
from tests.unit.training.test_training import PNG_SIGNATURE


def setup_storage() -> None:
    db = open_database(load_settings().database_url, auto_upgrade=True)
    with db.transaction() as session:
        for version_id, accuracy in (("v1", 0.8), ("v2", 0.9)):
            record = versions.VersionRecord(
                version_id, "mobilenet_v2", 1.0, ["daisy", "rose"], {"val_accuracy": accuracy}, version_id.encode()
            )
            versions.register_version(session, record)
        write_results(session, [ResultRecord("/photos/a.jpg", "1:1", ResultStatus.OK, "daisy", 0.6, [])], "v1", None)
        stored_runs.create_run(session, "/photos/train", {"epochs": 2}, False, False, trigger="cli")
    db.dispose()


def test_models_activate_and_roll_back(api: ClientFactory) -> None:
    setup_storage()
    client = api()
    listed = client.get("/api/models").json()
    assert {v["id"]: v["metrics"]["val_accuracy"] for v in listed} == {"v1": 0.8, "v2": 0.9}
    assert not any(v["active"] for v in listed) and "checkpoint" not in listed[0]
    assert client.post("/api/models/rollback").status_code == 409
    assert client.post("/api/models/v1/activate").json() == {"active": "v1"}
    assert client.post("/api/models/v2/activate").json() == {"active": "v2"}
    assert client.get("/api/models/v2").json()["active"] is True
    assert client.post("/api/models/rollback").json() == {"active": "v1"}
    assert client.post("/api/models/nope/activate").status_code == 404
    assert client.get("/api/models/v1/report.png").status_code == 404
    models = CliRunner().invoke(cli, ["models", "--format", "csv"]).output
    assert "v1,True" in models  # the CLI sees what the API did


def test_deleting_a_version_removes_its_files_through_the_api_as_through_the_cli(api: ClientFactory) -> None:
    setup_storage()
    settings = load_settings()
    db = open_database(settings.database_url)
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("v3", "mobilenet_v2", 1.0, ["daisy", "rose"], {}, b"v3"))
    db.dispose()
    for version_id in ("v1", "v2", "v3"):
        for cached in (checkpoint_file(settings, version_id), report_file(settings, version_id)):
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(b"cached")
    client = api()
    assert client.post("/api/models/v1/activate").status_code == 200
    refused = client.delete("/api/models/v1")
    assert refused.status_code == 409 and "is active" in refused.json()["detail"]
    assert checkpoint_file(settings, "v1").is_file() and report_file(settings, "v1").is_file()

    assert client.post("/api/models/v3/activate").status_code == 200
    assert client.delete("/api/models/v1").json() == {"deleted": "v1", "results": 1}
    assert not checkpoint_file(settings, "v1").exists() and not report_file(settings, "v1").exists()
    assert client.delete("/api/models/v1").status_code == 404
    assert client.get("/api/models/v1/report.png").status_code == 404

    deleted = CliRunner().invoke(cli, ["models", "delete", "v2", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert not checkpoint_file(settings, "v2").exists() and not report_file(settings, "v2").exists()
    assert checkpoint_file(settings, "v3").is_file() and report_file(settings, "v3").is_file()
    assert [v["id"] for v in client.get("/api/models").json()] == ["v3"]


def stored_photos(folder: Path, labels: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Real photos under ``folder``, each with a v1 and a v2 result (labels given per file name) as
    labelling writes them (content hash included); returns each file's v2 result id."""
    folder.mkdir(parents=True)
    sources = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        for version, side in (("v1", 0), ("v2", 1)):
            records = []
            for source, (name, pair) in zip(sources, labels.items(), strict=False):
                path = folder / name
                if not path.exists():
                    shutil.copy(source, path)
                records.append(
                    ResultRecord(str(path), "1:1", ResultStatus.OK, pair[side], 0.7, [], content_hash=hash_file(str(path)))
                )
            write_results(session, records, version, None)
        ids = {Path(r.image_path).name: r.id for r in session.scalars(select(Result).where(Result.model_version_id == "v2"))}
    db.dispose()
    return ids


def test_corrections_set_list_delete(api: ClientFactory, tmp_path: Path, database_url: str) -> None:
    setup_storage()
    ids = stored_photos(tmp_path / "photos", {"a.jpg": ("daisy", "daisy"), "b.jpg": ("rose", "rose")})
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    created = client.put("/api/corrections", json={"result_id": ids["a.jpg"], "label": "rose"})
    assert created.status_code == 201, created.text
    a = created.json()  # the one correction set, not the list
    assert (a["image_path"], a["made_on"], a["label"], a["state"]) == (str(tmp_path / "photos" / "a.jpg"),) * 2 + (
        "rose",
        "current",
    )
    by_path = client.put("/api/corrections", json={"image_path": str(tmp_path / "photos" / "b.jpg"), "label": "daisy"})
    assert by_path.status_code == 201 and by_path.json()["image_path"].endswith("/b.jpg") and by_path.json()["label"] == "daisy"
    replaced = client.put("/api/corrections", json={"result_id": ids["a.jpg"], "label": "daisy"})
    assert replaced.status_code == 200 and {k: replaced.json()[k] for k in ("content_hash", "label")} == {
        "content_hash": a["content_hash"],
        "label": "daisy",
    }
    assert [(c["image_path"].rsplit("/", 1)[1], c["label"]) for c in client.get("/api/corrections").json()] == [
        ("a.jpg", "daisy"),
        ("b.jpg", "daisy"),
    ]
    page = client.get("/api/results", params={"path": f"{tmp_path}/photos/*"}).json()["items"]
    assert len(page) == 2
    assert {r["verified_label"] for r in page} == {"daisy"}  # beside each current label
    unknown = client.put("/api/corrections", json={"result_id": ids["a.jpg"], "label": "Daisy"})
    assert unknown.status_code == 422 and "did you mean 'daisy'" in unknown.json()["detail"]
    assert '; send "new_class": true to make it a class (classes: ' in unknown.json()["detail"]  # the API's switch, not the CLI's
    assert (
        client.put("/api/corrections", json={"result_id": ids["a.jpg"], "label": "tulip", "new_class": True}).status_code == 200
    )
    assert client.put("/api/corrections", json={"result_id": 999, "label": "rose"}).status_code == 404
    assert client.put("/api/corrections", json={"image_path": "relative.jpg", "label": "rose"}).status_code == 422
    assert client.put("/api/corrections", json={"image_path": str(tmp_path / "missing.jpg"), "label": "rose"}).status_code == 404
    assert client.put("/api/corrections", json={"label": "rose"}).status_code == 422
    assert client.delete("/api/corrections", params={"target": str(tmp_path / "photos" / "b.jpg")}).status_code == 204
    assert client.delete("/api/corrections", params={"target": str(tmp_path / "photos" / "b.jpg")}).status_code == 404
    assert [c["label"] for c in client.get("/api/corrections").json()] == ["tulip"]
    assert client.delete("/api/corrections", params={"result_id": ids["a.jpg"]}).status_code == 204
    assert client.get("/api/corrections").json() == []
    assert client.delete("/api/corrections", params={"result_id": 999}).status_code == 404
    assert client.delete("/api/corrections").status_code == 422


def test_training_runs(api: ClientFactory) -> None:
    setup_storage()
    client = api()
    (run,) = client.get("/api/training-runs").json()
    assert (run["data_dir"], run["status"], run["options"]) == ("/photos/train", "queued", {"epochs": 2})
    assert client.get(f"/api/training-runs/{run['id']}").json() == run
    assert client.get("/api/training-runs/999").status_code == 404


def test_versions_compared_and_against_verified_labels(api: ClientFactory, tmp_path: Path) -> None:
    setup_storage()
    # v1 and v2 on 4 photos: two agree, two daisy -> rose flips.
    labels = {"1.jpg": ("daisy", "daisy"), "2.jpg": ("daisy", "rose"), "3.jpg": ("rose", "rose"), "4.jpg": ("daisy", "rose")}
    ids = stored_photos(tmp_path / "p", labels)
    client = api()
    comparison = client.get("/api/models/compare", params={"a": "v1", "b": "v2"}).json()
    assert (comparison["images"], comparison["changed"]) == (4, 2)
    assert comparison["flips"][0] == {"label_a": "daisy", "label_b": "rose", "images": 2}
    flip = {"a": "v1", "b": "v2", "label_a": "daisy", "label_b": "rose"}
    behind = client.get("/api/models/compare/images", params={**flip, "limit": 1}).json()
    assert [r["id"] for r in behind] == [ids["2.jpg"]] and behind[0]["model_version_id"] == "v2"
    following = client.get("/api/models/compare/images", params={**flip, "after": behind[0]["id"]}).json()
    assert [r["id"] for r in following] == [ids["4.jpg"]]
    assert client.get("/api/models/compare", params={"a": "v1", "b": "v9"}).status_code == 404
    # Every version parameter resolves as results?version= does: a unique prefix, 'active', its messages.
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        versions.register_version(session, versions.VersionRecord("imagenet-1a2b", "mobilenet_v2", 1.0, ["daisy"], {}, b"x"))
    db.dispose()
    by_prefix = client.get("/api/models/compare", params={"a": "imagenet", "b": "v2"}).json()
    assert (by_prefix["version_a"], by_prefix["images"]) == ("imagenet-1a2b", 0)
    assert client.get("/api/models/imagenet").json()["id"] == "imagenet-1a2b"
    assert {v["id"]: v["imagenet"] for v in client.get("/api/models").json()} == {"v1": False, "v2": False, "imagenet-1a2b": True}
    assert (
        client.get("/api/models/compare", params={"a": "active", "b": "v2"})
        .json()["detail"]
        .startswith("no model version is active")
    )
    assert client.post("/api/models/v2/activate").json() == {"active": "v2"}
    assert client.get("/api/models/compare/images", params={**flip, "a": "v1", "b": "active"}).json() == behind + following
    assert client.get("/api/models/active/confusion").json()["version"] == "v2"
    ambiguous = client.get("/api/models/v/confusion/images", params={"verified": "daisy", "predicted": "rose"})
    assert (
        ambiguous.status_code == 404 and ambiguous.json()["detail"] == "'v' matches 2 model versions: v1, v2; give more of the id"
    )
    with_results = client.get("/api/results", params={"version": "v"})
    assert with_results.json()["detail"] == ambiguous.json()["detail"]

    across = client.get(f"/api/results/{ids['4.jpg']}/versions").json()
    assert [(r["model_version_id"], r["label"]) for r in across] == [("v1", "daisy"), ("v2", "rose")]

    client.put("/api/corrections", json={"result_id": ids["2.jpg"], "label": "daisy"})
    client.put("/api/corrections", json={"result_id": ids["3.jpg"], "label": "rose"})
    matrix = client.get("/api/models/v2/confusion").json()
    assert (matrix["images"], matrix["correct"]) == (2, 1)
    assert {"verified": "daisy", "predicted": "rose", "images": 1} in matrix["cells"]
    cell = client.get("/api/models/v2/confusion/images", params={"verified": "daisy", "predicted": "rose"}).json()
    assert [(r["id"], r["verified_label"]) for r in cell] == [(ids["2.jpg"], "daisy")]
    # Every endpoint returning result rows gives the verified label as /api/results does.
    assert client.get(f"/api/results/{ids['2.jpg']}").json()["verified_label"] == "daisy"
    flipped = client.get("/api/models/compare/images", params=flip).json()
    assert [r["verified_label"] for r in flipped] == ["daisy", None]
    assert {r["verified_label"] for r in client.get(f"/api/results/{ids['2.jpg']}/versions").json()} == {"daisy"}


def test_a_training_run_started_through_the_api_trains_in_the_server(api: ClientFactory, tmp_path: Path) -> None:
    data = copied_training_folder(tmp_path / "root" / "data", 3)  # copies: links would lead out of the roots
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    assert client.post("/api/training-runs", json={"data_dir": str(tmp_path)}).status_code == 403
    assert client.post("/api/training-runs", json={"data_dir": str(data), "relabel": True}).status_code == 422
    assert client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 0}).status_code == 422
    started = client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 1, "batch_size": 8})
    assert started.status_code == 202, started.text
    assert started.json()["trigger"] == "api"
    assert started.json()["options"]["include_corrections"] is True, (
        "the verified labels join by default, as in `mobilabel train`"
    )
    client.app.state.runner.wait_idle(timeout=300)  # type: ignore[attr-defined]
    run = client.get(f"/api/training-runs/{started.json()['id']}").json()
    assert (run["status"], run["promoted"], run["error"]) == ("completed", True, None), run
    assert run["progress"]["epoch"] == 1
    (version,) = client.get("/api/models").json()
    assert version["id"] == run["version_id"] and version["active"] and version["classes"] == ["daisy", "roses"]
    assert client.get(f"/api/models/{version['id']}/report.png").content.startswith(PNG_SIGNATURE)
