"""What phones, cameras and odd tools leave in a folder, labelled into PostgreSQL: failures, warnings and skips stored and shown there too."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from mobilabel.cli.main import cli
from tests.bad_images import make_real_world_folder


def test_real_world_files_on_postgresql(
    tmp_path: Path, val_images: list[Path], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", postgres_url)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    folder = tmp_path / "real"
    expect = make_real_world_folder(folder, val_images[0])
    labelled = runner.invoke(cli, ["label", str(folder)], catch_exceptions=False)
    assert labelled.exit_code == 0, labelled.output
    failed = sum(outcome != "ok" for outcome, _ in expect.values())
    assert f"{len(expect) - failed} labelled, {failed} failed, 0 skipped (unchanged), 1 skipped: not an image" in " ".join(
        labelled.output.split()
    )

    rows = {
        Path(r["image_path"]).name: r
        for r in csv.DictReader(io.StringIO(runner.invoke(cli, ["results", "--format", "csv"]).output))
    }
    assert rows.keys() == expect.keys()
    for name, (outcome, warning) in expect.items():
        if outcome == "ok":
            assert rows[name]["status"] == "ok" and (warning or "") in rows[name]["warning"], name
            assert bool(warning) == bool(rows[name]["warning"]), name
        else:
            assert rows[name]["status"] == "failed" and outcome in rows[name]["error"], name
