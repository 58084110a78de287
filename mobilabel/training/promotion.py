"""Whether a newly trained version replaces the active one.

The rule: the new version becomes active if its validation accuracy is at least
the active version's, both measured on the new run's validation images. If the
two know different classes there is nothing fair to compare, so only ``force``
promotes; if no version is active, the new one is. Callable from a CLI command,
a Celery task or a scheduled retraining alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config import Settings
from ..imaging import label_min_side
from ..models import Checkpoint, create_engine, default_batch_size
from ..registry import load_version
from ..storage import Database
from ..storage import versions as stored
from .data import LabelledImage
from .loader import make_loader
from .loop import evaluate


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    candidate_accuracy: float
    previous_version_id: str | None  # the version active before the decision
    previous_accuracy: float | None = None  # on the candidate's validation images, where comparable


def promote_if_better(
    db: Database,
    settings: Settings,
    candidate: Checkpoint,
    candidate_accuracy: float,
    validation: Sequence[LabelledImage],
    force: bool = False,
    device: str = "auto",
) -> PromotionDecision:
    """Activate ``candidate`` (already registered) if the rule above allows it, or if ``force``.

    ``validation`` labels index ``candidate.classes``; ``candidate_accuracy`` was measured on it.
    """
    with db.transaction() as session:
        active_id = stored.active_version_id(session)
    if active_id == candidate.version_id:
        return PromotionDecision(False, "it is already the active version", candidate_accuracy, active_id)
    if active_id is None:
        return _activate(db, candidate, stored.PROMOTED, "no version was active", candidate_accuracy, None, None)
    active = load_version(db, settings, active_id)
    if set(active.classes) != set(candidate.classes):
        reason = f"its classes differ from those of the active version {active_id}"
        if force:
            return _activate(db, candidate, stored.FORCED, f"{reason}; promoted by force", candidate_accuracy, active_id, None)
        return PromotionDecision(False, f"{reason}; use --force to promote it", candidate_accuracy, active_id)
    active_accuracy = accuracy_on(active, candidate.classes, validation, settings, device)
    comparison = f"val accuracy {candidate_accuracy:.4f} vs {active_accuracy:.4f} of the active version {active_id}"
    if candidate_accuracy >= active_accuracy:
        return _activate(db, candidate, stored.PROMOTED, comparison, candidate_accuracy, active_id, active_accuracy)
    if force:
        reason = f"{comparison}; promoted by force"
        return _activate(db, candidate, stored.FORCED, reason, candidate_accuracy, active_id, active_accuracy)
    return PromotionDecision(False, f"{comparison}; the active version stays", candidate_accuracy, active_id, active_accuracy)


def accuracy_on(
    checkpoint: Checkpoint, classes: Sequence[str], images: Sequence[LabelledImage], settings: Settings, device: str = "auto"
) -> float:
    """Accuracy of ``checkpoint`` on ``images`` labelled by index into ``classes`` (its own order may differ)."""
    size = checkpoint.preprocessing.crop_size
    engine = create_engine(checkpoint.build(), settings.engine, device, torch.zeros(1, 3, size, size))
    # Map the checkpoint's output columns onto ``classes``' order, so labels compare by name.
    order = torch.tensor([checkpoint.classes.index(name) for name in classes])
    loader = make_loader(
        images,
        checkpoint.preprocessing.eval_transform(),
        settings.batch_size or default_batch_size(device),
        shuffle=False,
        workers=settings.decode_threads,
        max_pixels=settings.max_image_pixels,
        min_side=label_min_side(checkpoint.preprocessing.resize_size),
    )
    return evaluate(lambda batch: engine.forward(batch)[:, order], loader).accuracy


def _activate(
    db: Database,
    candidate: Checkpoint,
    reason_code: str,
    reason: str,
    candidate_accuracy: float,
    previous_id: str | None,
    previous_accuracy: float | None,
) -> PromotionDecision:
    with db.transaction() as session:
        stored.activate_version(session, candidate.version_id, reason=reason_code)
    return PromotionDecision(True, reason, candidate_accuracy, previous_id, previous_accuracy)
