"""Structured logs: one JSON object a line, extra fields kept, passwords masked."""

from __future__ import annotations

import json
import logging

import pytest

from mobilabel.logs import JsonFormatter, mask_secrets


def test_a_batch_line_carries_its_fields() -> None:
    record = logging.LogRecord("mobilabel.worker", logging.INFO, __file__, 1, "batch labelled", (), None)
    record.__dict__.update({"job": 3, "version": "v1", "images": 32})
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["message"], entry["job"], entry["version"], entry["images"], entry["level"]) == (
        "batch labelled",
        3,
        "v1",
        32,
        "INFO",
    )


@pytest.mark.parametrize(
    "text, masked",
    [
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("cannot reach postgresql://bob:pa:ss@db/x now", "cannot reach postgresql://bob:***@db/x now"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
    ],
)
def test_urls_never_show_a_password(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "broker %s down", (text,), None)
    assert "s3cret" not in JsonFormatter().format(record) and "pa:ss" not in JsonFormatter().format(record)
