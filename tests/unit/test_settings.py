"""Typed settings: what each variable accepts and its defaults (tests/unit/test_docs.py checks each is documented)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import get_args

import pytest

from mobilabel import config
from mobilabel.config import DecoderName, EngineName, QueueName, Settings, SettingsError, load_settings
from tests.conftest import FLOWERS, REPO


def test_defaults_work_embedded_and_empty_values_mean_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MOBILABEL_DATABASE_URL")
    monkeypatch.setenv("MOBILABEL_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILABEL_TOP_K", "")  # as docker compose passes an unset ${VAR:-}
    monkeypatch.setenv("MOBILABEL_SCHEDULE", "")
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'mobilabel.db'}"
    assert (settings.top_k, settings.schedule, settings.train_dir, settings.engine, settings.device) == (
        5,
        "",
        None,
        "auto",
        "auto",
    )
    assert settings.model_cache_dir == tmp_path / "data" / "models"


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "auto"])
def test_devices_that_work_today_stay_valid(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_DEVICE", device)
    assert load_settings().device == device


def test_values_are_typed_and_paths_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", f"{FLOWERS / 'val'}{os.pathsep}{FLOWERS / 'train'}{os.pathsep}")
    monkeypatch.setenv("MOBILABEL_CHUNK_DEADLINE_S", "12.5")
    monkeypatch.setenv("MOBILABEL_TRAIN_DIR", "~/photos")
    settings = load_settings()
    assert settings.allowed_roots == ((FLOWERS / "val").resolve(), (FLOWERS / "train").resolve())
    assert settings.chunk_deadline_s == 12.5
    assert settings.train_dir == Path.home() / "photos"


def test_settings_are_passed_down_not_written_to_the_environment() -> None:
    # prometheus_client's multiprocess folder is the one variable a library makes us set.
    writes = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in (REPO / "mobilabel").rglob("*.py")
        for line in path.read_text().splitlines()
        if re.search(r"os\.environ\[[^]]+\]\s*=|os\.environ\.(update|setdefault)|os\.putenv", line)
    ]
    assert writes == ["mobilabel/worker/metrics.py: os.environ[_DIR_VARIABLE] = folder"]


def test_the_choices_are_the_names_the_code_knows() -> None:
    from mobilabel.broker import QUEUES
    from mobilabel.models import ENGINES
    from mobilabel.models.classifier import TTA_MODES
    from mobilabel.pipeline.decoders import DECODERS

    assert set(get_args(DecoderName)) == set(DECODERS) and next(iter(DECODERS)) == Settings().decoder
    assert set(get_args(EngineName)) == set(ENGINES)
    assert set(get_args(QueueName)) == set(QUEUES)
    assert set(get_args(Settings.model_fields["tta"].annotation)) == set(TTA_MODES)


def test_the_old_name_of_a_renamed_setting_still_works_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(config, "_warned_renamed", set())  # a fresh process, as far as warnings go
    monkeypatch.setenv("MOBILABEL_THREADS", "3")
    with caplog.at_level(logging.WARNING, logger="mobilabel.config"):
        assert load_settings().lanes == 3
        assert load_settings().lanes == 3
    (warning,) = caplog.messages  # once per process, however often settings are read
    assert "\n" not in warning and "MOBILABEL_THREADS is renamed MOBILABEL_LANES" in warning
    monkeypatch.setenv("MOBILABEL_LANES", "2")  # the new name wins
    assert load_settings().lanes == 2
    monkeypatch.delenv("MOBILABEL_LANES")
    monkeypatch.setenv("MOBILABEL_THREADS", "-1")  # a bad value is reported under the name it was given
    with pytest.raises(SettingsError, match=r"^MOBILABEL_THREADS='-1': "):
        load_settings()
