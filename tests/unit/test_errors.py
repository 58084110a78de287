"""One error path: every mistake a user can fix ends the output with one `Error:` line, never a traceback.

Each case runs the real command in a fresh process (`python -m mobilabel`), as a user would.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from mobilabel.cli.main import cli
from mobilabel.config import Settings, SettingsError, load_settings
from mobilabel.storage import Database, open_database
from mobilabel.storage import versions as stored
from mobilabel.storage.tables import ModelVersion
from mobilabel.versions.checkpoints import CorruptVersionError, load_version
from tests.conftest import FLOWERS

PHOTO = next((FLOWERS / "val" / "roses").glob("*.jpg"))

# A value each setting refuses: numbers out of range or not numbers, unknown choices, malformed URLs, paths of the wrong kind.
# Every field of Settings is here or in FREE_TEXT, so a new setting cannot go untested.
BAD_VALUES = {
    "home": str(PHOTO),  # a file, not a folder
    "database_url": "not a url",
    "broker_url": "localhost:6379",
    "pretrained": str(FLOWERS),  # a folder, not a weights file
    "allowed_roots": f"{FLOWERS}:/no/such/folder",
    "max_image_pixels": "0",
    "batch_size": "-3",
    "decode_threads": "many",
    "decoder": "bogus",
    "lanes": "-1",
    "engine": "bogus",
    "device": "gpu",
    "top_k": "abc",
    "chunk_size": "0",
    "chunk_deadline_s": "soon",
    "queued_grace_s": "-5",
    "sweep_interval_s": "0",
    "db_patience_s": "-1",
    "heartbeat_s": "0",
    "db_lock_timeout_s": "0",
    "max_redeliveries": "1.5",
    "visibility_timeout_s": "0",
    "model_refresh_s": "x",
    "metrics_port": "70000",
    "schedule": "every day",
    "train_dir": str(PHOTO),  # a file, not a folder
    "train_queue": "fast",
    "max_upload_bytes": "0",
    "predict_max_batch": "0",
    "predict_max_wait_ms": "-1",
    "tta": "mirror",
    "refine_margin": "1.5",
    "allowed_hosts": "https://labels.example.org:8443",  # a URL, not a host name
    "session_ttl_s": "0",
    "review_lease_s": "-1",
    "refresh_every": "-1",
}
FREE_TEXT = {"redis_prefix", "api_token", "cors_origins", "reviewer"}  # any text is a valid key prefix, token, list of origins


def mobilabel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mobilabel", *args], capture_output=True, text=True, timeout=120, env=env)


def assert_one_error_line(run: subprocess.CompletedProcess[str], exit_code: int, *words: str) -> str:
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("Error: "), output
    assert [line for line in output.splitlines() if line.startswith("Error:")] == [last], output
    assert run.returncode == exit_code, output
    for word in words:
        assert word in last, output
    return last


def test_every_setting_has_a_bad_value_tested() -> None:
    assert set(BAD_VALUES) | FREE_TEXT == set(Settings.model_fields)


@pytest.mark.parametrize("field", sorted(BAD_VALUES))
def test_each_bad_setting_is_refused_at_load_naming_it(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"MOBILABEL_{field.upper()}", BAD_VALUES[field])
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(f"MOBILABEL_{field.upper()}=")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("command", [["jobs"], ["predict", str(PHOTO)]], ids=["light", "torch"])
def test_bad_settings_are_one_error_line_naming_each(command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # All at once: the one line names every variable that needs changing, not only the first.
    for field, value in BAD_VALUES.items():
        monkeypatch.setenv(f"MOBILABEL_{field.upper()}", value)
    assert_one_error_line(mobilabel(*command), 2, *(f"MOBILABEL_{field.upper()}=" for field in BAD_VALUES))


@pytest.mark.parametrize(
    "command", [["label", str(FLOWERS / "val")], ["predict", str(PHOTO)], ["train", str(FLOWERS)], ["worker"]]
)
def test_a_gpu_this_machine_lacks_is_one_error_line_before_any_work(command: list[str]) -> None:
    # cuda:99: no machine has it, with or without a GPU.
    last = assert_one_error_line(mobilabel(*command, "--device", "cuda:99"), 1, "cuda:99")
    assert "CUDA" in last


def test_an_unreachable_database_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", "postgresql://mobilabel:secret@127.0.0.1:9/nowhere")
    last = assert_one_error_line(mobilabel("jobs"), 1, "cannot connect", "127.0.0.1:9")
    assert "secret" not in last


def test_an_unknown_option_is_a_usage_error() -> None:
    assert_one_error_line(mobilabel("results", "--colour", "red"), 2, "--colour")


def test_a_checkpoint_that_no_longer_matches_its_sha256_is_a_clear_error() -> None:
    settings = Settings()
    database = open_database(settings.database_url)
    with database.transaction() as session:
        stored.register_version(session, stored.VersionRecord("v1", "mobilenet_v2", 1.0, ["a"], {}, b"checkpoint bytes"))
        session.execute(update(ModelVersion).where(ModelVersion.id == "v1").values(sha256="0" * 64))
    with pytest.raises(CorruptVersionError, match="does not match its sha256"):
        load_version(database, settings, "v1")
    database.dispose()


def test_a_command_that_fails_still_closes_its_database(monkeypatch: pytest.MonkeyPatch) -> None:
    disposed: list[str] = []
    original = Database.dispose
    monkeypatch.setattr(Database, "dispose", lambda self: (disposed.append(self.url), original(self))[-1])
    failed = CliRunner().invoke(cli, ["cancel", "999"])  # opens the database, then finds no such job
    assert failed.exit_code == 1 and failed.output.strip().splitlines()[-1] == "Error: no job 999", failed.output
    assert disposed == [Settings().database_url]


def test_an_unwritable_sqlite_folder_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILABEL_DATABASE_URL", f"sqlite:///{PHOTO}/inside-a-file/mobilabel.db")
    assert_one_error_line(mobilabel("jobs"), 1, "cannot create the folder")
