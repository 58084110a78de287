"""What the review page asks of the results: an image across versions, two versions compared,
a version against the verified labels (corrections, matched by content hash)."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from .accuracy_queries import held_out, out_of_fold_as, out_of_fold_cells
from .states import ResultStatus
from .tables import Correction, Result

Cell = tuple[str, str, int]  # (label on one side, label on the other, images)


def image_versions(session: Session, result_id: int) -> list[Result] | None:
    """Every version's result for the image of ``result_id``, oldest first; None if there is no such result."""
    path = session.scalar(select(Result.image_path).where(Result.id == result_id))
    if path is None:
        return None
    return list(session.scalars(select(Result).where(Result.image_path == path).order_by(Result.created_at, Result.id)))


def version_flips(session: Session, version_a: str, version_b: str) -> list[Cell]:
    """(label by A, label by B, images) over the images both versions labelled, most images first."""
    a, b = aliased(Result), aliased(Result)
    count = func.count()
    rows = session.execute(
        select(a.label, b.label, count)
        .join(b, and_(b.image_path == a.image_path, b.model_version_id == version_b, b.status == ResultStatus.OK))
        .where(a.model_version_id == version_a, a.status == ResultStatus.OK)
        .group_by(a.label, b.label)
        .order_by(count.desc(), a.label, b.label)
    )
    return [(la or "", lb or "", n) for la, lb, n in rows]  # an ok result always has a label


def flip_results(
    session: Session, version_a: str, version_b: str, label_a: str, label_b: str, limit: int, after_id: int = 0
) -> list[Result]:
    """Version B's results for the images A labelled ``label_a`` and B ``label_b``, by id after ``after_id``."""
    a = aliased(Result)
    return list(
        session.scalars(
            select(Result)
            .join(
                a,
                and_(
                    a.image_path == Result.image_path,
                    a.model_version_id == version_a,
                    a.status == ResultStatus.OK,
                    a.label == label_a,
                ),
            )
            .where(
                Result.model_version_id == version_b,
                Result.status == ResultStatus.OK,
                Result.label == label_b,
                Result.id > after_id,
            )
            .order_by(Result.id)
            .limit(limit)
        )
    )


def confusion(session: Session, version: str) -> list[Cell]:
    """(verified label, label by ``version``, images) over the verified images the version labelled and was
    not trained on (held out: ``accuracy_queries.held_out``), and the first ``out_of_fold_cells``'s count:
    the answers it was trained on, by their out-of-fold labels, added in."""
    count = func.count()
    rows = session.execute(
        select(Correction.label, Result.label, count)
        .join(
            Result,
            and_(
                Result.content_hash == Correction.content_hash,
                Result.model_version_id == version,
                Result.status == ResultStatus.OK,
            ),
        )
        .where(held_out(version))
        .group_by(Correction.label, Result.label)
        .order_by(Correction.label, Result.label)
    )
    counts: dict[tuple[str, str], int] = {}
    for verified, predicted, n in [*((v, p or "", n) for v, p, n in rows), *out_of_fold_cells(session, version)]:
        counts[(verified, predicted)] = counts.get((verified, predicted), 0) + n
    return [(verified, predicted, n) for (verified, predicted), n in sorted(counts.items())]


def confusion_results(
    session: Session, version: str, verified: str, predicted: str, limit: int, after_id: int = 0
) -> list[Result]:
    """The version's results in one cell of its confusion matrix (out-of-fold labels included), by id after ``after_id``."""
    return list(
        session.scalars(
            select(Result)
            .join(Correction, and_(Correction.content_hash == Result.content_hash, Correction.label == verified))
            .where(
                or_(and_(held_out(version), Result.label == predicted), out_of_fold_as(version, predicted)),
                Result.model_version_id == version,
                Result.status == ResultStatus.OK,
                Result.id > after_id,
            )
            .order_by(Result.id)
            .limit(limit)
        )
    )
