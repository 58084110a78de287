"""Counts in words: "1 image", "2 images", the one way every message that counts things says so."""

from __future__ import annotations


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` and the noun that agrees with it: "1 image", "0 images", "3 images"; ``plural`` for a noun
    that does not take an s ("1 copy", "2 copies")."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
