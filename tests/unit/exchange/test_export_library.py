"""`mobilabel export`: class folders (symlink, hardlink, copy) and Label Studio tasks, filtered by
review state, label, job and path; names unique, each image once, manifest beside them; exporting
again changes nothing; an unreadable image is skipped, the rest exported."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from mobilabel.hashing import hash_file
from mobilabel.storage import open_database
from mobilabel.storage.results import ResultRecord, write_results
from mobilabel.storage.states import ResultStatus
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS
from tests.unit.test_structure import loaded_heavy_modules


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def exported_files(folder: Path) -> dict[str, str]:
    """file (label/name) -> the content hash of what it holds, for every image file under ``folder``."""
    return {str(p.relative_to(folder)): hash_file(p) for p in sorted(folder.glob("*/*")) if not p.name.startswith(".")}


def test_default_export_is_the_verified_labels_as_symlinks_and_exporting_again_changes_nothing(
    library: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run("export", str(out))
    assert first.exit_code == 0, first.output
    rows = manifest(out)
    assert len(rows) == 4 and {r["review_state"] for r in rows} == {"verified"}
    for row in rows:
        source = row["source_path"]
        assert row["label"] == library[source]  # the person's answer, the mislabelled rose included
        link = out / row["file"]
        assert link.is_symlink() and os.readlink(link) == source
        assert row["file"].split("/")[0] == row["label"] and row["content_hash"] == hash_file(source) and row["version"] == "v1"
    before = exported_files(out)
    again = run("export", str(out))
    assert again.exit_code == 0 and "(0 new, 4 there already)" in again.output
    assert manifest(out) == rows and exported_files(out) == before


@pytest.mark.parametrize("mode", ["symlink", "hardlink", "copy"])
def test_every_image_once_under_a_unique_name_in_each_mode(library: dict[str, str], tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    assert run("export", str(out), "--mode", mode, "--review-state", "suggested,verified").exit_code == 0
    rows = manifest(out)
    assert sorted(r["source_path"] for r in rows) == sorted(library)
    files = exported_files(out)
    assert sorted(files) == sorted(r["file"] for r in rows)  # one file per image, nothing else
    for row in rows:
        assert files[row["file"]] == row["content_hash"] == hash_file(row["source_path"])
        assert (out / row["file"]).is_symlink() == (mode == "symlink")
    daisies = sorted(r["file"] for r in rows if r["label"] == "daisy")
    same = [r for r in rows if os.path.basename(r["source_path"]) == "same.jpg"]
    assert len(same) == 2 and {r["file"] for r in same} == {"daisy/same.jpg", f"daisy/same-{same[1]['content_hash'][:8]}.jpg"}
    assert len(daisies) == 4
    assert {r["review_state"] for r in rows} == {"verified", "suggested"}
    again = run("export", str(out), "--mode", mode, "--review-state", "verified,suggested")
    assert "(0 new, 12 there already)" in again.output and exported_files(out) == files


def test_filters_by_label_path_and_job_and_refuses_unknown_names(library: dict[str, str], tmp_path: Path) -> None:
    every = ("--review-state", "verified,accepted,suggested")
    assert run("export", str(tmp_path / "d"), *every, "--label", "daisy").exit_code == 0
    assert {r["label"] for r in manifest(tmp_path / "d")} == {"daisy"} and len(manifest(tmp_path / "d")) == 4
    assert run("export", str(tmp_path / "p"), *every, "--path", f"{tmp_path}/photos/a/*").exit_code == 0
    assert sorted(r["source_path"] for r in manifest(tmp_path / "p")) == sorted(p for p in library if "/photos/a/" in p)
    assert run("export", str(tmp_path / "j"), *every, "--job", "1").exit_code == 0
    assert len(manifest(tmp_path / "j")) == 12
    single = run("export", str(tmp_path / "one"), *every, "--path", sorted(library)[0])
    assert single.exit_code == 0 and f"exported 1 image to {tmp_path / 'one'} (1 new, 0 there already)" in single.output
    for args, message in [
        (("--job", "7"), "no job 7"),
        (("--label", "Daisy"), "did you mean 'daisy'"),
        (("--review-state", "checked"), "unknown review state 'checked'"),
    ]:
        refused = run("export", str(tmp_path / "x"), *args)
        assert refused.exit_code != 0 and message in refused.output and refused.output.startswith("Error:"), refused.output


def test_an_image_gone_from_disk_is_skipped_and_the_rest_exported(library: dict[str, str], tmp_path: Path) -> None:
    gone = sorted(library)[1]
    os.unlink(gone)
    result = run("export", str(tmp_path / "out"), "--mode", "copy", "--review-state", "suggested,verified")
    assert result.exit_code == 0, result.output
    assert "skipped 1 image:" in result.output and "No such file" in result.output
    assert sorted(r["source_path"] for r in manifest(tmp_path / "out")) == sorted(p for p in library if p != gone)


def test_the_api_exports_as_a_job_into_an_allowed_folder_only(
    library: dict[str, str],
    tmp_path: Path,
    api: ClientFactory,
) -> None:
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ExportRequest"]["properties"]
    assert schema["destination"]["x-mobilabel-path"] is True
    outside = client.post("/api/exports", json={"destination": "/tmp/elsewhere-export"})
    assert outside.status_code == 403 and "outside the allowed roots" in outside.text
    escaping = client.post("/api/exports", json={"destination": str(tmp_path / "photos" / ".." / ".." / "up")})
    assert escaping.status_code == 403
    unknown = client.post("/api/exports", json={"destination": str(tmp_path / "out"), "label": "Daisy"})
    assert unknown.status_code == 422 and "did you mean 'daisy'" in unknown.text
    created = client.post(
        "/api/exports", json={"destination": str(tmp_path / "out"), "review_states": ["verified", "suggested"], "mode": "copy"}
    )
    assert created.status_code == 202, created.text
    client.app.state.exports.wait_idle(timeout=60)  # type: ignore[attr-defined]
    done = client.get(f"/api/exports/{created.json()['id']}").json()
    assert done["status"] == "done" and done["images"] == 12 and done["made"] == 12 and done["skipped"] == 0, done
    assert sorted(r["source_path"] for r in manifest(tmp_path / "out")) == sorted(library)
    assert [e["id"] for e in client.get("/api/exports").json()] == [done["id"]]
    assert client.get("/api/exports/99").status_code == 404


def test_export_loads_no_torch(library: dict[str, str], tmp_path: Path) -> None:
    code = (
        "from mobilabel.cli.main import cli\n"
        f"try:\n    cli(['export', {str(tmp_path / 'light')!r}, '--format', 'labelstudio'], prog_name='mobilabel')\n"
        "except SystemExit as exit:\n    assert not exit.code, exit.code"
    )
    assert loaded_heavy_modules(code) == []
    assert len(manifest(tmp_path / "light")) == 4


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_exporting_again_after_a_label_changed_moves_the_image_and_leaves_nothing_stale(
    library: dict[str, str], tmp_path: Path, mode: str
) -> None:
    out = tmp_path / "out"
    every = ("--review-state", "verified,suggested", "--mode", mode)
    assert run("export", str(out), *every).exit_code == 0
    tulip = next(p for p in sorted(library) if library[p] == "tulips")
    gone = next(p for p in sorted(library) if library[p] == "roses")
    assert run("correct", tulip, "daisy").exit_code == 0  # a person says otherwise now
    os.unlink(gone)
    again = run("export", str(out), *every)
    assert again.exit_code == 0 and "removed 2 files an earlier export" in again.output, again.output
    rows = manifest(out)
    assert {r["source_path"]: r["label"] for r in rows}[tulip] == "daisy"
    assert sorted(exported_files(out)) == sorted(r["file"] for r in rows)  # the tulip only in daisy/, the gone rose nowhere
    assert len(rows) == 11 and "(1 new, 10 there already)" in again.output


def test_an_earlier_export_of_other_labels_is_replaced_but_files_it_did_not_list_stay(
    library: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    every = ("--review-state", "verified,suggested")
    assert run("export", str(out), *every, "--label", "daisy").exit_code == 0
    (out / "daisy" / "mine.txt").write_text("the user's own file")
    assert run("export", str(out), *every, "--label", "roses").exit_code == 0
    assert sorted(os.listdir(out / "daisy")) == ["mine.txt"]
    assert {r["label"] for r in manifest(out)} == {"roses"} and len(os.listdir(out / "roses")) == len(manifest(out))


def test_a_copy_that_took_an_earlier_files_name_is_not_removed_as_stale(library: dict[str, str], tmp_path: Path) -> None:
    photo = sorted((FLOWERS / "val" / "tulips").glob("*.jpg"))[-1]
    copies = [tmp_path / "photos" / sub / "dup.jpg" for sub in ("c", "d")]
    for copy in copies:
        copy.parent.mkdir()
        shutil.copyfile(photo, copy)
    db = open_database(load_settings().database_url)
    with db.transaction() as session:
        records = [ResultRecord(str(c), "1:1", ResultStatus.OK, "tulips", 0.9, content_hash=hash_file(c)) for c in copies]
        write_results(session, records, "v1", None)
    db.dispose()
    out = tmp_path / "out"
    every = ("--review-state", "suggested", "--mode", "copy")
    assert run("export", str(out), *every, "--path", "*/c/*").exit_code == 0
    again = run("export", str(out), *every, "--path", "*/d/*")
    assert again.exit_code == 0 and "(0 new, 1 there already)" in again.output and "removed" not in again.output
    (row,) = manifest(out)
    assert row["source_path"] == str(copies[1]) and hash_file(out / row["file"]) == hash_file(photo)
