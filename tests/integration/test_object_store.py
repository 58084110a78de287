"""Photos in a bucket, on a real S3 server (SeaweedFS, ``tests/s3_support.py``): labelled embedded and by
workers that see no local photo, skipped when unchanged, served through the API, confined to the allowed
``s3://`` entries (other buckets, sibling prefixes and traversal refused)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from mobilabel import object_store
from mobilabel.object_paths import source_path
from mobilabel.storage import Database, open_database
from mobilabel.storage.tables import Result
from tests.api_support import ClientFactory, api  # noqa: F401
from tests.conftest import FLOWERS
from tests.integration.conftest import Cluster
from tests.integration.test_reliability import assert_exactly_once, freeze_a_chunk_holder
from tests.s3_support import FaultyGateway, S3Store

DAISY = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))
ROSES = sorted((FLOWERS / "val" / "roses").glob("*.jpg"))


def mobilabel(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line as a user runs it, with this test's environment (its AWS variables included)."""
    return subprocess.run(
        [sys.executable, "-m", "mobilabel", *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"}
    )


def rows(url: str) -> dict[str, tuple[str, str | None, str | None]]:
    """path -> (status, content_id, label) of every result row."""
    db = Database(url)
    with db.transaction() as session:
        found = {r.image_path: (r.status, r.content_id, r.label) for r in session.scalars(select(Result))}
    db.dispose()
    return found


def library(s3: S3Store) -> str:
    """A bucket with daisies under lib/ (and a text file there), and a rose under lib-old/: its lib/ URI."""
    bucket = s3.new_bucket()
    s3.put_folder(FLOWERS / "val" / "daisy", bucket, "lib/daisy")
    client = s3.client()
    client.put_object(Bucket=bucket, Key="lib/notes.txt", Body=b"not a photo")
    client.put_object(Bucket=bucket, Key="lib-old/rose.jpg", Body=ROSES[0].read_bytes())
    return f"s3://{bucket}/lib"


def test_label_a_prefix_then_skip_what_is_unchanged(s3: S3Store, tmp_path: Path) -> None:
    url = os.environ["MOBILABEL_DATABASE_URL"]
    prefix = library(s3)
    bucket = prefix.split("/")[2]

    first = mobilabel("label", prefix + "/")
    assert first.returncode == 0, first.stderr
    assert f"{len(DAISY)} images, {len(DAISY)} labelled, 0 failed" in first.stderr
    assert "1 skipped: not an image" in first.stderr
    found = rows(url)
    # Every daisy once, by its URI; nothing of the sibling prefix lib-old/.
    assert sorted(found) == [f"{prefix}/daisy/{p.name}" for p in DAISY]
    assert all(
        status == "ok" and content_id and content_id.endswith(f":{size}")
        for (status, content_id, _), size in zip(found.values(), [p.stat().st_size for p in DAISY], strict=True)
    )

    # Unchanged: nothing read again, with or without the trailing slash.
    again = mobilabel("label", prefix)
    assert again.returncode == 0, again.stderr
    assert f"nothing new to label: {len(DAISY)} images unchanged" in again.stderr

    # One object replaced by a rose: only it is labelled again, and its row now holds the rose's fingerprint.
    replaced = f"daisy/{DAISY[0].name}"
    s3.client().put_object(Bucket=bucket, Key=f"lib/{replaced}", Body=ROSES[1].read_bytes())
    third = mobilabel("label", prefix)
    assert f"1 labelled, 0 failed, {len(DAISY) - 1} skipped (unchanged)" in third.stderr, third.stderr
    assert rows(url)[f"{prefix}/{replaced}"][1] != found[f"{prefix}/{replaced}"][1]

    # The results of a prefix, by a pattern anchored at the URI's start.
    listed = mobilabel("results", "--path", f"s3://{bucket}/lib/daisy/*", "--limit", "0", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.strip().splitlines()) == 1 + len(DAISY)
    assert "lib-old" not in listed.stdout

    # Exported by copy (fetched from the store); a link to an object is refused with the reason, per image.
    exported = mobilabel(
        "export", str(tmp_path / "out"), "--mode", "copy", "--review-state", "suggested", "--path", f"{prefix}/*"
    )
    assert exported.returncode == 0, exported.stderr
    copies = sorted(p for p in (tmp_path / "out").rglob("*.jpg"))
    assert len(copies) == len(DAISY)
    assert {p.read_bytes() for p in copies} == {p.read_bytes() for p in DAISY[1:]} | {ROSES[1].read_bytes()}
    linked = mobilabel("export", str(tmp_path / "links"), "--review-state", "suggested", "--path", f"{prefix}/*")
    assert "can only be copied" in linked.stdout + linked.stderr


def test_a_missing_bucket_and_a_traversal_are_one_error_line(s3: S3Store) -> None:
    missing = mobilabel("label", "s3://no-such-bucket-here/photos")
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1] == "Error: s3://no-such-bucket-here/photos: no such bucket"
    climbing = mobilabel("label", "s3://bucket/photos/../private")
    assert climbing.returncode != 0 and "'..'" in climbing.stderr and "Traceback" not in climbing.stderr


def test_workers_label_a_prefix_they_only_see_in_the_bucket(s3: S3Store, cluster: Cluster) -> None:
    """Two workers, whose only view of the photos is the store: the chunks carry URIs, nothing local."""
    prefix = library(s3)
    # Confined to the prefix, as a worker fleet would be; no local folder is allowed at all.
    confined = {**s3.env, "MOBILABEL_ALLOWED_ROOTS": prefix}
    for name in ("one", "two"):
        cluster.start_worker(name, **confined)
    job_id = cluster.enqueue(source_path(prefix), chunk_size=4)
    job = cluster.wait_for_job(job_id, 300)
    assert (job.done, job.failed, job.total) == (len(DAISY), 0, len(DAISY))
    assert job.root == prefix
    found = rows(cluster.database_url)
    assert sorted(found) == [f"{prefix}/daisy/{p.name}" for p in DAISY]  # each exactly one row
    assert all(status == "ok" for status, _, _ in found.values())

    # Enqueued again with nothing changed: every image skipped, no chunk sent.
    again = cluster.job(cluster.enqueue(source_path(prefix), chunk_size=4))
    assert (again.total, again.skipped) == (len(DAISY), len(DAISY))


def test_a_worker_killed_mid_chunk_loses_and_duplicates_nothing_of_a_bucket(s3: S3Store, cluster: Cluster) -> None:
    """The faults issue's promise holds for objects: a worker killed (SIGKILL, its whole process group) while
    it holds a chunk of URIs; the other labels the chunk again, and every object has exactly one row."""
    bucket = s3.new_bucket()
    s3.put_folder(FLOWERS, bucket, "all")
    victim = cluster.start_worker("w1", **s3.env)
    cluster.start_worker("w2", **s3.env)
    started = time.monotonic()
    job_id = cluster.enqueue(source_path(f"s3://{bucket}/all"), chunk_size=32)
    pids, chunk = freeze_a_chunk_holder(cluster, victim.group_pids())
    victim.kill_all()
    assert_exactly_once(cluster, job_id, 609, started, "whole worker killed, objects")
    recovered = cluster.chunk(chunk.id)
    assert recovered.state == "done" and recovered.attempts >= 2, "the killed chunk was delivered again"
    assert all(path.startswith(f"s3://{bucket}/all/") for path in rows(cluster.database_url))


def blind_to(folder: Path) -> list[str]:
    """A launcher running its command in a mount namespace of its own where ``folder`` is an empty tmpfs: the
    process cannot see a file of it (a user namespace too, so no privilege is needed where those are allowed)."""
    script = 'mount -t tmpfs -o size=1m none "$0" && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "--", "sh", "-c", script, str(folder)]


def test_workers_that_cannot_see_the_local_folder_label_its_copy_in_the_bucket(
    s3: S3Store, cluster: Cluster, tmp_path: Path
) -> None:
    """The photos are in a local folder and in the bucket; two workers run where that folder is empty."""
    photos = tmp_path / "photos"
    shutil.copytree(FLOWERS / "val" / "daisy", photos / "daisy")
    bucket = s3.new_bucket()
    s3.put_folder(photos, bucket, "lib")
    prefix = f"s3://{bucket}/lib"
    blind = blind_to(photos)
    seen = subprocess.run([*blind, "find", str(photos)], capture_output=True, text=True, check=True)
    assert seen.stdout.split() == [str(photos)], "the workers' view of the folder: empty"
    for name in ("one", "two"):
        cluster.start_worker(name, launcher=blind, **s3.env)
    job = cluster.wait_for_job(cluster.enqueue(source_path(prefix), chunk_size=4), 300)
    assert (job.done, job.failed, job.total) == (len(DAISY), 0, len(DAISY))
    found = rows(cluster.database_url)
    assert sorted(found) == [f"{prefix}/daisy/{p.name}" for p in DAISY]  # each exactly one row
    assert all(status == "ok" for status, _, _ in found.values())


def test_api_serves_objects_and_refuses_what_lies_outside(s3: S3Store, api: ClientFactory) -> None:  # noqa: F811
    url = os.environ["MOBILABEL_DATABASE_URL"]
    prefix = library(s3)
    bucket = prefix.split("/")[2]
    other = s3.new_bucket()
    s3.client().put_object(Bucket=other, Key="lib/secret.jpg", Body=ROSES[2].read_bytes())
    assert mobilabel("label", prefix).returncode == 0
    # A row of another bucket (as an earlier, wider setting would have left), and one of the sibling prefix.
    assert mobilabel("label", f"s3://{other}/lib").returncode == 0
    assert mobilabel("label", f"s3://{bucket}/lib-old").returncode == 0
    open_database(url).dispose()
    ids = {path: rid for path, rid in _ids(url).items()}

    client = api(MOBILABEL_ALLOWED_ROOTS=prefix)
    daisy = f"{prefix}/daisy/{DAISY[0].name}"
    image = client.get(f"/api/results/{ids[daisy]}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content == DAISY[0].read_bytes()
    thumbnail = client.get(f"/api/results/{ids[daisy]}/thumbnail", params={"size": 128})
    assert thumbnail.status_code == 200
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) == 128
    for outside in (f"s3://{other}/lib/secret.jpg", f"s3://{bucket}/lib-old/rose.jpg"):
        assert client.get(f"/api/results/{ids[outside]}/image").status_code == 404
        assert client.get(f"/api/results/{ids[outside]}/thumbnail").status_code == 404

    # Jobs: another bucket and a sibling prefix are outside (403), a traversal is no plain key (400).
    assert client.post("/api/jobs", json={"folder": f"s3://{other}/lib"}).status_code == 403
    assert client.post("/api/jobs", json={"folder": f"s3://{bucket}/lib-old"}).status_code == 403
    assert client.post("/api/jobs", json={"folder": f"s3://{bucket}/lib/../lib-old"}).status_code == 400
    assert client.post("/api/jobs", json={"folder": f"s3://{bucket}/lib//daisy"}).status_code == 400
    # A correction naming an object outside is refused before the store is asked.
    refused = client.put("/api/corrections", json={"image_path": f"s3://{other}/lib/secret.jpg", "label": "daisy"})
    assert refused.status_code == 403
    # A job over the allowed prefix is accepted (an embedded job, run in the server).
    created = client.post("/api/jobs", json={"folder": prefix + "/"})
    assert created.status_code == 202, created.text


def _ids(url: str) -> dict[str, int]:
    db = Database(url)
    with db.transaction() as session:
        found = {r.image_path: r.id for r in session.scalars(select(Result))}
    db.dispose()
    return found


@pytest.mark.parametrize("uri", ["s3://b/p", "s3://b/p/"])
def test_a_prefix_means_the_same_with_or_without_its_slash(uri: str) -> None:
    assert str(source_path(uri)) == "s3://b/p"


def test_doctor_checks_the_store(s3: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = library(s3)
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", f"{prefix},s3://no-such-bucket-here")
    checked = mobilabel("doctor", "--no-broker")
    assert f"ok   s3         {prefix} can be listed at {s3.endpoint}" in checked.stdout, checked.stdout
    assert "FAIL s3         s3://no-such-bucket-here: no such bucket" in checked.stdout
    assert checked.returncode == 1
    # The store down: one line saying so, within the bound of attempts.
    monkeypatch.setenv("MOBILABEL_ALLOWED_ROOTS", prefix)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    down = mobilabel("doctor", "--no-broker")
    assert down.returncode == 1 and "the object store cannot be reached" in down.stdout, down.stdout


def test_faults_are_retried_within_a_bound_then_failed_with_a_true_reason(s3: S3Store) -> None:
    """Throttling, truncated bodies and an object deleted after listing, injected in front of the real store."""
    url = os.environ["MOBILABEL_DATABASE_URL"]
    prefix = library(s3)
    bucket = prefix.split("/")[2]
    keys = [f"{bucket}/lib/daisy/{p.name}" for p in DAISY]
    gateway = FaultyGateway(s3)
    try:
        gateway.slow_down = {key: 2 for key in keys[:6]}  # 503 SlowDown twice, then served
        gateway.truncate = {keys[6]: 2, keys[7]: 99}  # ends early twice (then whole), and every time
        gateway.delete_on_get = {keys[8]}  # deleted between the listing and its fetch
        env = {**os.environ, "AWS_ENDPOINT_URL_S3": gateway.endpoint, "COLUMNS": "400"}
        run = subprocess.run([sys.executable, "-m", "mobilabel", "label", prefix], capture_output=True, text=True, env=env)
    finally:
        gateway.close()
    assert run.returncode == 0, run.stderr
    assert f"{len(DAISY)} images, {len(DAISY) - 2} labelled, 2 failed" in run.stderr, run.stderr
    found = rows(url)
    assert len(found) == len(DAISY)  # every object exactly one row
    failed = {path: row for path, row in found.items() if row[0] == "failed"}
    assert set(failed) == {f"s3://{keys[7]}", f"s3://{keys[8]}"}
    errors = _errors(url)
    assert "ended early" in errors[f"s3://{keys[7]}"]
    assert errors[f"s3://{keys[8]}"] == "object not found (deleted since it was listed?)"
    assert all(gateway.gets[key] == 3 for key in keys[:7])  # two faults, then the read that succeeded
    assert gateway.gets[keys[7]] == 6  # the bound: six reads, each cut short


def _errors(url: str) -> dict[str, str]:
    db = Database(url)
    with db.transaction() as session:
        found = {r.image_path: r.error or "" for r in session.scalars(select(Result))}
    db.dispose()
    return found


def test_train_on_a_prefix_of_class_folders(s3: S3Store) -> None:
    bucket = s3.new_bucket()
    for name, photos in (("daisy", DAISY[:8]), ("roses", ROSES[:8])):
        for split, part in (("train", photos[:5]), ("val", photos[5:])):
            for photo in part:
                s3.client().upload_file(str(photo), bucket, f"data/{split}/{name}/{photo.name}")
    trained = mobilabel("train", f"s3://{bucket}/data/", "--epochs", "1", "--unfreeze-last", "0")
    assert trained.returncode == 0, trained.stderr
    listed = mobilabel("models", "--format", "json")
    assert f"trained on s3://{bucket}/data" in listed.stdout, listed.stdout


def test_the_store_down_for_20_s_mid_job_costs_a_pause_not_rows(s3: S3Store) -> None:
    url = os.environ["MOBILABEL_DATABASE_URL"]
    prefix = library(s3)
    gateway = FaultyGateway(s3)
    try:
        gateway.outage_after = 5  # five photos fetched, then nothing answers for 20 s
        env = {**os.environ, "AWS_ENDPOINT_URL_S3": gateway.endpoint, "COLUMNS": "400"}
        run = subprocess.run([sys.executable, "-m", "mobilabel", "label", prefix], capture_output=True, text=True, env=env)
    finally:
        gateway.close()
    assert gateway.dropped > 0  # the outage happened mid-job
    assert run.returncode == 0, run.stderr
    assert f"{len(DAISY)} images, {len(DAISY)} labelled, 0 failed" in run.stderr, run.stderr
    assert sorted(rows(url)) == [f"{prefix}/daisy/{p.name}" for p in DAISY]  # each exactly one row


def test_a_prefix_is_listed_in_key_order_with_its_sub_prefixes_listed_at_once(
    s3: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects beside sub-prefixes whose keys sort around them ('a-b.jpg' < 'a.jpg' < 'a/...' by byte), pages of
    two keys, two listers each holding one page ahead: every key once, fingerprints kept."""
    monkeypatch.setattr(object_store, "_PAGE_SIZE", 2)
    monkeypatch.setattr(object_store, "_LISTERS", 2)
    monkeypatch.setattr(object_store, "_AHEAD_PAGES", 1)
    bucket = s3.new_bucket()
    client = s3.client()
    keys = ["lib/a.jpg", "lib/a-b.jpg", "lib/a/1.jpg", "lib/a/2.jpg", "lib/a/3/x.jpg", "lib/b.jpg", "lib/b0/y.jpg"]
    keys += [f"lib/c/{i:02d}.jpg" for i in range(7)] + ["lib/d/", "lib/z.jpg", "lib-old/no.jpg"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = list(object_store.list_objects(source_path(f"s3://{bucket}/lib")))
    expected = sorted(k for k in keys if k.startswith("lib/") and not k.endswith("/"))
    # Every key once (in S3's byte order on S3; SeaweedFS lists a folder's sub-folders among its files by name).
    assert sorted(str(path) for path in listed) == [f"s3://{bucket}/{key}" for key in expected]
    assert [path.fingerprint for path in listed] == [object_store.head(path) for path in listed]
    # A caller that stops early leaves no lister blocked: the rest are told to stop.
    first = object_store.list_objects(source_path(f"s3://{bucket}/lib"))
    assert str(next(first)) in {str(path) for path in listed}
    first.close()
    for thread in threading.enumerate():
        if thread.name.startswith(f"list {bucket}/"):
            thread.join(timeout=10)
            assert not thread.is_alive(), thread.name
