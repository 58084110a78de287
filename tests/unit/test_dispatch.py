"""One dispatch path: a broker that cannot be reached is the same clear error from every door (one
`Error:` line on the CLI, 503 with the reason in the API), and what was recorded is marked failed."""

from __future__ import annotations

import csv
import io
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.cli.main import cli
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS
from tests.unit.api.test_jobs import photos
from tests.unit.training.test_training import tiny_dataset


@pytest.fixture
def closed_broker() -> str:
    """A Redis URL, with a password, on a local port nothing listens on (bound once, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:secret@127.0.0.1:{port}/0"


@pytest.fixture
def client(api: ClientFactory, tmp_path: Path, closed_broker: str) -> TestClient:
    """The API with that broker configured, allowed to read under tmp_path/root."""
    (tmp_path / "root").mkdir()
    return api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"), MOBILABEL_BROKER_URL=closed_broker)


def masked(url: str) -> str:
    return url.replace(":secret@", ":***@")


def test_a_training_run_sent_to_an_unreachable_broker_answers_503_and_fails(
    client: TestClient, tmp_path: Path, closed_broker: str
) -> None:
    data = tiny_dataset(tmp_path / "root" / "data", train_count=2, val_count=1)
    answer = client.post("/api/training-runs", json={"data_dir": str(data), "epochs": 1})
    assert answer.status_code == 503, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(f"cannot reach the broker {masked(closed_broker)}") and "secret" not in detail
    (run,) = client.get("/api/training-runs").json()
    assert (run["status"], run["error"]) == ("failed", detail), "the run must not wait for a worker that never hears of it"


def test_a_job_sent_to_an_unreachable_broker_answers_503_and_fails(
    client: TestClient, tmp_path: Path, closed_broker: str
) -> None:
    folder = photos(tmp_path / "root" / "roses", 2)
    answer = client.post("/api/jobs", json={"folder": str(folder)})
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"].startswith(f"cannot reach the broker {masked(closed_broker)}")
    (job,) = client.get("/api/jobs").json()
    assert job["status"] == "failed" and job["error"].startswith("enqueueing stopped")


def test_the_cli_says_the_same_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, closed_broker: str) -> None:
    monkeypatch.setenv("MOBILABEL_BROKER_URL", closed_broker)
    data = tiny_dataset(tmp_path / "data", train_count=2, val_count=1)
    for args in (["train", str(data), "--queue"], ["enqueue", str(FLOWERS / "val" / "roses")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith(f"Error: cannot reach the broker {masked(closed_broker)}"), line
    (run,) = csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["runs", "--format", "csv"]).output))
    assert run["status"] == "failed" and run["error"].startswith("cannot reach the broker")
