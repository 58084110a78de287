"""Stored embeddings, read (``embedding_writes`` writes them): as float32 arrays, with the results they belong to.

The API other parts build on (quick heads, likely mistakes, near duplicates):
- ``load_embeddings``: the embeddings of given contents under one backbone;
- ``library_chunk`` / ``iter_library_embeddings``: every labelled image of the library (its current ok row) whose content
  has an embedding under the backbone, a chunk at a time (memory stays flat at a million images);
- ``library_embeddings``: the same as one array;
- ``library_sample``: a bounded sample of the library's embeddings (the quick head's unanswered images);
- ``count_embeddings``: how many contents a backbone has embeddings for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from .embedding_writes import STORED_DTYPE
from .states import ResultStatus
from .tables import Embedding, Result

_HASHES_PER_QUERY = 1000
_NO_LIMIT = 2**63 - 1  # a result id above every other: ``library_chunk`` without ``through``
LIBRARY_CHUNK = 20_000  # images per chunk of ``iter_library_embeddings``: 100 MB of float32 at D = 1280


def to_array(vectors: Sequence[bytes]) -> np.ndarray:
    """Stored vectors as one float32 array (N, D); (0, 0) when there are none.

    Raises ``ValueError`` if they are not all of one length."""
    if not vectors:
        return np.zeros((0, 0), dtype=np.float32)
    if len({len(v) for v in vectors}) != 1:
        raise ValueError("stored embeddings of one backbone differ in length")
    return np.frombuffer(b"".join(vectors), dtype=STORED_DTYPE).reshape(len(vectors), -1).astype(np.float32)


@dataclass(frozen=True)
class StoredEmbeddings:
    """Embeddings of contents: ``vectors`` (N, D) float32, row i that of ``content_hashes[i]``."""

    content_hashes: list[str]
    vectors: np.ndarray


@dataclass(frozen=True)
class LibraryEmbeddings:
    """Labelled images with their embeddings, row i of ``vectors`` (N, D) float32 that of image i: its current
    result row ``result_ids[i]`` at ``image_paths[i]``, fingerprint ``content_ids[i]``, content ``content_hashes[i]``."""

    result_ids: np.ndarray  # (N,) int64
    image_paths: list[str]
    content_ids: list[str | None]
    content_hashes: list[str]
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.image_paths)


def load_embeddings(session: Session, backbone: str, content_hashes: Sequence[str]) -> StoredEmbeddings:
    """The embeddings stored under ``backbone`` of those of ``content_hashes`` that have one, in the order asked."""
    found: dict[str, bytes] = {}
    wanted = list(dict.fromkeys(content_hashes))
    for start in range(0, len(wanted), _HASHES_PER_QUERY):
        rows = session.execute(
            select(Embedding.content_hash, Embedding.vector).where(
                Embedding.backbone == backbone, Embedding.content_hash.in_(wanted[start : start + _HASHES_PER_QUERY])
            )
        )
        found.update({str(h): bytes(v) for h, v in rows})
    hashes = [h for h in wanted if h in found]
    return StoredEmbeddings(hashes, to_array([found[h] for h in hashes]))


def library_chunk(
    session: Session, backbone: str, after: int = 0, limit: int = LIBRARY_CHUNK, through: int | None = None
) -> LibraryEmbeddings:
    """Up to ``limit`` images whose current row (storage.current) is labelled, with a result id above ``after``
    (and at most ``through``: rows written while paging are not paged again), and whose content has an embedding
    under ``backbone``, in result id order (a keyset page: an index range). Empty when there are no more;
    pass the last ``result_ids`` as ``after`` for the next."""
    # SQLite's planner, not knowing that nearly every row is a current ok one, took the (status, path) index and
    # sorted what it found: every page read and joined every row after it, so a million images read their
    # embeddings about 25 times over. NOT INDEXED leaves it the rowid range, read in order, LIMIT rows and no more.
    hint = " NOT INDEXED" if session.get_bind().dialect.name == "sqlite" else ""
    statement = text(
        "SELECT r.id, r.image_path, r.content_id, r.content_hash, e.vector"
        f" FROM results AS r{hint} JOIN embeddings AS e ON e.backbone = :backbone AND e.content_hash = r.content_hash"
        " WHERE r.is_current AND r.status = :ok AND r.id > :after AND r.id <= :through ORDER BY r.id LIMIT :limit"
    ).columns(Result.id, Result.image_path, Result.content_id, Result.content_hash, Embedding.vector)
    rows = session.execute(
        statement,
        {
            "backbone": backbone,
            "ok": ResultStatus.OK.value,
            "after": after,
            "through": _NO_LIMIT if through is None else through,
            "limit": limit,
        },
    ).all()
    ids, paths, content_ids, hashes, vectors = zip(*rows, strict=True) if rows else ((), (), (), (), ())
    return LibraryEmbeddings(
        np.array(ids, dtype=np.int64),
        list(paths),
        list(content_ids),
        [str(h) for h in hashes],
        to_array([bytes(v) for v in vectors]),
    )


def last_result_id(session: Session) -> int:
    """The newest result row's id (0 if none): ``library_chunk``'s ``through`` for a pass over the library as it is now."""
    return session.scalar(select(func.max(Result.id))) or 0


def iter_library_embeddings(session: Session, backbone: str, chunk: int = LIBRARY_CHUNK) -> Iterator[LibraryEmbeddings]:
    """Every ``library_chunk`` of ``backbone`` in turn, ``chunk`` images at a time (memory stays flat)."""
    after, through = 0, last_result_id(session)
    while len(part := library_chunk(session, backbone, after, chunk, through)):
        yield part
        after = int(part.result_ids[-1])


def library_embeddings(session: Session, backbone: str) -> LibraryEmbeddings:
    """``iter_library_embeddings`` as one array (N, D): 5 GB of float32 at a million images of D = 1280."""
    parts = list(iter_library_embeddings(session, backbone))
    if not parts:
        return LibraryEmbeddings(np.zeros(0, dtype=np.int64), [], [], [], np.zeros((0, 0), dtype=np.float32))
    return LibraryEmbeddings(
        np.concatenate([p.result_ids for p in parts]),
        [x for p in parts for x in p.image_paths],
        [x for p in parts for x in p.content_ids],
        [x for p in parts for x in p.content_hashes],
        np.concatenate([p.vectors for p in parts]),
    )


def library_sample(session: Session, backbone: str, limit: int, leaving_out: Collection[str] = ()) -> StoredEmbeddings:
    """Up to ``limit`` contents of labelled images (a current ok row) with an embedding under ``backbone``, none of
    ``leaving_out`` (content hashes): those with the smallest hashes, in hash order. A hash says nothing of what
    the photo shows, so this is a uniform sample, the same one each time, read along the primary key (the first
    ``limit`` + len(``leaving_out``) rows of the backbone at most, at any library size)."""
    labelled = exists().where(Result.content_hash == Embedding.content_hash, Result.is_current, Result.status == ResultStatus.OK)
    rows = session.execute(
        select(Embedding.content_hash, Embedding.vector)
        .where(Embedding.backbone == backbone, labelled)
        .order_by(Embedding.content_hash)
        .limit(limit + len(leaving_out))
    )
    left_out = set(leaving_out)
    kept = [(str(h), bytes(v)) for h, v in rows if h not in left_out][:limit]
    return StoredEmbeddings([h for h, _ in kept], to_array([v for _, v in kept]))


def count_embeddings(session: Session, backbone: str) -> int:
    """How many contents have an embedding under ``backbone``."""
    return session.scalar(select(func.count()).select_from(Embedding).where(Embedding.backbone == backbone)) or 0
