"""One weights resolver for label, predict, train and doctor; doctor checks a broker only when one is used."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.storage import database as database_module
from mobilabel.storage import open_database
from mobilabel.versions.checkpoints import resolve_model
from mobilabel.versions.files import weights_hash_file
from mobilabel.versions.weights_hash import weights_sha256
from tests.conftest import FLOWERS, IMAGENET_WEIGHTS
from tests.unit.training.test_training import tiny_dataset


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def doctor_lines(result: Result) -> dict[str, str]:
    """check name -> its whole line"""
    return {line.split()[1]: line for line in result.output.splitlines()}


def test_weights_registered_by_a_first_run_serve_label_train_and_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("label", str(FLOWERS / "val" / "roses")).exit_code == 0  # registers the ImageNet weights
    monkeypatch.delenv("MOBILABEL_PRETRAINED")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torchvision cache either

    checked = run("doctor")
    assert checked.exit_code == 0, checked.output
    assert doctor_lines(checked)["weights"].startswith(
        "ok   weights    no active version yet; ImageNet weights from model version imagenet-"
    )

    trained = run("train", str(tiny_dataset(tmp_path / "data", 3, 2)), "--epochs", "1")
    assert trained.exit_code == 0, trained.output
    assert "is now active, replacing the ImageNet weights" in trained.output


def test_without_any_weights_doctor_fails_on_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOBILABEL_PRETRAINED")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    checked = run("doctor")
    assert checked.exit_code == 1
    assert doctor_lines(checked)["weights"].startswith("FAIL weights    no active model version and no ImageNet weights")


def test_doctor_checks_the_broker_only_when_one_is_configured_or_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = run("doctor")
    assert embedded.exit_code == 0, embedded.output
    assert doctor_lines(embedded)["broker"] == (
        "ok   broker     not checked: MOBILABEL_BROKER_URL is not set, and embedded use needs none (--broker checks it)"
    )
    monkeypatch.setenv("MOBILABEL_BROKER_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    distributed = run("doctor")
    assert distributed.exit_code == 1
    assert doctor_lines(distributed)["broker"].startswith("FAIL broker     cannot reach redis://127.0.0.1:1/0")
    skipped = run("doctor", "--no-broker")
    assert skipped.exit_code == 0 and doctor_lines(skipped)["broker"] == "ok   broker     not checked (--no-broker)"


def test_the_weights_hash_is_remembered_until_the_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"a" * 1000)
    assert weights_sha256(settings, weights) == hashlib.sha256(b"a" * 1000).hexdigest()
    assert weights_hash_file(settings).is_file()
    with monkeypatch.context() as unread:
        unread.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read again"))
        assert weights_sha256(settings, weights) == hashlib.sha256(b"a" * 1000).hexdigest()
    weights.write_bytes(b"b" * 999)  # another size
    assert weights_sha256(settings, weights) == hashlib.sha256(b"b" * 999).hexdigest()
    # A same-sized replacement whose modification time is put back: another file all the same.
    before = weights.stat()
    replacement = tmp_path / "new.pth"
    replacement.write_bytes(b"c" * 999)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, weights)
    assert weights_sha256(settings, weights) == hashlib.sha256(b"c" * 999).hexdigest()
    weights_hash_file(settings).write_text("{not json")  # damaged: hashed again, and remembered anew
    assert weights_sha256(settings, weights) == hashlib.sha256(b"c" * 999).hexdigest()
    assert json.loads(weights_hash_file(settings).read_text())["sha256"] == hashlib.sha256(b"c" * 999).hexdigest()


def test_predict_loads_the_settings_once_and_tells_the_registered_weights_without_reading_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = str(next((FLOWERS / "val" / "roses").glob("*.jpg")))
    first = run("predict", photo)  # registers the ImageNet weights, and remembers their hash
    assert first.exit_code == 0, first.output
    version_id = f"imagenet-{hashlib.sha256(IMAGENET_WEIGHTS.read_bytes()).hexdigest()[:12]}"
    settings = load_settings()
    database = open_database(settings.database_url)
    with monkeypatch.context() as unread:
        unread.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read"))
        assert resolve_model(database, settings) == version_id
    database.dispose()
    # The command's settings open its database: storage.database does not load them a second time.
    monkeypatch.setattr(database_module, "load_settings", lambda: pytest.fail("the settings were loaded again"))
    again = run("predict", photo)
    assert again.exit_code == 0, again.output
    assert again.output == first.output
