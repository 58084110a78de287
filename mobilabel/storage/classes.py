"""The user's own classes, written: added, renamed, merged, retired and restored.

A class is a name answers use (``corrections.label``). Renaming or merging rewrites the standing
answers that used it, so no answer is lost; the answer history keeps what was answered at the
time. ``other`` (none of my classes: trained on as its own outcome) and ``skip`` (not sure: not
trained on) are answers every library has, never classes of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..errors import MobilabelError
from .database import rows_changed
from .filters import nearest_hint
from .tables import Correction, LabelClass, utcnow
from .upsert import upsert

OTHER = "other"  # none of my classes: trained on as its own outcome, so the model learns to say it
SKIP = "skip"  # not sure: not trained on, offered again once a new version is active or a week has passed
RESERVED = (OTHER, SKIP)
_LISTED = 20


class ClassError(MobilabelError):
    """A class name that cannot be added, renamed, merged, retired or restored as asked; the message says why."""


class UnknownClassError(ClassError, LookupError):
    """No class has the name; the message lists them and the nearest."""


class ClassExistsError(ClassError):
    """The name is a class already (to add or rename to)."""


def checked_name(name: str) -> str:
    """``name`` without surrounding blanks; raises ``ClassError`` for an empty or reserved one."""
    name = name.strip()
    if not name:
        raise ClassError("a class name cannot be empty")
    if name.casefold() in RESERVED:
        raise ClassError(
            f"{name!r} is a reserved answer, not a class: {OTHER} (none of my classes) and {SKIP} (not sure) exist already"
        )
    return name


def add_class(session: Session, name: str) -> str:
    """Create the class ``name``; returns it as stored. Raises ``ClassError`` if it exists (or is retired: restore it)."""
    name = checked_name(name)
    existing = _find(session, name)
    if existing is not None:
        hint = f"; `mobilabel classes restore {name}` brings it back" if existing.retired_at else ""
        raise ClassExistsError(f"class {name!r} exists already{hint}")
    session.add(LabelClass(name=name))
    session.flush()
    return name


def ensure_classes(session: Session, names: Iterable[str]) -> None:
    """Create whichever of ``names`` (answers' labels, reserved ones aside) are not classes yet."""
    now = utcnow()
    rows = [{"name": n, "created_at": now} for n in sorted(set(names) - set(RESERVED))]
    upsert(session, LabelClass, rows, keys=("name",), update=())


def rename_class(session: Session, old: str, new: str) -> int:
    """Rename class ``old`` to ``new``, with every standing answer that used it; returns those answers.

    Raises ``ClassError`` for an unknown ``old`` (with the nearest name) or a ``new`` that exists (merge instead).
    """
    found = _existing(session, old)
    new = checked_name(new)
    if _find(session, new) is not None:
        raise ClassExistsError(
            f"class {new!r} exists already; to put the answers of {old!r} into it: mobilabel classes merge {old} --into {new}"
        )
    found.name = new
    return _relabel(session, [old], new)


def merge_classes(session: Session, sources: Sequence[str], into: str) -> int:
    """Move every answer of the classes ``sources`` into class ``into`` and remove the sources; returns the answers moved.

    Raises ``ClassError`` for a class that does not exist, or ``into`` among the sources.
    """
    target = _existing(session, into)
    if target.name in sources:
        raise ClassError(f"cannot merge {into!r} into itself")
    for source in sources:
        _existing(session, source)
    moved = _relabel(session, sources, target.name)
    session.execute(delete(LabelClass).where(LabelClass.name.in_(sources)))
    return moved


def retire_class(session: Session, name: str) -> None:
    """Retire class ``name``: its answers stay, neither trained on nor offered. Raises ``ClassError`` if unknown."""
    found = _existing(session, name)
    if found.retired_at is None:
        found.retired_at = utcnow()


def restore_class(session: Session, name: str) -> None:
    """Bring a retired class back. Raises ``ClassError`` if unknown."""
    _existing(session, name).retired_at = None


def _relabel(session: Session, sources: Sequence[str], target: str) -> int:
    return rows_changed(session.execute(update(Correction).where(Correction.label.in_(sources)).values(label=target)))


def _find(session: Session, name: str) -> LabelClass | None:
    found: LabelClass | None = session.scalars(select(LabelClass).where(LabelClass.name == name)).first()
    return found


def _existing(session: Session, name: str) -> LabelClass:
    found = _find(session, name)
    if found is None:
        names = list(session.scalars(select(LabelClass.name).order_by(LabelClass.name)))
        listed = (
            ", ".join(names[:_LISTED]) + (", ..." if len(names) > _LISTED else "")
            if names
            else "none yet (mobilabel classes add NAME)"
        )
        raise UnknownClassError(f"no class {name!r}{nearest_hint(name, set(names))}; the classes: {listed}")
    return found
