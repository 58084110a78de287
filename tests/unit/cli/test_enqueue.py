"""Enqueueing when the broker cannot be reached: one clear line, and a job marked failed, not left hanging."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from mobilabel.cli.main import cli
from tests.conftest import FLOWERS


def test_an_unreachable_broker_is_one_clear_line_and_a_failed_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_BROKER_URL", "redis://:secret@127.0.0.1:9/0")
    result = CliRunner().invoke(cli, ["enqueue", str(FLOWERS / "val" / "roses")])
    assert result.exit_code == 1
    assert "cannot reach the broker redis://:***@127.0.0.1:9/0" in result.output and "secret" not in result.output
    (job,) = csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["jobs", "--format", "csv"]).output))
    assert job["status"] == "failed" and job["error"].startswith("enqueueing stopped")
