"""/api/models, /api/corrections, /api/training-runs: thin, over the storage the CLI uses."""

from __future__ import annotations

from click.testing import CliRunner

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import open_database, versions
from mobilabel.storage import training_runs as stored_runs
from mobilabel.storage.results import OK, ResultRecord, write_results
from tests.api_support import ClientFactory, api  # noqa: F401


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
