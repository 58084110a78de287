"""/api/predict: the labels of `mobilabel label`, concurrent requests batched, uploads checked."""

from __future__ import annotations

import csv
import gc
import io
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.cli.main import cli
from tests.api_support import ClientFactory
from tests.bad_images import png_bomb
from tests.conftest import FLOWERS


def photos(folder: Path) -> list[Path]:
    """Two photos of each flower class, and one turned on its side by EXIF."""
    folder.mkdir()
    for kind in sorted((FLOWERS / "val").iterdir()):
        for source in sorted(kind.glob("*.jpg"))[:2]:
            shutil.copy(source, folder / f"{kind.name}-{source.name}")
    return sorted(folder.iterdir())


def upload(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def batch_sizes(client: TestClient) -> tuple[float, float]:
    """(images, batches) the predict endpoint has run, from /metrics."""
    values = {
        line.split()[0]: float(line.split()[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("mobilabel_predict_batch_size_")
    }
    return values["mobilabel_predict_batch_size_sum"], values["mobilabel_predict_batch_size_count"]


def test_predict_gives_the_labels_of_label_and_batches_concurrent_requests(api: ClientFactory, tmp_path: Path) -> None:
    images = photos(tmp_path / "photos")
    labelled = CliRunner().invoke(cli, ["label", str(tmp_path / "photos")], catch_exceptions=False)
    assert labelled.exit_code == 0, labelled.output
    stored = {
        Path(r["image_path"]).name: r
        for r in csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["results", "--format", "csv"]).output))
    }
    assert len(stored) == len(images) == 10

    # One lane, and a wait long enough that the 5 requests below always meet in one batch of 5.
    client = api(MOBILABEL_LANES="1", MOBILABEL_PREDICT_MAX_BATCH="5", MOBILABEL_PREDICT_MAX_WAIT_MS="20000")
    frozen_at_start = gc.get_freeze_count()
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda p: client.post("/api/predict", files=upload(p)), images[:5]))
    assert batch_sizes(client) == (5.0, 1.0)
    assert gc.get_freeze_count() > frozen_at_start  # the loaded model is out of the collector's walks too (api.heap)
    together = client.post("/api/predict", files=upload(*images[5:]), params={"top_k": 3})
    assert batch_sizes(client) == (10.0, 2.0)  # five files in one request: one batch, at once
    predictions = [a.json()["predictions"][0] for a in answers] + together.json()["predictions"]
    for path, prediction in zip(images, predictions, strict=True):
        row = stored[path.name]
        assert prediction["filename"] == path.name and prediction["error"] is None
        assert prediction["label"] == row["label"], path.name
        assert abs(prediction["confidence"] - float(row["confidence"])) < 1e-5, path.name
        assert prediction["top_k"][0] == {"label": prediction["label"], "confidence": prediction["confidence"]}
    assert len(together.json()["predictions"][0]["top_k"]) == 3 and len(predictions[0]["top_k"]) == 5
    assert together.json()["model_version_id"] == row["model_version_id"]


def chunked(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]


def test_uploads_are_checked_like_files(api: ClientFactory, tmp_path: Path) -> None:
    photo = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[0]
    png_bomb(tmp_path / "bomb.png")
    client = api(MOBILABEL_MAX_UPLOAD_BYTES=str(photo.stat().st_size * 3))

    bomb = client.post("/api/predict", files=[("files", ("bomb.png", (tmp_path / "bomb.png").read_bytes(), "image/png"))])
    assert bomb.status_code == 422 and "decompression bomb" in bomb.json()["detail"] and "bomb.png" in bomb.json()["detail"]
    text = client.post("/api/predict", files=[("files", ("notes.jpg", b"this is not a photo\n", "image/jpeg"))])
    assert text.status_code == 415 and "not an image" in text.json()["detail"]
    empty = client.post("/api/predict", files=[("files", ("empty.jpg", b"", "image/jpeg"))])
    assert empty.status_code == 422 and "empty file" in empty.json()["detail"]
    mixed = client.post("/api/predict", files=[*upload(photo), ("files", ("notes.txt", b"hello", "text/plain"))])
    assert mixed.status_code == 200
    good, bad = mixed.json()["predictions"]
    assert good["label"] and good["error"] is None and bad["label"] is None and "not an image" in bad["error"]
    assert client.post("/api/predict").status_code == 422  # no files at all

    too_big = upload(photo, photo, photo, photo)
    refused = client.post("/api/predict", files=too_big)
    assert refused.status_code == 413 and "MOBILABEL_MAX_UPLOAD_BYTES" in refused.json()["detail"]
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.jpg"\r\n\r\n'
        + photo.read_bytes() * 4
        + b"\r\n--b--\r\n"
    )
    streamed = client.post("/api/predict", content=chunked(body), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives


def test_without_weights_predict_is_unavailable(api: ClientFactory) -> None:
    photo = sorted((FLOWERS / "val" / "daisy").glob("*.jpg"))[0]
    client = api(MOBILABEL_PRETRAINED="/nonexistent/weights.pth")
    answer = client.post("/api/predict", files=upload(photo))
    assert answer.status_code == 503 and "MOBILABEL_PRETRAINED" in answer.json()["detail"]
