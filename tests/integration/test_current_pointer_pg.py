"""The maintained current row against the rule (tests/unit/test_current_pointer.py), on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.unit.test_current_pointer import *  # noqa: F403 (the same tests, collected here too)

pytestmark = pytest.mark.integration


@pytest.fixture
def db_url(postgres_url: str) -> str:  # replaces the SQLite file of the unit module
    return postgres_url
