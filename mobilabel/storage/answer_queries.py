"""The answer history, read: every answer given for one image content, oldest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .tables import AnswerHistory


def answer_history(session: Session, content_hash: str) -> list[AnswerHistory]:
    """Every answer given for the content ``content_hash`` (a changed answer keeps the earlier ones), oldest first."""
    return list(
        session.scalars(select(AnswerHistory).where(AnswerHistory.content_hash == content_hash).order_by(AnswerHistory.id))
    )
