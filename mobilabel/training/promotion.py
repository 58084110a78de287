"""Whether a newly trained version replaces the active one.

The rule: the new version becomes active only if it labels strictly more of the
evaluation images right than the active version does (with fewer than ``evidence.MIN_COMPARED`` of them the
comparison decides nothing: only if it learnt from answers the active version did not, ``evidence``), both counted here by the same
code on the same images (the validation split plus the evaluation share of the
verified labels, less the answers the active version was trained on: ``unseen_by_active``). A tie keeps the active version: retraining on unchanged data must
not churn versions. If the two know different classes there is nothing fair to
compare, so only ``force`` promotes; if no version is active, or only the ImageNet weights (ImageNet's
classes, which labelling starts from), the new one is.
Callable from a CLI command, a Celery task or a scheduled retraining alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..config import Settings
from ..files import Confine
from ..imaging import label_min_side
from ..models import Checkpoint, create_engine, default_batch_size
from ..storage import Database
from ..storage import versions as stored
from ..storage.accuracy_queries import answers_new_to, trained_hashes
from ..storage.corrections import VerifiedLabel
from ..versions.checkpoints import load_version
from .data import LabelledImage
from .evidence import too_few_to_compare
from .loader import make_loader
from .loop import evaluate


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    previous_version_id: str | None  # the version active before the decision
    evaluated: int = 0  # evaluation images both versions were counted on (readable ones)
    candidate_correct: int | None = None  # None: not compared
    previous_correct: int | None = None


def promote_if_better(
    db: Database,
    settings: Settings,
    candidate: Checkpoint,
    evaluation: Sequence[LabelledImage],
    force: bool = False,
    device: str = "auto",
    confine: Confine | None = None,
) -> PromotionDecision:
    """Activate ``candidate`` (already registered) if the rule above allows it, or if ``force``.

    ``evaluation`` labels index ``candidate.classes``; ``confine``: as ``make_loader``'s. Raises ``UnknownVersionError`` if the
    active version's checkpoint is missing from the database.
    """
    with db.transaction() as session:
        active_id = stored.active_version_id(session)
    if active_id == candidate.version_id:
        return PromotionDecision(False, "it is already the active version", active_id)
    if active_id is None:
        return _activate(db, candidate, stored.PROMOTED, PromotionDecision(True, "no version of your own was active", None))
    if active_id.startswith(stored.IMAGENET_PREFIX) and not candidate.version_id.startswith(stored.IMAGENET_PREFIX):
        # The untouched ImageNet weights label with ImageNet's 1,000 classes, not the user's: nothing to compare.
        reason = f"the active version {active_id} is the ImageNet weights, with ImageNet's classes, not yours"
        return _activate(db, candidate, stored.PROMOTED, PromotionDecision(True, reason, active_id))
    active = load_version(db, settings, active_id)
    if set(active.classes) != set(candidate.classes):
        reason = f"its classes differ from those of the active version {active_id}"
        if force:
            return _activate(db, candidate, stored.FORCED, PromotionDecision(True, f"{reason}; promoted by force", active_id))
        return PromotionDecision(False, f"{reason}; use --force to promote it", active_id)
    candidate_correct, evaluated = correct_on(candidate, candidate.classes, evaluation, settings, device, confine)
    active_correct, _ = correct_on(active, candidate.classes, evaluation, settings, device, confine)
    # Named, since `train` prints the validation accuracy on more images just before (unseen_by_active).
    comparison = (
        f"{candidate_correct} of {evaluated} evaluation images right (the validation images less the answers the "
        f"active version trained on), against {active_correct} for the active version {active_id}"
    )
    with db.transaction() as session:
        new_answers = answers_new_to(session, active_id, trained_hashes(session, candidate.version_id))
    if (few := too_few_to_compare(evaluated, new_answers)) is not None:
        promoted, why = few
        counts = (evaluated, candidate_correct, active_correct)
        if promoted:
            return _activate(db, candidate, stored.PROMOTED, PromotionDecision(True, f"{comparison}; {why}", active_id, *counts))
        if force:
            decision = PromotionDecision(True, f"{comparison}; {why}, promoted by force", active_id, *counts)
            return _activate(db, candidate, stored.FORCED, decision)
        return PromotionDecision(False, f"{comparison}; {why}, so the active version stays", active_id, *counts)
    if candidate_correct > active_correct:
        decision = PromotionDecision(True, comparison, active_id, evaluated, candidate_correct, active_correct)
        return _activate(db, candidate, stored.PROMOTED, decision)
    verdict = "not better" if candidate_correct == active_correct else "worse"
    if force:
        decision = PromotionDecision(
            True, f"{comparison}; {verdict}, promoted by force", active_id, evaluated, candidate_correct, active_correct
        )
        return _activate(db, candidate, stored.FORCED, decision)
    reason = f"{comparison}; {verdict}, so the active version stays"
    return PromotionDecision(False, reason, active_id, evaluated, candidate_correct, active_correct)


def unseen_by_active(db: Database, evaluation: Sequence[LabelledImage], answers: Sequence[VerifiedLabel]) -> list[LabelledImage]:
    """The ``evaluation`` images whose content the active version was not trained on: an answer it learnt
    (``record_trained``; matched to an image by path through ``answers``) would count for it as a held-out
    one. A version trained on every answer but the audits (a quick head) would otherwise be measured on
    its own training answers, and a new version would lose to it on them."""
    with db.transaction() as session:
        active = stored.active_version_id(session)
        seen = trained_hashes(session, active) if active is not None else set()
    if not seen:
        return list(evaluation)
    learnt = {os.path.abspath(a.image_path) for a in answers if a.content_hash in seen}
    return [image for image in evaluation if os.path.abspath(image.path) not in learnt]


def correct_on(
    checkpoint: Checkpoint,
    classes: Sequence[str],
    images: Sequence[LabelledImage],
    settings: Settings,
    device: str = "auto",
    confine: Confine | None = None,
) -> tuple[int, int]:
    """(images right, images read) of ``checkpoint`` on ``images`` labelled by index into ``classes``.

    ``checkpoint``'s own class order may differ: outputs are matched to ``classes`` by name.
    An unreadable image counts for neither version, since both read the same files.
    """
    size = checkpoint.preprocessing.crop_size
    engine = create_engine(checkpoint.build(), settings.engine, device, torch.zeros(1, 3, size, size))
    order = torch.tensor([checkpoint.classes.index(name) for name in classes])
    loader = make_loader(
        images,
        checkpoint.preprocessing.eval_transform(),
        settings.batch_size or default_batch_size(device),
        shuffle=False,
        workers=settings.decode_threads,
        max_pixels=settings.max_image_pixels,
        min_side=label_min_side(checkpoint.preprocessing.resize_size),
        confine=confine,
    )
    result = evaluate(lambda batch: engine.forward(batch)[:, order], loader)
    return sum(t == p for t, p in zip(result.targets, result.predictions, strict=True)), len(result.targets)


def _activate(db: Database, candidate: Checkpoint, reason_code: str, decision: PromotionDecision) -> PromotionDecision:
    with db.transaction() as session:
        stored.activate_version(session, candidate.version_id, reason=reason_code)
    return decision
