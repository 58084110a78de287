"""Keeping every path a client names inside MOBILABEL_ALLOWED_ROOTS: the one check all of them pass.

``confine`` is what the HTTP API applies to each path, folder or URI a request names (and the
labelling of the jobs it creates applies to each file, through ``outside_roots``). Its checks, in
order, each with its own refusal (``PathRefused``, whose ``status`` is the HTTP answer):

1. the name itself: no NUL byte, not longer than PATH_MAX, absolute, not a URI (400 or 422);
2. the roots: none set refuses every path (403 naming the setting); the path with ``..`` and
   every symlink resolved must lie under one (403). This runs before anything is asked of the
   file, and its message is the same whether or not the file exists, so a client learns nothing
   about what lies outside the roots;
3. the file, now known to be inside: it exists (404) and is the kind asked for, a regular file or
   a folder (422): never a FIFO, socket or device, which ``os.stat`` tells without opening it.

An object-storage URI (``s3://bucket/key``) is confined in ``_confine_uri``, the one place that knows
URIs: it must be a plain key (``object_paths.parse_uri``: no ``..``, ``.`` or empty part, 400) under an
allowed ``s3://bucket[/prefix]`` entry, a whole part at a time (``s3://b/p`` allows ``s3://b/p/x``,
not ``s3://b/p-old/x`` nor another bucket; 403 otherwise, the same words whether or not it exists);
a file must then exist in the store (404), which its metadata tells without reading it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import object_store
from .errors import MobilabelError
from .files import file_kind
from .object_paths import SCHEME, ObjectPath, ObjectUriError, parse_uri

SETTING = "MOBILABEL_ALLOWED_ROOTS"
PATH_MAX = 4096  # bytes, Linux's limit on a whole path
# "destination": a folder to write into, which need not exist yet (created under the root).
Kind = Literal["file", "folder", "destination"]


class PathRefused(MobilabelError):
    """A path a client named that may not be used; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def outside_roots(path: Path, roots: Sequence[Path]) -> bool:
    """Whether ``path``, with ``..`` and symlinks resolved, lies outside every allowed root.

    No roots configured means no confinement (the CLI's own use); the API refuses every path then (``confine``).
    """
    if not roots:
        return False
    if isinstance(path, ObjectPath):
        return not any(isinstance(root, ObjectPath) and path.under(root) for root in roots)
    resolved = Path(os.path.realpath(path))
    return not any(resolved.is_relative_to(root) for root in roots)


@dataclass(frozen=True)
class Confinement:
    """The roots a process opens files under for a piece of work: its own (MOBILABEL_ALLOWED_ROOTS) and
    those of the process that created the work (``creator``: the server, for a job or training run
    created over HTTP), which a worker holds to as well. Either side empty confines nothing from that
    side. Picklable, so that training's decode processes ask it too (its ``refusal`` is a ``files.Confine``)."""

    own: tuple[Path, ...] = ()
    creator: tuple[Path, ...] = ()
    work: str = "job"  # what the creator created, named in the reason: "job", "training run"

    @property
    def confines(self) -> bool:
        """Whether any roots apply at all."""
        return bool(self.own or self.creator)

    def whose(self, path: Path) -> str | None:
        """The roots ``path`` (links resolved) lies outside, in words ("the allowed roots (MOBILABEL_ALLOWED_ROOTS)"),
        or None when it may be opened."""
        if outside_roots(path, self.own):
            return f"the allowed roots ({SETTING})"
        if outside_roots(path, self.creator):
            return f"the allowed roots of the server that created the {self.work} (its {SETTING})"
        return None

    def refusal(self, path: Path) -> str | None:
        """Why ``path`` may not be opened, as a file's reason, or None."""
        roots = self.whose(path)
        return None if roots is None else f"path is outside {roots}; not read"


def check_name(name: str) -> None:
    """Refuse a name no path can have: a NUL byte, or more than PATH_MAX bytes. Raises ``PathRefused`` (400)."""
    if "\0" in name:
        raise PathRefused(400, "a path may not contain a NUL byte")
    if len(name.encode("utf-8", "surrogateescape")) > PATH_MAX:
        raise PathRefused(400, f"a path may not be longer than {PATH_MAX} bytes")


def require_roots(roots: Sequence[Path]) -> None:
    """Refuse every path while no roots are set. Raises ``PathRefused`` (403) naming the setting."""
    if not roots:
        raise PathRefused(403, f"no paths are allowed: set {SETTING} on the server to the folders it may read")


def confine(name: str, roots: Sequence[Path], kind: Kind = "file") -> Path:
    """The real path (``..`` and symlinks resolved) of the file or folder ``name`` names, once it is known
    to lie under one of ``roots`` and to be a regular file (``kind="file"``) or a folder.

    Raises ``PathRefused`` with the status that says why: 400 for a NUL byte, an over-long name or a
    URI; 422 for a relative path or the wrong kind of file; 403 with no roots set or outside them
    (the same words whether or not the file exists); 404 when it does not exist.
    """
    check_name(name)
    if "://" in name:
        return _confine_uri(name, roots, kind)
    if not os.path.isabs(name):
        raise PathRefused(422, f"give an absolute path on the server, not {name!r}")
    require_roots(roots)
    if outside_roots(Path(name), roots):
        raise PathRefused(403, f"{name} is outside the allowed roots ({SETTING})")
    real = Path(os.path.realpath(name))
    try:
        mode = os.stat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):
        if kind == "destination":
            return real
        raise PathRefused(404, f"not found: {name}") from None
    except OSError as exc:
        raise PathRefused(403, f"cannot be read: {name} ({exc.strerror or exc})") from None
    wanted = stat.S_ISREG(mode) if kind == "file" else stat.S_ISDIR(mode)
    kind = "folder" if kind == "destination" else kind
    if not wanted:
        raise PathRefused(
            422, f"not a {'regular file' if kind == 'file' else 'folder'}: {name} is {file_kind(mode) or 'a regular file'}"
        )
    return real


def check_pattern(pattern: str) -> str:
    """``pattern``, a filter over stored paths (``*`` and ``?``), once it is known to be one a path could match.

    A pattern opens nothing and only narrows what listing the results shows in full anyway, so it is
    not held to the roots; it is refused (``PathRefused``, 400) for what no path can hold, as ``confine``
    refuses it: a NUL byte, more than PATH_MAX bytes, or a URI while none is allowed.
    """
    check_name(pattern)
    if "://" in pattern and not pattern.startswith(SCHEME):
        raise PathRefused(400, f"only paths and s3:// URIs are stored, not URIs such as {pattern.split('://')[0]}://")
    return pattern


def _confine_uri(name: str, roots: Sequence[Path], kind: Kind) -> Path:
    try:
        path = parse_uri(name)
    except ObjectUriError as exc:
        raise PathRefused(400, str(exc)) from None
    require_roots(roots)
    if outside_roots(path, roots):
        raise PathRefused(403, f"{name} is outside the allowed roots ({SETTING})")
    if kind == "file":
        try:
            object_store.head(path)
        except object_store.ObjectGoneError:
            raise PathRefused(404, f"not found: {name}") from None
        except object_store.ObjectStoreError as exc:
            raise PathRefused(503, f"{name}: {exc}") from None
    elif kind == "destination":
        raise PathRefused(422, f"give a folder on the server to write into, not {name}")
    return path
