"""`mobilabel serve`: health, readiness, metrics, OpenAPI, and security by default."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.api.app import create_app
from mobilabel.cli.main import cli
from mobilabel.config import load_settings
from tests.api_support import BASE_URL, ClientFactory

TOKEN = "s3cret-token-for-tests"


def test_health_readiness_metrics_and_openapi(api: ClientFactory) -> None:
    client = api()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["migrations"]["ok"] and checks["database"]["ok"] and "MOBILABEL_PRETRAINED" in checks["model"]["detail"]
    client.get("/api/jobs/12345")
    metrics = client.get("/metrics").text
    assert 'mobilabel_http_request_duration_seconds_count{method="GET",route="/api/jobs/{job_id}",status="404"} 1.0' in metrics
    assert 'route="/readyz",status="200"' in metrics
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/jobs",
        "/api/results",
        "/api/results/export",
        "/api/predict",
        "/api/results/{result_id}/thumbnail",
        "/api/models",
    ):
        assert path in paths, path


def test_docs_work_offline(api: ClientFactory) -> None:
    """/docs names no outside URL, and every file it names is served from here."""
    client = api()
    html = client.get("/docs").text
    assert "/openapi.json" in html and "SwaggerUIBundle" in html
    assert not re.findall(r"https?://", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    expected_types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    assert sorted(Path(url).suffix for url in assets) == sorted(expected_types), assets
    for url in assets:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["content-type"].startswith(expected_types[Path(url).suffix]), (url, answer.headers["content-type"])
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert client.get("/redoc").status_code == 404  # ReDoc would fetch its logo from its vendor's CDN


def test_full_collections_skip_what_the_server_keeps() -> None:
    """While the app runs, what it holds since startup is frozen (api.heap): a full garbage
    collection walks only what requests made since; shutting down hands it back."""
    with TestClient(create_app(load_settings()), base_url=BASE_URL) as client:
        client.get("/api/results", params={"limit": 1}).raise_for_status()
        assert gc.get_freeze_count() > 10 * len(gc.get_objects())
    assert gc.get_freeze_count() == 0


def test_not_ready_without_weights(api: ClientFactory) -> None:
    client = api(MOBILABEL_PRETRAINED="/nonexistent/weights.pth")
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert not ready.json()["checks"]["model"]["ok"] and "is not a file" in ready.json()["checks"]["model"]["detail"]


def test_serve_refuses_a_public_address_without_a_token() -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2, result.output  # a bad option or setting, as click's usage errors
    (line,) = result.output.splitlines()
    assert line.startswith("Error: refusing to listen on 0.0.0.0 without a token: set MOBILABEL_API_TOKEN")


def test_with_a_token_every_request_needs_it(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    for path in ("/healthz", "/api/jobs", "/openapi.json", "/metrics", "/docs", "/docs/assets/swagger-ui-bundle.js"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert client.get(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401, path
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path
    assert client.post("/api/models/rollback").status_code == 401
    assert client.get("/healthz").headers["www-authenticate"] == "Bearer"


def test_a_session_cookie_for_the_web_page_and_no_cross_site_changes(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    assert client.post("/api/session").status_code == 401
    opened = client.post("/api/session", headers={"Authorization": f"Bearer {TOKEN}"})
    assert opened.status_code == 204
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and TOKEN not in cookie
    assert client.get("/api/jobs").status_code == 200  # the cookie now authenticates reads
    cross_site = client.post("/api/models/rollback", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403 and "cross-site" in cross_site.json()["detail"]
    same_site = client.post("/api/models/rollback", headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same_site.status_code == 409  # reached the endpoint: nothing to roll back to
    assert client.delete("/api/session").status_code == 204
    assert client.get("/api/jobs").status_code == 401  # logged out
    assert client.post("/api/session", json={"token": "wrong"}).status_code == 401
    assert client.post("/api/session", json={"token": TOKEN}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert (
        client.post("/api/session", json={"token": TOKEN}, headers={"Origin": "http://localhost"}).status_code == 204
    )  # a login form
    assert client.get("/api/jobs").status_code == 200
    client.cookies.clear()
    assert client.post("/api/models/rollback", headers={"Origin": "http://localhost"}).status_code == 401


def test_loopback_without_token_still_refuses_cross_site_changes(api: ClientFactory) -> None:
    client = api()
    assert client.post("/api/models/rollback", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/models/rollback", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/api/models/rollback").status_code == 409  # curl sends neither header
    assert client.get("/api/jobs", headers={"Origin": "https://evil.example"}).status_code == 200  # reads are not changes
    assert "access-control-allow-origin" not in client.get("/api/jobs", headers={"Origin": "https://evil.example"}).headers


def test_cors_only_for_configured_origins(api: ClientFactory) -> None:
    client = api(MOBILABEL_CORS_ORIGINS="https://ok.example")
    preflight = {"Origin": "https://ok.example", "Access-Control-Request-Method": "POST"}
    assert client.options("/api/jobs", headers=preflight).headers["access-control-allow-origin"] == "https://ok.example"
    evil = client.options("/api/jobs", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    assert (
        client.post("/api/models/rollback", headers={"Origin": "https://ok.example", "Sec-Fetch-Site": "cross-site"}).status_code
        == 409
    )
    assert (
        client.post(
            "/api/models/rollback", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        ).status_code
        == 403
    )


def test_importing_the_app_loads_no_torch() -> None:
    code = "import sys, mobilabel.api.app, mobilabel.cli.serve; assert 'torch' not in sys.modules, 'torch loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)
