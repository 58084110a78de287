"""What a browser or a guesser meets: the Host check against DNS rebinding, the security headers,
login sessions that rotate and die, the throttle on wrong tokens, and the token a public bind needs."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mobilabel.api.middleware.sessions import FIRST_BLOCK_S, MAX_BLOCK_S
from mobilabel.cli.main import cli
from tests.api_support import ClientFactory

TOKEN = "a-token-long-enough-for-a-public-bind-0123456789"


class FakeClock:
    """Time the test moves by hand, so expiry and blocks are tested without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def clocked(client: TestClient) -> FakeClock:
    clock = FakeClock()
    guard = client.app.state.guard  # type: ignore[attr-defined]
    guard.sessions.clock = guard.throttle.clock = clock
    return clock


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8011", "127.0.0.1", "127.0.0.1:9", "[::1]", "[::1]:8000", "LOCALHOST:1"]
)
def test_loopback_names_are_answered(api: ClientFactory, host: str) -> None:
    assert api().get("/api/jobs", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8011", "127.0.0.1.evil.example", "localhost.evil.example", "[::2]", "10.0.0.1", ""]
)
def test_a_rebound_name_is_refused_on_every_method(api: ClientFactory, host: str) -> None:
    client = api()
    for method, path in (
        ("GET", "/api/jobs"),
        ("GET", "/healthz"),
        ("GET", "/ui/"),
        ("POST", "/api/jobs"),
        ("PUT", "/api/corrections"),
    ):
        answer = client.request(method, path, headers={"Host": host, "Origin": f"http://{host}"}, json={})
        assert answer.status_code == 400, (method, path, host, answer.status_code)


def test_hosts_the_operator_lists_are_answered(api: ClientFactory) -> None:
    client = api(MOBILABEL_ALLOWED_HOSTS="labels.example.org, *.lan")
    for host, status in (
        ("labels.example.org", 200),
        ("labels.example.org:443", 200),
        ("nas.lan", 200),
        ("evil.example", 400),
        ("localhost", 200),
    ):
        assert client.get("/api/jobs", headers={"Host": host}).status_code == status, host


def test_with_a_token_any_host_unless_hosts_are_listed(api: ClientFactory) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert api(MOBILABEL_API_TOKEN=TOKEN).get("/api/jobs", headers={**bearer, "Host": "203.0.113.7:8000"}).status_code == 200
    listed = api(MOBILABEL_API_TOKEN=TOKEN, MOBILABEL_ALLOWED_HOSTS="labels.example.org")
    assert listed.get("/api/jobs", headers={**bearer, "Host": "203.0.113.7:8000"}).status_code == 400
    assert listed.get("/api/jobs", headers={**bearer, "Host": "labels.example.org"}).status_code == 200


def test_a_host_setting_with_a_port_or_scheme_is_refused_at_start(api: ClientFactory) -> None:
    result = CliRunner(env={"MOBILABEL_ALLOWED_HOSTS": "https://labels.example.org:443"}).invoke(cli, ["jobs"])
    assert result.exit_code == 2 and "MOBILABEL_ALLOWED_HOSTS" in result.output and "not a host name" in result.output


def test_security_headers_on_the_page_the_api_and_refusals(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    for path in ("/ui/", "/ui/app.js", "/api/jobs", "/healthz", "/openapi.json"):
        headers = client.get(path).headers  # 200 for the page, 401 for the rest: refusals carry them too
        csp = headers["content-security-policy"]
        assert csp.startswith("default-src 'self';") and "frame-ancestors 'none'" in csp and "unsafe" not in csp, path
        assert (headers["x-frame-options"], headers["x-content-type-options"], headers["referrer-policy"]) == (
            "DENY",
            "nosniff",
            "no-referrer",
        ), path
    assert client.get("/", headers={"Host": "evil.example"}).headers["x-frame-options"] == "DENY"


def test_the_docs_page_allows_its_own_inline_script_only(api: ClientFactory) -> None:
    page = api().get("/docs")
    csp = page.headers["content-security-policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src")).split()
    assert script_src == ["script-src", "'self'", f"'sha256-{digest}'"]
    assert "frame-ancestors 'none'" in csp and page.headers["x-frame-options"] == "DENY"


def test_a_session_is_new_at_each_login_and_dies_at_logout_or_expiry(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN, MOBILABEL_SESSION_TTL_S="3600")
    clock = clocked(client)

    def login(previous: str = "") -> str:
        client.cookies.clear()
        answer = client.post(
            "/api/session", json={"token": TOKEN}, headers={"Cookie": f"mobilabel_session={previous}"} if previous else {}
        )
        assert answer.status_code == 204
        session_id = answer.cookies["mobilabel_session"]
        client.cookies.clear()
        return session_id

    def jobs(session_id: str) -> int:
        return client.get("/api/jobs", headers={"Cookie": f"mobilabel_session={session_id}"}).status_code

    first = login()
    assert TOKEN not in first and len(first) >= 43 and jobs(first) == 200
    second = login(previous=first)
    assert second != first and jobs(second) == 200
    assert jobs(first) == 401, "the session before the login ended with it"
    assert client.delete("/api/session", headers={"Cookie": f"mobilabel_session={second}"}).status_code == 204
    assert jobs(second) == 401, "a cookie kept after logout opens nothing"
    third = login()
    clock.now += 3599
    assert jobs(third) == 200
    clock.now += 2
    assert jobs(third) == 401, "expired"
    assert len({first, second, third, login()}) == 4


@pytest.mark.parametrize("way", ["bearer", "login"])
def test_wrong_tokens_are_throttled_doubling_to_five_minutes(api: ClientFactory, way: str) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    clock = clocked(client)

    def attempt(token: str) -> tuple[int, str | None]:
        if way == "bearer":
            answer = client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
        else:
            answer = client.post("/api/session", json={"token": token})
        return answer.status_code, answer.headers.get("retry-after")

    blocks = []
    for _ in range(6):
        answers = [attempt("guess") for _ in range(5)]
        assert [status for status, _ in answers[:4]] == [401] * 4 and answers[4][0] == 429
        blocks.append(int(answers[4][1] or 0))
        assert attempt(TOKEN)[0] == 429, "blocked even with the right token"
        clock.now += blocks[-1] - 1
        assert attempt(TOKEN) == (429, "1")
        clock.now += 1
    assert blocks == [FIRST_BLOCK_S, 2 * FIRST_BLOCK_S, 4 * FIRST_BLOCK_S, 8 * FIRST_BLOCK_S, MAX_BLOCK_S, MAX_BLOCK_S]
    assert attempt(TOKEN)[0] in (200, 204)
    assert [attempt("guess")[0] for _ in range(5)][-1] == 429 and attempt(TOKEN)[1] == str(int(FIRST_BLOCK_S)), (
        "a right token starts the doubling again"
    )
    clock.now += FIRST_BLOCK_S
    for _ in range(4):  # failures spread over more than a minute never block
        assert attempt("guess")[0] == 401
        clock.now += 20
    assert attempt("guess")[0] == 401


def test_a_session_cookie_passes_while_its_address_is_blocked(api: ClientFactory) -> None:
    client = api(MOBILABEL_API_TOKEN=TOKEN)
    clocked(client)
    assert client.post("/api/session", json={"token": TOKEN}).status_code == 204
    statuses = [client.get("/api/jobs", headers={"Authorization": "Bearer guess"}).status_code for _ in range(5)]
    assert statuses[-1] == 429
    assert client.get("/api/jobs").status_code == 200  # the page logged in already keeps working
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}  # a reverse proxy's own login, passed on: not a token tried
    assert client.get("/api/jobs", headers=basic).status_code == 200
    client.cookies.clear()
    assert client.get("/api/jobs", headers=basic).status_code == 401


@pytest.mark.parametrize("token", ["x", " ", " " * 40, "short-token-of-31-characters-xx"])
def test_a_public_bind_needs_a_token_of_32_characters(token: str) -> None:
    result = CliRunner(env={"MOBILABEL_API_TOKEN": token}).invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(
        f"Error: refusing to listen on 0.0.0.0 with a {len(token.strip())}-character token: MOBILABEL_API_TOKEN needs at least 32"
    )
