"""The one text form of every stored path: file names that are not UTF-8 kept exactly.

Linux allows any bytes but ``/`` and NUL in a name (an old Latin-1 camera writes
``caf\\xe9.jpg``); Python hands such a name over as a str holding lone surrogates
(``os.fsdecode``'s surrogateescape), which no database driver can encode. So:

- a path that is valid UTF-8 is stored unchanged;
- any other is stored as ``bytes:`` followed by the path with each byte that is not
  UTF-8 written ``\\xNN`` (lower-case hex) and each backslash doubled, e.g.
  ``bytes:/photos/caf\\xe9.jpg``. Decoding gives back the original bytes exactly
  (``os.fsencode(from_stored(to_stored(p))) == os.fsencode(p)``), and the form is what
  ``results``, ``jobs`` and the logs show: readable, and exact.

No real name can collide with an encoded one: every stored path is absolute, so it
starts with ``/``, and an encoded form never does (encoding a relative path is
refused). Valid UTF-8 text is passed through unchecked either way, because the same
column type also binds the text of comparisons (``LIKE`` patterns, ``IN`` lists).
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import JSON, Dialect, Text, TypeDecorator

ENCODED_PREFIX = "bytes:"

# Lone surrogates U+DC80..U+DCFF are the bytes 0x80..0xFF that surrogateescape could not decode.
_UNSTORABLE = re.compile("[\\\\\udc80-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# In an encoded form a backslash starts ``\\`` or ``\xNN``; anything else after it is malformed.
_ESCAPE = re.compile(r"\\(\\|x[89a-f][0-9a-f])?")


def is_storable(text: str) -> bool:
    """Whether ``text`` is valid Unicode that every database can store as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_stored(path: str | os.PathLike[str]) -> str:
    """The text stored for ``path``: itself if it is valid UTF-8, else its ``bytes:`` form.

    Raises ValueError for a relative path that needs encoding (its form could equal a real name).
    """
    text = os.fspath(path)
    if is_storable(text):
        return text
    if not text.startswith("/"):
        raise ValueError(f"stored paths are absolute; cannot store {printable(text)!r}")
    stored = ENCODED_PREFIX + _UNSTORABLE.sub(_escape_one, text)
    if not is_storable(stored):  # a surrogate no file name can hold: not a path from the OS
        raise ValueError(f"not a file system path: {printable(text)!r}")
    return stored


def from_stored(stored: str) -> str:
    """The path as the OS gives it (a str, with surrogates for non-UTF-8 bytes), from its stored text.

    Raises ValueError for a ``bytes:`` form with an escape that encoding never writes.
    """
    if not stored.startswith(ENCODED_PREFIX):
        return stored
    return _ESCAPE.sub(_unescape_one, stored[len(ENCODED_PREFIX) :])


def printable(text: str) -> str:
    """``text`` with any undecodable byte written ``\\xNN``: for messages (errors, logs), not reversible."""
    return text if is_storable(text) else _SURROGATE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char) - 0xDC00:02x}" if "\udc80" <= char <= "\udcff" else f"\\u{ord(char):04x}"


def _unescape_one(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None:
        raise ValueError(f"malformed stored path: a backslash must start \\\\ or \\x80..\\xff, at {match.string!r}")
    return "\\" if escape == "\\" else chr(0xDC00 + int(escape[1:], 16))


class StoredPath(TypeDecorator[str]):
    """A Text column holding a path in the stored form; Python sees the OS path.

    Paths compare byte by byte in both databases: SQLite's default, and on PostgreSQL the
    collation "C" (migration 0010), so that a folder's paths are one range of a path index.
    """

    impl = Text().with_variant(Text(collation="C"), "postgresql")
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else to_stored(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else from_stored(value)


class StoredPathList(TypeDecorator[list[str]]):
    """A JSON list of paths, each in the stored form."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else [to_stored(p) for p in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else [from_stored(p) for p in value]
