"""Object-storage URIs (``s3://bucket/key``) as paths: one type for every image the pipeline names.

An object's key reads like a path (its name, suffix and parent are the key's), so the walk, the
labeller, filters and exports handle a photo in a bucket as they handle one on disk. ``ObjectPath``
is a ``PosixPath`` whose text (``str``, ``os.fspath``, what the database stores) is the URI; it is
never opened through the file system (``object_store`` reads it). Light: no client imported here.

A URI is refused (``ObjectUriError``) unless every part of its key is a plain name: no empty part
(``//``), no ``.`` or ``..``, no NUL byte. Some stores (SeaweedFS among them) normalise such keys
as paths, so ``s3://b/photos/../private/x.jpg`` could read outside an allowed ``s3://b/photos``.
"""

from __future__ import annotations

import os
from pathlib import Path, PosixPath
from typing import Any

from .errors import MobilabelError

SCHEME = "s3://"


class ObjectUriError(MobilabelError):
    """A text that starts like an object URI but names no object or prefix we accept."""


class ObjectPath(PosixPath):
    """``s3://bucket/key`` as a path: ``/bucket/key`` underneath (name, suffix, parent), the URI as text.

    ``fingerprint`` is the object's ``ETag:size`` when a listing gave it (no request needed to tell
    whether it changed), else None.
    """

    fingerprint: str | None = None

    def __str__(self) -> str:
        return "s3:/" + super().__str__()

    def __fspath__(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def bucket(self) -> str:
        """The bucket's name."""
        return self.parts[1] if len(self.parts) > 1 else ""

    @property
    def key(self) -> str:
        """The object's key, or a prefix without its trailing slash ("" for the whole bucket)."""
        return "/".join(self.parts[2:])

    def under(self, root: ObjectPath) -> bool:
        """Whether this object or prefix lies under ``root`` (same bucket; ``root``'s key a whole-part prefix:
        ``s3://b/p`` holds ``s3://b/p/x`` but not ``s3://b/p-old/x``)."""
        return self.bucket == root.bucket and self.parts[: len(root.parts)] == root.parts


def is_uri(text: str | os.PathLike[Any]) -> bool:
    """Whether ``text`` is written as a URI (``scheme://``) rather than as a path."""
    return "://" in os.fspath(text)


def parse_uri(text: str) -> ObjectPath:
    """``s3://bucket[/key]`` as an ``ObjectPath`` (a trailing ``/`` dropped: a prefix means the same with or without).

    Raises ``ObjectUriError`` for another scheme, no bucket, or a key with an empty, ``.`` or ``..`` part
    or a NUL byte.
    """
    if not text.startswith(SCHEME):
        scheme = text.split("://", 1)[0]
        raise ObjectUriError(f"only s3:// URIs name objects, not {scheme}://")
    rest = text[len(SCHEME) :].removesuffix("/")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ObjectUriError(f"no bucket in {text!r}: write s3://BUCKET/PREFIX")
    parts = key.split("/") if key else []
    if "\0" in text or any(part in ("", ".", "..") for part in parts):
        raise ObjectUriError(f"{text!r} is not a plain object key: no empty, '.' or '..' parts")
    return ObjectPath("/", bucket, *parts)


def source_path(name: str | os.PathLike[str]) -> Path:
    """What a source text names: an ``ObjectPath`` for ``s3://...``, else a local ``Path``; a ``Path`` is kept.

    Raises ``ObjectUriError`` for a URI ``parse_uri`` refuses.
    """
    if isinstance(name, Path):
        return name
    text = os.fspath(name)
    return parse_uri(text) if is_uri(text) else Path(text)
