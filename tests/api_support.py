"""Helpers of the API tests: an app on this test's database, with settings from the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from mobilabel.api.app import create_app
from mobilabel.config import load_settings

ClientFactory = Callable[..., TestClient]
# A Host the server answers without MOBILABEL_ALLOWED_HOSTS (TestClient's own, "testserver", it refuses).
BASE_URL = "http://localhost"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """``api(MOBILABEL_X="...")``: a started TestClient of a new app, with those settings set."""
    with ExitStack() as stack:

        def make(**env: str) -> TestClient:
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            return stack.enter_context(TestClient(create_app(load_settings()), base_url=BASE_URL))

        yield make
