"""Each image's current result row: what `results` (and the HTTP API) show by default.

Of the rows of one image path, the current one is the first in this order:
1. rows of the file's newest content first (a row whose content hash differs from that of
   the path's most recently written row describes the file before an edit);
2. labelled before failed;
3. the active model version's row first;
4. then the newest model version's.
So an image shows the active version's label if it labelled it, else the label of the
newest version that did, else its failure.

The rule is not evaluated when reading: ``results.is_current`` marks the current row of
each path, and every change that can move it (a write, an activation or rollback, a
deletion) calls ``refresh_current`` for the paths it touched, in its own transaction. So a
page of current rows is an index range on the partial indexes ``WHERE is_current``
(migration 0009), not a window over every row (0.2-3 s a page at 100k images).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, exists, func, literal_column, select, text, true, update
from sqlalchemy.orm import Session

from .database import rows_changed
from .pathcodec import to_stored
from .states import ResultStatus
from .tables import ModelVersion, Result

_PATHS_PER_STATEMENT = 1000
# PostgreSQL advisory lock keys: the one-bigint key (every path) and the two-int4 space (one path) never overlap.
_EVERY_PATH_KEY = 0x6D6F62696C6162  # "mobilab"
_ONE_PATH_SPACE = 0x6D6C  # "ml"
# Path locks are taken per bucket of the path's hash: a transaction holds at most this many, where one per path
# ran a batch of 20,000 paths out of PostgreSQL's shared lock table ("out of shared memory", max_locks_per_transaction:
# 64 per connection by default). Two writers of different paths in one bucket wait for each other's commit.
_PATH_BUCKETS = 1024


def lock_paths(session: Session, paths: Sequence[str]) -> None:
    """Before writing rows of ``paths``: wait for any other transaction changing their current rows.

    PostgreSQL runs writers side by side, and two jobs writing one image with two versions
    would each see only its own new row and both mark it current. So each writer holds a
    transaction lock per bucket of its paths (``_PATH_BUCKETS``, taken in one order, so two writers never
    deadlock) and a shared lock that ``lock_every_path`` excludes. SQLite has one writer at a time: nothing to do.
    """
    if session.get_bind().dialect.name != "postgresql" or not paths:
        return
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _EVERY_PATH_KEY})
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:space, h) FROM "
            "(SELECT DISTINCT hashtext(p) & :last AS h FROM unnest(CAST(:paths AS text[])) AS p ORDER BY h) AS hashed"
        ),
        {"space": _ONE_PATH_SPACE, "last": _PATH_BUCKETS - 1, "paths": sorted({to_stored(p) for p in paths})},
    )


def lock_every_path(session: Session) -> None:
    """Before a change that can move the current row of any image (an activation, a deletion):
    wait for the writers in flight, and hold new ones until this transaction ends (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVERY_PATH_KEY})


def refresh_current(session: Session, paths: Sequence[str] | Select[Any] | None) -> None:
    """Set ``is_current`` right on every row of ``paths`` (a list, a SELECT of one path column,
    or None: every path, as migration 0009's backfill does).

    One UPDATE per statement's worth of paths that flips only the rows whose flag is wrong,
    so an unchanged image costs no write. Call it in the transaction that changed the rows.
    """
    if paths is None or isinstance(paths, Select):
        _flip_wrong(session, paths)
        return
    for start in range(0, len(paths), _PATHS_PER_STATEMENT):
        _flip_wrong(session, list(paths[start : start + _PATHS_PER_STATEMENT]))


def hand_over(session: Session, arriving: str, leaving: str | None) -> None:
    """Current rows right after ``arriving`` became the active version in place of ``leaving`` (None: none was
    active), its rows having been written current in this transaction (``results.insert_results``): each is its
    image's current row by the rule (the newest written, labelled, of the active version), so the images' other
    rows only lose the flag; the rule is evaluated (``refresh_current``) only for the images of ``leaving`` that
    ``arriving`` has no row of. At a million images, where ranking every row of both versions took half a minute."""
    arrived = select(Result.image_path).where(Result.model_version_id == arriving)
    session.execute(
        update(Result)
        .where(Result.is_current, Result.model_version_id != arriving, Result.image_path.in_(arrived))
        .values(is_current=False),
        execution_options={"synchronize_session": False},
    )
    if leaving is not None:
        newer = Result.__table__.alias("newer")
        has_arrived = exists().where(newer.c.image_path == Result.image_path, newer.c.model_version_id == arriving)
        refresh_current(session, select(Result.image_path).where(Result.model_version_id == leaving, ~has_arrived))


def delete_results(session: Session, condition: ColumnElement[bool]) -> int:
    """Delete the result rows matching ``condition``, and give their images their next current row.

    Works through the affected paths a thousand at a time, in path order, so memory stays
    flat whatever the number of rows. Returns the number of rows deleted.
    """
    lock_every_path(session)
    deleted = 0
    after: str | None = None
    while True:
        chunk = select(Result.image_path).distinct().where(condition).order_by(Result.image_path).limit(_PATHS_PER_STATEMENT)
        if after is not None:
            chunk = chunk.where(Result.image_path > after)
        paths = list(session.scalars(chunk))
        if not paths:
            return deleted
        deleted += rows_changed(session.execute(delete(Result).where(condition, Result.image_path.in_(paths))))
        _flip_wrong(session, paths)
        after = paths[-1]


def _flip_wrong(session: Session, paths: list[str] | Select[Any] | None) -> None:
    """Flip ``is_current`` on the rows of ``paths`` (as ``refresh_current`` takes them) whose flag disagrees with
    the rule, in one UPDATE.

    A list (a batch of a writer's images) is looked up path by path, each row's current id found by the
    (image path, version) index: a few milliseconds whatever the table's size or statistics. A SELECT of paths
    (an activation's thousands of images) is ranked set-based, in one pass sorted by path (``_ranked``), where the
    look-up per row cost PostgreSQL over a second (JIT compiling the plan included) at 40,000 rows, and three
    times a batch's look-ups at 32 images. (UPDATE ... FROM needs SQLite 3.33, of 2020: python:3.11-slim, the
    images' base, carries 3.40.)"""
    dialect = session.get_bind().dialect.name
    if isinstance(paths, list):
        should_be = Result.id == _current_id_of(Result.image_path, dialect)
        flip = update(Result).where(Result.image_path.in_(paths), Result.is_current != should_be)
    else:
        ranked = _ranked(dialect, paths)
        flip = update(Result).where(Result.id == ranked.c.id, Result.is_current != (ranked.c.rank == 1))
    session.execute(flip.values(is_current=~Result.is_current), execution_options={"synchronize_session": False})


def _current_id_of(image_path: Any, dialect: str) -> Any:
    """The id of the current row of the path ``image_path`` (a correlated column): the rule above,
    as one ORDER BY ... LIMIT 1 over the path's few rows, which the (image path, version) index finds."""
    candidate = Result.__table__.alias("candidate")
    newest = Result.__table__.alias("newest")
    newest_hash = (
        select(newest.c.content_hash)
        .where(newest.c.image_path == candidate.c.image_path)
        .order_by(newest.c.updated_at.desc(), newest.c.id.desc())
        .limit(1)
        .correlate(candidate)
        .scalar_subquery()
    )
    return (
        select(candidate.c.id)
        .where(candidate.c.image_path == image_path)
        .order_by(*_rule_order(candidate.c, newest_hash, dialect))
        .limit(1)
        .correlate(Result.__table__)
        .scalar_subquery()
    )


def _ranked(dialect: str, paths: Select[Any] | None) -> Any:
    """(id, rank) of every row of ``paths`` (None: every path): rank 1 is its path's current row by the rule above."""
    stored = Result.__table__.alias("stored")
    newest_hash = func.first_value(stored.c.content_hash).over(
        partition_by=stored.c.image_path, order_by=(stored.c.updated_at.desc(), stored.c.id.desc())
    )
    columns = (stored.c.id, stored.c.image_path, stored.c.content_hash, stored.c.status, stored.c.model_version_id)
    candidate = (
        select(*columns, newest_hash.label("newest_hash"))
        .where(true() if paths is None else stored.c.image_path.in_(paths))
        .subquery("candidate")
    )
    rank = func.row_number().over(
        partition_by=candidate.c.image_path, order_by=_rule_order(candidate.c, candidate.c.newest_hash, dialect)
    )
    return select(candidate.c.id, rank.label("rank")).subquery("ranked")


def _rule_order(candidate: Any, newest_hash: Any, dialect: str) -> tuple[Any, ...]:
    """The rule above as an ORDER BY over the rows of one path: ``candidate``, the columns of a FROM named
    ``candidate``; ``newest_hash``, the content hash of the path's most recently written row."""
    active = select(ModelVersion.id).where(ModelVersion.active.is_(True)).scalar_subquery()
    # Unknown on either side (a file that could not be read) counts as the same content.
    same_content = func.coalesce(candidate.content_hash == newest_hash, true())
    version_created: Any = select(ModelVersion.created_at).where(ModelVersion.id == candidate.model_version_id).scalar_subquery()
    if dialect == "sqlite":
        # SQLite looks a version up by its primary key and reads created_at from the row, stored
        # after the checkpoint blob: megabytes of overflow pages per row ranked, many times slower than
        # from the index, and `mobilabel label` lost a third of its speed (docs/benchmarks/recorded.md).
        version_created = literal_column(
            "(SELECT mv.created_at FROM model_versions AS mv INDEXED BY ix_model_versions_id_created_at"
            " WHERE mv.id = candidate.model_version_id)"
        )
    return (
        _first(same_content),
        _first(candidate.status == ResultStatus.OK),
        _first(candidate.model_version_id == active),
        version_created.desc(),
        candidate.id.desc(),
    )


def _first(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 0), else_=1)
