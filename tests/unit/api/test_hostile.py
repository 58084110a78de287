"""Hostile input, walked from the API's own OpenAPI description: every path a request may name is
confined (outside paths, symlinks out, FIFOs, devices, NUL bytes), and no parameter of any operation
turns an out-of-range value into a 500."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from mobilabel.storage import open_database
from tests.api_support import ClientFactory
from tests.conftest import FLOWERS

PHOTO = next(FLOWERS.glob("val/roses/*.jpg"))
# Names of parameters and body fields that name a place on the server (or, later, in a bucket).
PATH_LIKE = re.compile(r"(^|_)(path|paths|folder|folders|dir|dirs|directory|target|uri|uris|file|source|root|roots)($|_)")
MARK = "x-mobilabel-path"
REFUSED = {400, 403, 404, 422}
OUT_OF_RANGE: list[Any] = [2**63, 2**64, -1, -(2**63) - 1, "\0", "a\0b", "x" * 10_000, 1e308, -1e308, "", " ", "../../etc/passwd"]
# Answers within this long, or the server is taken to hang (a blocking FIFO open, an endless read):
# a guard that turns a hang into a failure, not a measurement.
HANG_S = 60


@dataclass(frozen=True)
class Field:
    """One parameter (query or path) or JSON body field of one operation."""

    method: str
    route: str
    where: str  # "query", "path" or "body"
    name: str
    schema: dict[str, Any]

    @property
    def marked(self) -> bool:
        return bool(self.schema.get(MARK))

    @property
    def pattern(self) -> bool:
        return self.schema.get("x-mobilabel-path-kind") == "pattern"


def fields(openapi: dict[str, Any]) -> Iterator[tuple[Field, list[Field]]]:
    """Every field of every operation, with the operation's other fields."""
    components = openapi.get("components", {}).get("schemas", {})
    for route, item in openapi["paths"].items():
        for method, operation in item.items():
            found = [
                Field(method, route, p["in"], p["name"], {**p["schema"], **{k: v for k, v in p.items() if k.startswith("x-")}})
                for p in operation.get("parameters", [])
                if p["in"] in ("query", "path")
            ]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None:
                ref = body.get("$ref") or next((s["$ref"] for s in body.get("anyOf", []) if "$ref" in s), None)
                model = components[ref.rsplit("/", 1)[1]] if ref else {}
                found += [Field(method, route, "body", name, schema) for name, schema in model.get("properties", {}).items()]
            for one in found:
                yield one, found


def accepts_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" or any(s.get("type") == "string" for s in schema.get("anyOf", []))


def required_body(openapi: dict[str, Any], route: str, method: str) -> dict[str, Any]:
    """The smallest JSON body an operation takes: its required fields, with plain values."""
    body = openapi["paths"][route][method].get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is None:
        return {}
    ref = body.get("$ref") or next((s["$ref"] for s in body.get("anyOf", []) if "$ref" in s), None)
    model = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else {}
    plain = {"string": "x", "integer": 1, "number": 1.0, "boolean": False}
    return {name: plain.get(model["properties"][name].get("type", "string"), "x") for name in model.get("required", [])}


def send(client: TestClient, openapi: dict[str, Any], field: Field, value: Any) -> Response:
    """The operation of ``field`` with ``value`` in it and plain values elsewhere, within HANG_S."""
    route = re.sub(r"\{[^}]+\}", "1", field.route)
    params: dict[str, Any] = {}
    body = required_body(openapi, field.route, field.method)
    if field.where == "path":
        route = field.route.replace("{" + field.name + "}", str(value).replace("\0", "%00").replace("/", "%2F") or "%20")
        route = re.sub(r"\{[^}]+\}", "1", route)
    elif field.where == "query":
        params[field.name] = value
    else:
        body[field.name] = value
    answers: list[Response | BaseException] = []
    kwargs: dict[str, Any] = {"params": params}
    if body or field.where == "body":
        kwargs["json"] = body

    def call() -> None:
        try:
            answers.append(client.request(field.method.upper(), route, **kwargs))
        except BaseException as exc:  # an error the app raised (TestClient re-raises it): a 500
            answers.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(HANG_S)
    where = f"{field.method.upper()} {route} {field.name}={value!r:.40}"
    assert answers, f"{where} did not answer: the server hangs"
    if isinstance(answers[0], BaseException):
        raise AssertionError(f"{where} raised {answers[0]!r} (a 500)") from answers[0]
    return answers[0]


@pytest.fixture
def openapi(api: ClientFactory) -> dict[str, Any]:
    spec: dict[str, Any] = api().get("/openapi.json").json()
    return spec


def test_every_path_like_string_is_marked(openapi: dict[str, Any]) -> None:
    unmarked = sorted(
        {
            f"{f.method.upper()} {f.route} {f.where} {f.name}"
            for f, _ in fields(openapi)
            if PATH_LIKE.search(f.name.lower()) and accepts_string(f.schema) and not f.marked
        }
    )
    assert not unmarked, f"path-like parameters without {MARK}: {unmarked}"
    marked = {f.name for f, _ in fields(openapi) if f.marked}
    assert {"image_path", "target", "folder", "data_dir", "path"} <= marked  # the walk below has something to walk


@pytest.fixture
def hostile_tree(tmp_path: Path) -> dict[str, str]:
    """A root with a photo, and what a client might name instead: each kind of place that must be refused."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "photos").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(PHOTO, root / "photos" / "in.jpg")
    shutil.copy(PHOTO, outside / "secret.jpg")
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    (root / "zero.jpg").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.jpg")
    os.mkfifo(root / "fifo-folder")
    return {
        "outside file": str(outside / "secret.jpg"),
        "outside folder": str(outside),
        "missing outside": str(outside / "missing.jpg"),
        "dot-dot out": str(root / ".." / "outside" / "secret.jpg"),
        "symlink out": str(root / "link.jpg"),
        "symlinked folder out": str(root / "dir-link"),
        "through symlinked folder": str(root / "dir-link" / "secret.jpg"),
        "fifo": str(root / "fifo.jpg"),
        "fifo as folder": str(root / "fifo-folder"),
        "device": "/dev/zero",
        "link to device": str(root / "zero.jpg"),
        "nul byte": str(root / "photos" / "in.jpg") + "\0.jpg",
        "relative": "photos/in.jpg",
        "uri": "file:///etc/passwd",
        "root of everything": "/",
    }


def test_every_marked_path_refuses_what_lies_outside_or_is_not_a_file(
    api: ClientFactory,
    tmp_path: Path,
    hostile_tree: dict[str, str],
) -> None:
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    openapi = client.get("/openapi.json").json()
    walked = 0
    for field, _ in fields(openapi):
        if not field.marked:
            continue
        for case, value in hostile_tree.items():
            answer = send(client, openapi, field, value)
            where = f"{field.method.upper()} {field.route} {field.name} = {case}: {answer.status_code} {answer.text[:200]}"
            assert answer.status_code < 500, where
            if field.pattern:
                # A pattern opens nothing: only what no path holds is refused. Where the operation needs
                # more than the pattern (a POST with a body), the plain values elsewhere may be refused instead.
                if "\0" in value or "://" in value:
                    assert answer.status_code == 400, where
                else:
                    assert answer.status_code == 200 if field.method == "get" else answer.status_code != 400, where
            else:
                assert answer.status_code in REFUSED, where
                assert PHOTO.read_bytes()[:64] not in answer.content, where
            walked += 1
        assert client.get("/healthz").status_code == 200  # still answering after the FIFOs and devices
    assert walked >= 5 * len(hostile_tree)


def test_without_roots_every_path_is_refused_naming_the_setting(api: ClientFactory, tmp_path: Path) -> None:
    client = api()
    openapi = client.get("/openapi.json").json()
    photo = tmp_path / "in.jpg"
    shutil.copy(PHOTO, photo)
    for field, _ in fields(openapi):
        if field.marked and not field.pattern:
            for value in (str(photo), str(tmp_path)):
                answer = send(client, openapi, field, value)
                assert answer.status_code == 403 and "MOBILABEL_ALLOWED_ROOTS" in answer.json()["detail"], (
                    field,
                    value,
                    answer.text,
                )


def test_refusals_never_tell_whether_a_file_outside_exists(
    api: ClientFactory,
    tmp_path: Path,
    hostile_tree: dict[str, str],
) -> None:
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    existing, missing = hostile_tree["outside file"], hostile_tree["missing outside"]
    for request in (
        lambda p: client.put("/api/corrections", json={"image_path": p, "label": "rose", "new_class": True}),
        lambda p: client.delete("/api/corrections", params={"target": p}),
        lambda p: client.post("/api/jobs", json={"folder": p}),
        lambda p: client.post("/api/training-runs", json={"data_dir": p}),
    ):
        a, b = request(existing), request(missing)
        assert (
            (a.status_code, a.json()["detail"].replace(existing, "P"))
            == (b.status_code, b.json()["detail"].replace(missing, "P"))
            == (403, "P is outside the allowed roots (MOBILABEL_ALLOWED_ROOTS)")
        )


def test_a_correction_by_path_inside_the_roots_still_works(
    api: ClientFactory,
    tmp_path: Path,
    hostile_tree: dict[str, str],
) -> None:
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"))
    inside = str(tmp_path / "root" / "photos" / "in.jpg")
    made = client.put("/api/corrections", json={"image_path": inside, "label": "rose", "new_class": True})
    assert made.status_code == 201 and made.json()["state"] == "current"
    for _ in range(45):  # as many FIFO requests as once took every worker thread
        assert (
            client.put(
                "/api/corrections", json={"image_path": hostile_tree["fifo"], "label": "rose", "new_class": True}
            ).status_code
            == 422
        )
    assert client.get("/healthz").status_code == 200
    assert [c["label"] for c in client.get("/api/corrections").json()] == ["rose"]
    (tmp_path / "root" / "photos" / "in.jpg").unlink()  # a file gone: its label is still found by the path it was made on
    assert client.delete("/api/corrections", params={"target": inside}).status_code == 204


def test_no_parameter_of_any_operation_gives_a_500(api: ClientFactory, tmp_path: Path, database_url: str) -> None:
    open_database(database_url, auto_upgrade=True).dispose()
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path))
    openapi = client.get("/openapi.json").json()
    tried = 0
    for field, _ in fields(openapi):
        if field.route == "/readyz":
            continue  # answers 503 by design while no weights are found
        for value in OUT_OF_RANGE:
            answer = send(client, openapi, field, value)
            assert answer.status_code < 500, (
                f"{field.method.upper()} {field.route} {field.where} {field.name}={value!r:.40}: {answer.status_code} {answer.text[:300]}"
            )
            tried += 1
    assert tried > 20 * len(OUT_OF_RANGE)


def test_a_folder_named_through_a_link_inside_the_roots_keeps_its_name(api: ClientFactory, tmp_path: Path) -> None:
    (tmp_path / "root" / "photos").mkdir(parents=True)
    shutil.copy(PHOTO, tmp_path / "root" / "photos" / "in.jpg")
    (tmp_path / "root" / "alias").symlink_to(tmp_path / "root" / "photos", target_is_directory=True)
    client = api(MOBILABEL_ALLOWED_ROOTS=str(tmp_path / "root"), MOBILABEL_PRETRAINED="/nonexistent/weights.pth")
    job = client.post("/api/jobs", json={"folder": str(tmp_path / "root" / "alias")})
    assert job.status_code == 202 and job.json()["root"] == str(tmp_path / "root" / "alias"), job.text
