"""/api/models, /api/corrections, /api/training-runs: thin, over the storage the CLI uses."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import open_database, versions
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.results import OK, ResultRecord, write_results
from tests.api_support import ClientFactory, api  # noqa: F401
from tests.unit.test_training import PNG_SIGNATURE, tiny_dataset


def setup_storage() -> None:
    db = open_database(load_settings().database_url, auto_upgrade=True)
    with db.transaction() as session:
        for version_id, accuracy in (("v1", 0.8), ("v2", 0.9)):
            record = versions.VersionRecord(version_id, "mobilenet_v2", 1.0, ["daisy", "rose"], {"val_accuracy": accuracy}, version_id.encode())
            versions.register_version(session, record)
        write_results(session, [ResultRecord("/photos/a.jpg", "1:1", OK, "daisy", 0.6, [])], "v1", None)
        stored_runs.create_run(session, "/photos/train", {"epochs": 2}, False, False, trigger="cli")
    db.dispose()


def test_models_activate_and_roll_back(api: ClientFactory) -> None:  # noqa: F811
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


def test_corrections_set_list_delete(api: ClientFactory) -> None:  # noqa: F811
    setup_storage()
    client = api()
    result_id = client.get("/api/results").json()["items"][0]["id"]
    assert client.put("/api/corrections", json={"result_id": result_id, "label": "rose"}).json() == {"image_path": "/photos/a.jpg", "label": "rose"}
    assert client.put("/api/corrections", json={"image_path": "/photos/b.jpg", "label": "daisy"}).status_code == 200
    assert client.put("/api/corrections", json={"result_id": result_id, "label": "daisy"}).status_code == 200  # replaces
    assert client.get("/api/corrections").json() == [
        {"image_path": "/photos/a.jpg", "label": "daisy"},
        {"image_path": "/photos/b.jpg", "label": "daisy"},
    ]
    assert client.put("/api/corrections", json={"result_id": 999, "label": "rose"}).status_code == 404
    assert client.put("/api/corrections", json={"image_path": "relative.jpg", "label": "rose"}).status_code == 422
    assert client.put("/api/corrections", json={"label": "rose"}).status_code == 422
    assert client.delete("/api/corrections", params={"image_path": "/photos/b.jpg"}).status_code == 204
    assert client.delete("/api/corrections", params={"image_path": "/photos/b.jpg"}).status_code == 404
    assert [c["image_path"] for c in client.get("/api/corrections").json()] == ["/photos/a.jpg"]
    assert client.delete("/api/corrections", params={"result_id": result_id}).status_code == 204
    assert client.get("/api/corrections").json() == []
    assert client.delete("/api/corrections", params={"result_id": 999}).status_code == 404
    assert client.delete("/api/corrections").status_code == 422


def test_training_runs(api: ClientFactory) -> None:  # noqa: F811
    setup_storage()
    client = api()
    (run,) = client.get("/api/training-runs").json()
    assert (run["data_dir"], run["status"], run["options"]) == ("/photos/train", "queued", {"epochs": 2})
    assert client.get(f"/api/training-runs/{run['id']}").json() == run
    assert client.get("/api/training-runs/999").status_code == 404


def test_versions_compared_and_against_verified_labels(api: ClientFactory) -> None:  # noqa: F811
    setup_storage()
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        # v1 and v2 on 4 images: two agree, one daisy -> rose flip, one rose -> rose; v2 also failed one.
        v1 = [("/p/1.jpg", "daisy"), ("/p/2.jpg", "daisy"), ("/p/3.jpg", "rose"), ("/p/4.jpg", "daisy")]
        v2 = [("/p/1.jpg", "daisy"), ("/p/2.jpg", "rose"), ("/p/3.jpg", "rose"), ("/p/4.jpg", "rose")]
        write_results(session, [ResultRecord(p, "1:1", OK, label, 0.7, []) for p, label in v1], "v1", None)
        write_results(session, [ResultRecord(p, "1:1", OK, label, 0.8, []) for p, label in v2], "v2", None)
    db.dispose()
    client = api()
    comparison = client.get("/api/models/compare", params={"a": "v1", "b": "v2"}).json()
    assert (comparison["images"], comparison["changed"]) == (4, 2)
    assert comparison["flips"][0] == {"label_a": "daisy", "label_b": "rose", "images": 2}
    behind = client.get("/api/models/compare/images", params={"a": "v1", "b": "v2", "label_a": "daisy", "label_b": "rose", "limit": 1}).json()
    assert [r["image_path"] for r in behind] == ["/p/2.jpg"] and behind[0]["model_version_id"] == "v2"
    following = client.get(
        "/api/models/compare/images", params={"a": "v1", "b": "v2", "label_a": "daisy", "label_b": "rose", "after": behind[0]["id"]}
    ).json()
    assert [r["image_path"] for r in following] == ["/p/4.jpg"]
    assert client.get("/api/models/compare", params={"a": "v1", "b": "v9"}).status_code == 404

    result_id = following[0]["id"]
    across = client.get(f"/api/results/{result_id}/versions").json()
    assert [(r["model_version_id"], r["label"]) for r in across] == [("v1", "daisy"), ("v2", "rose")]

    client.put("/api/corrections", json={"image_path": "/p/2.jpg", "label": "daisy"})
    client.put("/api/corrections", json={"image_path": "/p/3.jpg", "label": "rose"})
    matrix = client.get("/api/models/v2/confusion").json()
    assert (matrix["images"], matrix["correct"]) == (2, 1)
    assert {"verified": "daisy", "predicted": "rose", "images": 1} in matrix["cells"]
    cell = client.get("/api/models/v2/confusion/images", params={"verified": "daisy", "predicted": "rose"}).json()
    assert [r["image_path"] for r in cell] == ["/p/2.jpg"]


def test_a_training_run_started_through_the_api_trains_in_the_server(api: ClientFactory, tmp_path: Path) -> None:  # noqa: F811
    data = tiny_dataset(tmp_path / "root" / "data", train_count=3, val_count=2)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    assert client.post("/api/training-runs", json={"data_dir": str(tmp_path)}).status_code == 403
    assert client.post("/api/training-runs", json={"data_dir": str(data), "relabel": True}).status_code == 422
    assert client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 0}).status_code == 422
    started = client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 1, "batch_size": 8})
    assert started.status_code == 202, started.text
    assert started.json()["trigger"] == "api"
    client.app.state.runner.wait_idle(timeout=300)  # type: ignore[attr-defined]
    run = client.get(f"/api/training-runs/{started.json()['id']}").json()
    assert (run["status"], run["promoted"], run["error"]) == ("completed", True, None), run
    assert run["progress"]["epoch"] == 1
    (version,) = client.get("/api/models").json()
    assert version["id"] == run["version_id"] and version["active"] and version["classes"] == ["daisy", "roses"]
    assert client.get(f"/api/models/{version['id']}/report.png").content.startswith(PNG_SIGNATURE)
