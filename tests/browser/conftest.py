"""The review page's browser tests: one `mobilabel serve` per test over a copy of one prepared
database (the flowers labelled by ImageNet, then by a 1-epoch flowers model, made once per session),
Debian's Chromium driven by Playwright at a desktop size and at a phone's 390 px, and an axe-core
scan that every view must pass without serious or critical violations.

Every page also records Content-Security-Policy violations and script errors; a test fails on any.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.conftest import FLOWERS, IMAGENET_WEIGHTS, REPO

CHROMIUM = "/usr/bin/chromium"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"  # `npm ci` installs it (.ci/run does)
PER_CLASS = 6  # 5 classes x 6 photos: small enough to train on in seconds
SIZES = {"desktop": {"width": 1366, "height": 850}, "phone": {"width": 390, "height": 844}}
_WATCH = """
window.__problems = [];
document.addEventListener("securitypolicyviolation", (e) => window.__problems.push(`CSP blocked ${e.violatedDirective}: ${e.blockedURI}`));
"""


def clean_env(**settings: str) -> dict[str, str]:
    """The environment of a child process: no MOBILABEL_ setting from outside, these instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILABEL_") or k in ("MOBILABEL_SHARED",)}
    return env | {"MOBILABEL_PRETRAINED": str(IMAGENET_WEIGHTS)} | settings


def mobilabel(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mobilabel", *args], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass(frozen=True)
class Prepared:
    data: Path  # <class>/<photo>.jpg
    home: Path
    database: Path


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """A copy (not links: the server resolves paths against its allowed roots) of a few flowers per
    class, labelled by ImageNet, trained on for 1 epoch, and labelled again by that version."""
    root = tmp_path_factory.mktemp("prepared")
    data = root / "data"
    for folder in sorted((FLOWERS / "train").iterdir()):
        (data / folder.name).mkdir(parents=True)
        for photo in sorted(folder.glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(photo, data / folder.name / photo.name)
    made = Prepared(data, root / "home", root / "mobilabel.db")
    env = clean_env(MOBILABEL_HOME=str(made.home), MOBILABEL_DATABASE_URL=f"sqlite:///{made.database}")
    mobilabel(env, "label", str(data))
    mobilabel(env, "train", str(data), "--epochs", "1", "--val-fraction", "0.34", "--force")
    mobilabel(env, "label", str(data))
    return made


@dataclass(frozen=True)
class Server:
    base: str
    data: Path  # the prepared photos (under the allowed roots when they are set)
    extra: Path  # an empty folder of this test's, also under the allowed roots
    env: dict[str, str]  # the server's settings, for `mobilabel` commands on the same database

    def get(self, path: str, /, **params: Any) -> Any:  # positional: a query may hold a `path` filter
        answer = httpx.get(self.base + path, params=params, headers=self.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(self.base + path, json=body, headers=self.headers, timeout=30)
        assert answer.status_code in (200, 201, 202), answer.text
        return answer.json()

    def put(self, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.put(self.base + path, json=body, headers=self.headers, timeout=30)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    @property
    def headers(self) -> dict[str, str]:
        token = self.env.get("MOBILABEL_API_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}


ServerFactory = Callable[..., Server]


@pytest.fixture
def serve(prepared: Prepared, tmp_path: Path) -> Iterator[ServerFactory]:
    """``serve(roots=True, token="", bucket_roots=(), **more)``: `mobilabel serve` on a fresh copy of the prepared
    database, allowed to serve the prepared photos, this test's ``extra`` folder and ``bucket_roots`` (s3:// URIs)
    unless ``roots`` is False; ``more``: further environment (the AWS variables of a store)."""
    processes: list[subprocess.Popen[str]] = []

    def start(roots: bool = True, token: str = "", bucket_roots: tuple[str, ...] = (), **more: str) -> Server:
        home = tmp_path / f"home{len(processes)}"
        shutil.copytree(prepared.home, home)
        database = tmp_path / f"mobilabel{len(processes)}.db"
        shutil.copy(prepared.database, database)
        extra = tmp_path / "extra"
        extra.mkdir(exist_ok=True)
        # No automatic quick head: a refresh relabelling the library in the background would change what a test's
        # page shows under it (and hold the server's shutdown); tests/unit/training/test_quick.py tests the refresh.
        settings = {
            "MOBILABEL_HOME": str(home),
            "MOBILABEL_DATABASE_URL": f"sqlite:///{database}",
            "MOBILABEL_REFRESH_EVERY": "0",
        }
        if roots:  # entries are comma-separated once one is an s3:// URI
            settings["MOBILABEL_ALLOWED_ROOTS"] = (",".join if bucket_roots else os.pathsep.join)(
                [str(prepared.data), str(extra), *bucket_roots]
            )
        if token:
            settings["MOBILABEL_API_TOKEN"] = token
        env = clean_env(**settings | more)
        port = free_port()
        # Its log goes to a file: a pipe nobody reads would block the server once 64 KiB of log filled it.
        log_path = tmp_path / f"serve{len(processes)}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "mobilabel", "serve", "--port", str(port)], stderr=log, text=True, env=env
        )
        log.close()
        processes.append(process)
        server = Server(f"http://127.0.0.1:{port}", prepared.data, extra, env)
        wait_ready(server, process, log_path)
        return server

    yield start
    for process in processes:
        process.terminate()
        process.wait(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(server: Server, process: subprocess.Popen[str], log: Path) -> None:
    """Poll /readyz until the server answers 200 (it answers once uvicorn has started); ``log``: its stderr."""
    with httpx.Client(base_url=server.base, headers=server.headers) as client:
        for _ in range(300):
            try:
                if client.get("/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:  # waits for the server to exit, at most 0.2 s: a server that died is reported at once
                process.wait(0.2)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"mobilabel serve exited: {log.read_text()}")
    raise AssertionError("mobilabel serve did not become ready")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM)
    yield browser
    browser.close()


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    """Each test runs at a desktop size and at a phone's 390 px."""
    name: str = request.param
    return name


@pytest.fixture
def page(browser: Browser, size: str) -> Iterator[Page]:
    """A new browser page (its own cookies) at this test's size; dialogs (confirm) are accepted. The
    test fails if the page broke its Content-Security-Policy or threw."""
    context = browser.new_context(viewport=SIZES[size], has_touch=size == "phone")
    context.add_init_script(_WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    problems = errors + (page.evaluate("window.__problems || []") if not page.is_closed() else [])
    context.close()
    assert not problems, problems


def axe_violations(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now, one line each."""
    page.evaluate(AXE.read_text())  # evaluated, not a <script>: the page's CSP rightly refuses inline scripts
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def fits_width(page: Page) -> bool:
    """Nothing wider than the window: no sideways scrolling of the page itself (the elements that
    stick out are printed when it fails)."""
    if page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        return True
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(-8).map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"
    )
    print("wider than the window:", wide)
    return False
