"""Typed settings: what each variable accepts and its defaults (tests/unit/test_docs.py checks each is documented)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import get_args

import pytest

from mobilabel.config import DecoderName, EngineName, QueueName, Settings, load_settings
from tests.conftest import FLOWERS, REPO


def test_defaults_work_embedded_and_empty_values_mean_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MOBILABEL_DATABASE_URL")
    monkeypatch.setenv("MOBILABEL_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("MOBILABEL_TOP_K", "")  # as docker compose passes an unset ${VAR:-}
    monkeypatch.setenv("MOBILABEL_SCHEDULE", "")
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'mobilabel.db'}"
    assert (settings.top_k, settings.schedule, settings.train_dir, settings.engine, settings.device) == (5, "", None, "auto", "auto")
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
