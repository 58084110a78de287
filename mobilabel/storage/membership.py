"""Job membership: every image a job covered and its outcome there.

A result row is shared (one per image and model version), so the job that wrote it
last is not the only job that covered the image. ``job_images`` keeps each job's own
list, written in the same transaction as the batch it describes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from .states import ImageOutcome
from .tables import JobImage, utcnow
from .upsert import upsert


def record_job_images(
    session: Session, job_id: int, model_version_id: str, outcomes: Sequence[tuple[str, str]], keep_existing: bool = False
) -> None:
    """Record ``(image_path, outcome)`` pairs for a job; an image recorded again gets the newer outcome
    (or, with ``keep_existing``, keeps the one it has). Raises ``ValueError`` for an unknown outcome."""
    now = utcnow()
    latest = dict(outcomes)  # one statement may not touch a key twice (PostgreSQL refuses it)
    unknown = set(latest.values()) - set(ImageOutcome)
    if unknown:
        raise ValueError(f"unknown job image outcomes {sorted(unknown)}; expected {', '.join(ImageOutcome)}")
    rows = [
        {"job_id": job_id, "image_path": path, "model_version_id": model_version_id, "outcome": outcome, "updated_at": now}
        for path, outcome in latest.items()
    ]
    upsert(
        session,
        JobImage,
        rows,
        keys=("job_id", "image_path"),
        update=() if keep_existing else ("model_version_id", "outcome", "updated_at"),
    )
