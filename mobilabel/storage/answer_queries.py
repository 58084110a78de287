"""The answer history, read: every answer given for one image content, oldest first; how many came since a moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from .tables import AnswerHistory, Correction


def answer_history(session: Session, content_hash: str) -> list[AnswerHistory]:
    """Every answer given for the content ``content_hash`` (a changed answer keeps the earlier ones), oldest first."""
    return list(
        session.scalars(select(AnswerHistory).where(AnswerHistory.content_hash == content_hash).order_by(AnswerHistory.id))
    )


def answers_since(session: Session, since: datetime | None) -> int:
    """How many answers were given after ``since`` (None: ever), changed answers counted each time; not those to
    contents now answered as checks, which no training reads (what the quick refresh counts)."""
    check = exists().where(Correction.content_hash == AnswerHistory.content_hash, Correction.is_check)
    statement = select(func.count()).select_from(AnswerHistory).where(~check)
    if since is not None:
        statement = statement.where(AnswerHistory.answered_at > since)
    return session.scalar(statement) or 0
