"""File names that are not UTF-8: stored exactly, shown readably, and never the end of a batch."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mobilabel.storage import open_database
from mobilabel.storage.pathcodec import ENCODED_PREFIX, from_stored, is_storable, printable, to_stored
from tests.conftest import REPO
from tests.odd_names import LOOK_ALIKES, NON_UTF8_NAMES, assert_every_path_column_round_trips, make_odd_folder


def random_names(count: int, seed: int = 0) -> list[bytes]:
    """Absolute paths of random bytes (anything but NUL; ``/`` separates components)."""
    rng = random.Random(seed)
    alphabet = list(range(1, 256))
    return [b"/" + bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def test_every_byte_name_comes_back_exactly_and_is_storable_text() -> None:
    names = [b"/p/" + n for n in NON_UTF8_NAMES] + random_names(2000)
    for raw in names:
        path = os.fsdecode(raw)
        stored = to_stored(path)
        assert is_storable(stored), raw
        assert os.fsencode(from_stored(stored)) == raw
        assert stored == path if is_storable(path) else stored.startswith(ENCODED_PREFIX), raw


def test_valid_utf8_is_stored_unchanged_and_no_real_name_meets_an_encoded_one() -> None:
    for name in LOOK_ALIKES:
        assert to_stored(f"/p/{name}") == f"/p/{name}"
    assert to_stored(os.fsdecode(b"/p/caf\xe9.jpg")) == "bytes:/p/caf\\xe9.jpg"
    assert to_stored(os.fsdecode(b"/p/a\\b\xff")) == "bytes:/p/a\\\\b\\xff"
    # Real stored paths are absolute, encoded forms never start with "/", and a relative name is never encoded.
    with pytest.raises(ValueError, match="absolute"):
        to_stored(os.fsdecode(b"caf\xe9.jpg"))
    for malformed in ("bytes:/p/a\\b", "bytes:/p/\\x41", "bytes:/p/\\xE9", "bytes:/p/end\\"):
        with pytest.raises(ValueError, match="malformed"):
            from_stored(malformed)


def test_messages_name_undecodable_bytes_readably() -> None:
    message = "cannot read " + os.fsdecode(b"/p/caf\xe9.jpg")
    assert printable(message) == "cannot read /p/caf\\xe9.jpg"
    assert printable("plain") == "plain"


def test_every_path_column_round_trips_on_sqlite(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'codec.db'}")
    assert_every_path_column_round_trips(db, tmp_path)
    db.dispose()


def test_label_stores_every_odd_name_beside_the_normal_photos(tmp_path: Path, val_images: list[Path]) -> None:
    folder = tmp_path / "odd"
    files = make_odd_folder(folder, val_images[0])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    labelled = subprocess.run([sys.executable, "-m", "mobilabel", "label", str(folder)], capture_output=True, env=env, cwd=REPO)
    assert labelled.returncode == 0, labelled.stderr.decode(errors="replace")
    assert b"Traceback" not in labelled.stderr
    assert f"{len(files)} images, {len(files)} labelled, 0 failed".encode() in labelled.stderr

    shown = subprocess.run(
        [sys.executable, "-m", "mobilabel", "results", "--format", "csv"], capture_output=True, env=env, cwd=REPO
    )
    assert shown.returncode == 0, shown.stderr.decode(errors="replace")
    rows = list(csv.DictReader(io.StringIO(shown.stdout.decode("utf-8"))))  # strict: every byte printed is UTF-8
    assert sorted(os.fsencode(from_stored(r["image_path"])) for r in rows) == sorted(files)
    assert {r["status"] for r in rows} == {"ok"} and len({r["label"] for r in rows}) == 1, "the same photo under every name"
    assert f"bytes:{folder}/caf\\xe9.jpg" in {r["image_path"] for r in rows}

    wide = {**env, "COLUMNS": "400"}
    table = subprocess.run(
        [sys.executable, "-m", "mobilabel", "results", "--path", "*caf*"], capture_output=True, env=wide, cwd=REPO
    )
    assert table.returncode == 0 and b"caf\\xe9.jpg" in table.stdout, table.stdout.decode(errors="replace")
