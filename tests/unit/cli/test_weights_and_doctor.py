"""One weights resolver for label, predict, train and doctor; doctor checks a broker only when one is used."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mobilabel.cli.main import cli
from tests.conftest import FLOWERS
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
