"""Stored embeddings, written: each content's pooled features once per backbone (table ``embeddings``).

The format: D little-endian float16 values (2,560 bytes for MobileNetV2's 1,280), which
``embedding_queries`` reads back as float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from .results import ResultRecord
from .tables import Embedding, utcnow
from .upsert import upsert

STORED_DTYPE = "<f2"  # float16, little-endian, whatever the machine


def to_bytes(vector: np.ndarray) -> bytes:
    """One embedding (D,) of any float dtype as its stored bytes."""
    return np.ascontiguousarray(vector, dtype=STORED_DTYPE).tobytes()


def write_embeddings(session: Session, backbone: str, records: Sequence[ResultRecord]) -> int:
    """Keep the embedding of each of ``records`` that carries one, under ``backbone`` (a
    ``models.embedding.backbone_fingerprint``) and its content hash. A content already stored for that
    backbone keeps its row: the same backbone computes the same features. Returns the records offered."""
    rows = {
        r.content_hash: {
            "backbone": backbone,
            "content_hash": r.content_hash,
            "vector": to_bytes(r.embedding),
            "created_at": utcnow(),
        }
        for r in records
        if r.embedding is not None and r.content_hash is not None
    }
    upsert(session, Embedding, list(rows.values()), keys=("backbone", "content_hash"), update=())
    return len(rows)


def write_vectors(session: Session, backbone: str, content_hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Keep ``vectors`` (N, D), row i the embedding of ``content_hashes[i]``, as ``write_embeddings`` does
    (existing rows kept). For tools and benches that compute embeddings outside the labeller."""
    now = utcnow()
    rows = [
        {"backbone": backbone, "content_hash": h, "vector": to_bytes(v), "created_at": now}
        for h, v in zip(content_hashes, vectors, strict=True)
    ]
    upsert(session, Embedding, rows, keys=("backbone", "content_hash"), update=())
