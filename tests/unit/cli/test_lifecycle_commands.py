"""The label lifecycle as a user runs it: `label` twice, `results`, `jobs delete`, `correct`, `models delete`, `results prune`."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from click.testing import CliRunner, Result
from PIL import Image

from mobilabel.cli.main import cli
from mobilabel.hashing import hash_file
from tests.conftest import FLOWERS


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def csv_rows(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def error_line(result: Result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    return line


def photo_folder(folder: Path) -> list[Path]:
    """Four flower JPEGs and a PNG (read through Pillow, not the batched JPEG decoder)."""
    folder.mkdir()
    sources = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:4]
    paths = [Path(shutil.copyfile(s, folder / s.name)) for s in sources]
    with Image.open(sources[0]) as image:
        image.save(folder / "as.png")
    return [*paths, folder / "as.png"]


def test_two_jobs_keep_their_images_and_results_show_one_current_row_each(tmp_path: Path) -> None:
    paths = photo_folder(tmp_path / "photos")
    for _ in range(2):
        assert run("label", str(tmp_path / "photos")).exit_code == 0
    for job in ("1", "2"):
        assert sorted(r["image_path"] for r in csv_rows(run("results", "--job", job, "--format", "csv"))) == sorted(
            map(str, paths)
        )
    rows = csv_rows(run("results", "--format", "csv"))
    assert len(rows) == 5
    assert {r["content_hash"] for r in rows} == {hash_file(p) for p in paths}, "identity: the hash of the bytes, either decoder"
    (version,) = {r["model_version_id"] for r in rows}
    assert version.startswith("imagenet-")
    assert len(csv_rows(run("results", "--version", "imagenet", "--format", "csv"))) == 5, "a unique prefix names the version"

    assert error_line(run("results", "--job", "9")) == "Error: no job 9; jobs, newest first: 2, 1 (mobilabel jobs)"
    assert "labels are case-sensitive: did you mean 'daisy'?" in error_line(run("results", "--label", "Daisy"))
    assert "no model version is active" in error_line(run("results", "--version", "active"))

    assert run("jobs", "delete", "1", "--yes").output == "deleted job 1 and 0 result rows\n", "job 2 covers the same rows"
    assert len(csv_rows(run("results", "--job", "2", "--format", "csv"))) == 5


def test_verified_labels_listed_exported_shown_and_deleted(tmp_path: Path) -> None:
    paths = photo_folder(tmp_path / "photos")
    assert run("label", str(tmp_path / "photos")).exit_code == 0
    assert run("classes", "add", "daisy").exit_code == 0
    refused = error_line(run("correct", str(paths[1]), "daisies"))
    assert "'daisies'; did you mean 'daisy'?; add --new-class to make it a class" in refused  # the CLI's switch
    # ImageNet's categories are what the first label suggests, not the user's classes: refused unless asked.
    assert "no class or trained version has the label 'bee'" in error_line(run("correct", str(paths[1]), "bee"))
    assert "bee" not in {r["name"] for r in csv_rows(run("classes", "--format", "csv"))}
    assert run("correct", str(paths[1]), "bee", "--new-class").exit_code == 0
    assert run("correct", str(paths[2]), "my-cat", "--new-class").exit_code == 0
    (listed_path, listed_label, state) = next(
        (r["image_path"], r["label"], r["state"])
        for r in csv_rows(run("correct", "--list", "--format", "csv"))
        if r["label"] == "bee"
    )
    assert (listed_path, state) == (str(paths[1]), "current")
    shown = {r["image_path"]: r["verified_label"] for r in csv_rows(run("results", "--format", "csv"))}
    assert shown[str(paths[1])] == "bee" and shown[str(paths[0])] == ""

    paths[2].write_bytes(paths[2].read_bytes() + b"edited")
    states = {r["label"]: r["state"] for r in csv_rows(run("correct", "--list", "--format", "csv"))}
    assert states == {"bee": "current", "my-cat": "stale"}
    assert run("correct", "--delete", str(paths[1])).output == "deleted 1 verified label\n"
    assert [r["label"] for r in csv_rows(run("correct", "--list", "--format", "csv"))] == ["my-cat"]


def test_models_delete_asks_first_and_prune_removes_rows_of_files_gone(tmp_path: Path) -> None:
    paths = photo_folder(tmp_path / "photos")
    assert run("label", str(tmp_path / "photos")).exit_code == 0
    assert run("label", str(tmp_path / "photos"), "--model", "imagenet").exit_code == 0, "--model takes a unique prefix"
    assert "not a checkpoint file, and no model version 'nope'" in error_line(
        run("label", str(tmp_path / "photos"), "--model", "nope")
    )
    declined = run("models", "delete", "imagenet", stdin="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert len(csv_rows(run("results", "--format", "csv"))) == 5

    paths[0].unlink()
    dry = run("results", "prune", "--missing", "--dry-run")
    assert dry.exit_code == 0 and str(paths[0]) in dry.output and "nothing deleted" in dry.output
    assert len(csv_rows(run("results", "--format", "csv"))) == 5
    assert "1 image file is gone; deleted 1 result row" in run("results", "prune", "--missing").output
    assert len(csv_rows(run("results", "--format", "csv"))) == 4

    deleted = run("models", "delete", "imagenet", "--yes")
    assert deleted.exit_code == 0 and "and 4 result rows" in deleted.output
    assert csv_rows(run("results", "--format", "csv")) == []
    assert "imagenet" not in run("models", "--format", "csv").output
    (listed,) = csv_rows(run("models", "--deleted", "--format", "csv"))
    assert listed["id"].startswith("imagenet-") and listed["deleted_at"]
    assert run("label", str(tmp_path / "photos")).exit_code == 0, "the same weights registered again come back"
    assert [r["id"] for r in csv_rows(run("models", "--format", "csv"))] == [listed["id"]]
    assert len(csv_rows(run("results", "--format", "csv"))) == 4
