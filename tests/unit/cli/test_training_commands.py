"""`mobilabel train | models | correct`, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier
from mobilabel.storage import open_database
from mobilabel.storage import versions as stored
from mobilabel.storage.corrections import list_corrections
from tests.conftest import FLOWERS
from tests.unit.training.test_training import PNG_SIGNATURE, tiny_dataset


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    return line


def test_train_on_a_missing_folder_or_with_impossible_options_is_one_clear_error_line(tmp_path: Path) -> None:
    assert one_error_line(run("train", str(tmp_path / "nowhere"))) == f"Error: folder not found: {tmp_path / 'nowhere'}"
    data = str(FLOWERS)
    assert one_error_line(run("train", data, "--device", "tpu")) == "Error: unknown device 'tpu'; use cpu, cuda, cuda:N or auto"
    line = one_error_line(run("train", data, "--arch", "v1"))
    assert line.startswith("Error: the ImageNet weights ") and line.endswith("train that network with --from-scratch")


def test_train_registers_a_version_that_models_lists(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", train_count=3, val_count=2)
    result = run("train", str(data), "--epochs", "1", "--batch-size", "8", "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "is now active, replacing the ImageNet weights (ImageNet's classes, not yours)" in result.output
    report_line = next(line for line in result.output.splitlines() if line.startswith("report: "))
    assert Path(report_line.removeprefix("report: ")).read_bytes().startswith(PNG_SIGNATURE)
    assert "epoch 1/1 loss" in result.output

    (version,) = json.loads(run("models", "--format", "json").output)
    assert version["active"] is True and version["classes"] == ["daisy", "roses"]
    assert version["val_accuracy"] == version["metrics"]["val_accuracy"]
    assert (tmp_path / "out" / f"{version['id']}.pt").is_file()
    assert json.loads((tmp_path / "out" / f"{version['id']}.json").read_text())["val_images"] == 4
    (row,) = csv.DictReader(io.StringIO(run("models", "--format", "csv").output))
    assert (row["id"], row["active"], row["train_images"]) == (version["id"], "True", "6")
    # Before: "now active: no version of your own was active". Each line names the version and what it replaced.
    replacing = f"model version {version['id']} is now active, replacing the ImageNet weights (ImageNet's classes, not yours)"
    assert replacing in result.output.splitlines(), result.output
    again = run("train", str(data), "--epochs", "1", "--batch-size", "8", "--force")
    assert again.exit_code == 0, again.output
    newer = json.loads(run("models", "--format", "json").output)[0]["id"]
    assert f"model version {newer} is now active, replacing {version['id']}: " in again.output, again.output
    assert again.output.rstrip().splitlines()[-3].endswith("promoted by force"), again.output


def test_a_lower_resolution_trains_and_labels_at_its_size(tmp_path: Path) -> None:
    # The paper's resolution multiplier: 128-pixel inputs, the transforms scaled and kept in the checkpoint.
    data = tiny_dataset(tmp_path / "data", train_count=3, val_count=2)
    result = run(
        "train",
        str(data),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--resolution",
        str(128 / 224),
        "--output",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    (version,) = json.loads(run("models", "--format", "json").output)
    checkpoint = Checkpoint.load(tmp_path / "out" / f"{version['id']}.pt")
    assert (checkpoint.preprocessing.resize_size, checkpoint.preprocessing.crop_size) == (146, 128)
    assert version["metrics"]["options"]["resolution"] == 128 / 224
    classifier = Classifier.load(checkpoint, device="cpu")
    photo = next((FLOWERS / "val" / "roses").glob("*.jpg"))
    assert classifier.pixels(read_rgb(photo, 10**8)).shape == (128, 128, 3)
    labelled = run("predict", str(photo))  # the new version is active: `label` and `predict` use it
    assert labelled.exit_code == 0, labelled.output
    assert labelled.output.split("\t")[1] in ("daisy", "roses"), labelled.output


def test_models_activate_and_rollback(tmp_path: Path) -> None:
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        for version_id in ("first", "second"):
            stored.register_version(session, stored.VersionRecord(version_id, "mobilenet_v2", 1.0, ["a"], {}, b"w"))
    db.dispose()
    assert one_error_line(run("models", "rollback")) == "Error: no model version is active, so there is nothing to roll back"
    assert run("models", "activate", "first").output == "model version first is active\n"
    assert run("models", "activate", "second").exit_code == 0
    assert run("models", "rollback").output == "rolled back from second to model version first\n"
    active = [r["id"] for r in csv.DictReader(io.StringIO(run("models", "--format", "csv").output)) if r["active"] == "True"]
    assert active == ["first"]
    assert one_error_line(run("models", "activate", "third")) == (
        "Error: no model version 'third'; nearest: first; versions: first, second (or 'active')"
    )
    assert run("models", "activate", "sec").output == "model version second is active\n", "a unique prefix names a version"


def corrections() -> list[tuple[str, str]]:
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        rows = [(c.image_path, c.label) for c in list_corrections(session)]
    db.dispose()
    return rows


def register_classes(*classes: str) -> None:
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        stored.register_version(session, stored.VersionRecord("flowers", "mobilenet_v2", 1.0, list(classes), {}, b"w"))
    db.dispose()


def test_correct_one_image_then_import_a_csv(tmp_path: Path) -> None:
    daisy, rose = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[:2]
    register_classes("daisy", "roses", "tulips")
    assert run("correct", str(daisy), "roses").exit_code == 0
    assert run("correct", str(daisy), "daisy").exit_code == 0, "correcting again replaces the label"
    assert corrections() == [(str(daisy), "daisy")]

    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "rose.jpg").symlink_to(rose)
    table = tmp_path / "fixes.csv"
    table.write_text(f"image_path,label\npics/rose.jpg,roses\n{daisy},tulips\n")
    result = run("correct", "--csv", str(table))
    assert result.output == "stored 2 verified labels; training uses them, check answers aside (unless --no-corrections)\n"
    assert sorted(corrections()) == sorted([(str(daisy), "tulips"), (str(tmp_path / "pics" / "rose.jpg"), "roses")])


def test_a_csv_with_bad_rows_stores_nothing_and_lists_them(tmp_path: Path) -> None:
    register_classes("daisy", "roses")
    daisy = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[0]
    table = tmp_path / "fixes.csv"
    table.write_text(f"image_path,label\n{daisy},daisy\nmissing.jpg,roses\n,roses\n{daisy},\n")
    line = one_error_line(run("correct", "--csv", str(table)))
    assert (
        line == f"Error: {table}: 2 rows cannot be stored, none were: line 3: not a file: missing.jpg; line 4: empty image_path"
    )
    assert corrections() == []
    (tmp_path / "wrong.csv").write_text("path,class\na.jpg,daisy\n")
    assert "missing image_path, label" in one_error_line(run("correct", "--csv", str(tmp_path / "wrong.csv")))
    assert one_error_line(run("correct", str(tmp_path / "nope.jpg"), "daisy")) == f"Error: not a file: {tmp_path / 'nope.jpg'}"


def test_a_verified_label_that_is_not_a_class_is_left_out_with_a_warning_and_training_goes_on(tmp_path: Path) -> None:
    daisy = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[0]
    assert run("correct", str(daisy), "cat", "--new-class").exit_code == 0
    data = tiny_dataset(tmp_path / "data", 1, 1)
    result = run("train", str(data), "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "warning: left out 1 verified label:" in result.output
    assert f"  {daisy}: label 'cat' is not a class of the data folder (daisy, roses)" in result.output
    assert "is now active, replacing the ImageNet weights" in result.output
    quiet = run("train", str(data), "--epochs", "1", "--no-corrections")
    assert quiet.exit_code == 0 and "left out" not in quiet.output
    assert run("train", str(data), "--epochs", "1", "--include-corrections").exit_code == 0, "the old flag is still accepted"
