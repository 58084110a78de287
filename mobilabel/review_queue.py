"""The review queue: which images a reviewer answers next, leased to them so no one else gets them.

Strategy (issue 26 item 4), for a batch of N:
- **uncertain**: the images whose suggestion the model is least sure of, by the margin between its
  top two probabilities (stored ``top_k``): an answer there moves the model most;
- **diverse** (a ``Strategy`` option, off by default: bench/loop.py measured it no better): the pool of
  least-margin images taken round-robin over the suggested label and folder, so near-identical photos
  are not asked in a row; an image picked that way that the margin order alone would not have reached
  is marked ``diverse``. ``ENTROPY`` ranks by the entropy of the ranked probabilities instead of the margin;
- **audit**: a share (``AUDIT_SHARE``) drawn uniformly from everything still unreviewed. Their
  answers are held out of training, so they measure the accuracy on the unreviewed rest honestly;
- **check**: while `accept` asks for check answers (``storage.acceptance_queries.check_request``), the
  images it still needs of its candidate set, in check order, come first (``mobilabel.verification``):
  the first n of the set in that order are a uniform draw of it, which is what makes them evidence.
A retired class is never offered as a suggestion: the next ranked label is.

**Cold start**: while no version of your own is active (none, or the ImageNet weights), the margin
is between ImageNet's classes and says nothing about yours (ImageNet is sure a sunflower is a
daisy), so the batch is a uniform draw instead of the least-margin images, asked round-robin over the
suggested label; every class then gets answers in proportion to how common it is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

from sqlalchemy.orm import Session

from .storage import Database
from .storage.acceptance_queries import check_request, check_set
from .storage.class_queries import class_names
from .storage.corrections import AUDIT, CHECK
from .storage.queue_queries import Candidate, held_by, least_confident, offerable_count, offerable_of, random_offerable
from .storage.review_leases import LeaseRequest, lock_leases, take_leases
from .storage.tables import utcnow
from .storage.training_runs import quick_refusal
from .storage.versions import IMAGENET_PREFIX, active_version_id

UNCERTAIN = "uncertain"
DIVERSE = "diverse"
AUDIT_SHARE = 0.1  # of each batch: enough audit answers to estimate accuracy, few enough not to slow learning
MARGIN = "margin"  # uncertainty as the top-1 minus top-2 probability: least first
ENTROPY = (
    "entropy"  # uncertainty as the entropy of the ranked probabilities (the rest of the mass as one more outcome): most first
)
POOL_FACTOR = 10  # the least-confident pool the margin and round-robin choose from, per image asked for
_ATTEMPTS = 3  # rounds of choosing again when another reviewer took some of the images first


@dataclass(frozen=True)
class Strategy:
    """How a batch is chosen: the uncertainty ranking (``MARGIN`` or ``ENTROPY``), whether the picks are spread
    round-robin over the suggested label and folder (``diverse``), and the audit share of each batch."""

    ranking: str = MARGIN
    diverse: bool = True
    audit_share: float = AUDIT_SHARE


# The queue's strategy: the best row of bench/results/loop.csv among those with an audit share (the audit
# answers alone make the accuracy estimate honest): least margin, in margin order, 10% audit, with the quick
# head self-trained as training.quick fits it now. Spreading over the suggested label needed as many answers
# or more there (no near-duplicates among the flowers).
DEFAULT_STRATEGY = Strategy(MARGIN, diverse=False, audit_share=AUDIT_SHARE)


@dataclass(frozen=True)
class QueueItem:
    """An image leased to a reviewer: answer it with `mobilabel correct` (or PUT /api/corrections)."""

    result_id: int
    image_path: str
    suggested_label: str | None
    confidence: float | None
    margin: float | None  # top-1 minus top-2 probability
    reason: str  # uncertain | diverse | audit | check
    entropy: float | None = None  # of the ranked probabilities, the unranked rest as one more outcome (nats)


@dataclass(frozen=True)
class Batch:
    items: list[QueueItem]
    left: int  # images still offerable after this batch (not answered, not held)
    expires_in_s: float
    refusal: str | None = None  # why the newest quick head left the suggestions as they were (its gate refused it)


def next_batch(db: Database, reviewer: str, count: int, lease_s: float, strategy: Strategy = DEFAULT_STRATEGY) -> Batch:
    """Lease up to ``count`` images to ``reviewer`` for ``lease_s`` seconds, chosen as the module says (``strategy``).

    The reviewer's own unanswered leases are renewed with their reasons (asking again must not hide them until
    they expire) and come first after the check items, which lead the batch; fewer come back when fewer are left.
    """
    with db.transaction() as session:
        lock_leases(session)
        now = utcnow()
        retired = set(class_names(session, retired=True))
        own = held_by(session, now, reviewer, count)
        renewing = [LeaseRequest(c.result_id, c.image_path, c.content_hash, reason) for c, reason in own]
        renewed = take_leases(session, renewing, reviewer, now, now + timedelta(seconds=lease_s))
        chosen = [_item(c, reason, retired) for c, reason in own if c.result_id in renewed]
        active = active_version_id(session)
        cold = active is None or active.startswith(IMAGENET_PREFIX)
        if not cold and count > len(chosen):
            checks = check_candidates(session, now, str(active))[: count - len(chosen)]
            requests = [LeaseRequest(c.result_id, c.image_path, c.content_hash, CHECK) for c in checks]
            held = take_leases(session, requests, reviewer, now, now + timedelta(seconds=lease_s))
            chosen += [_item(c, CHECK, retired) for c in checks if c.result_id in held]
        for _ in range(_ATTEMPTS):
            wanted = count - len(chosen)
            if wanted <= 0:
                break
            taken = {item.result_id for item in chosen}
            size = (wanted + len(taken)) * POOL_FACTOR
            pool = [
                c
                for c in (random_offerable(session, now, size, taken) if cold else least_confident(session, now, size))
                if c.result_id not in taken
            ]
            picked = spread(
                pool, wanted - audit_count(wanted, strategy.audit_share), retired, by_margin=not cold, strategy=strategy
            )
            taken |= {item.result_id for item in picked}
            drawn = random_offerable(session, now, wanted - len(picked), taken)
            picked += [_item(c, AUDIT, retired) for c in drawn]
            hashes = {c.result_id: c.content_hash for c in (*pool, *drawn)}
            requests = [LeaseRequest(i.result_id, i.image_path, hashes[i.result_id], i.reason) for i in picked]
            held = take_leases(session, requests, reviewer, now, now + timedelta(seconds=lease_s))
            chosen += [i for i in picked if i.result_id in held]
            if len(held) == len(picked):
                break
        left = offerable_count(session, now)
        refusal = quick_refusal(session)
    chosen.sort(key=lambda item: item.reason != CHECK)  # check items first, the renewed ones too; else order kept
    return Batch(chosen, left, lease_s, refusal)


def check_candidates(session: Session, now: datetime, version_id: str) -> list[Candidate]:
    """The offerable images `accept` still wants check answers on for ``version_id``, in check order (none when it
    asks for none): the unanswered among the first ``wanted`` of its candidate set."""
    request = check_request(session, version_id)
    if request is None:
        return []
    wanted = check_set(session, version_id, request.threshold)[: request.wanted]
    return offerable_of(session, now, [m.content_hash for m in wanted if m.check_answer is None])


def audit_count(count: int, share: float = AUDIT_SHARE) -> int:
    """The audit images of a batch of ``count``: ``share`` of it, at least one in a batch of 5 or more (none with share 0)."""
    if share <= 0:
        return 0
    return round(count * share) or (1 if count >= 5 else 0)


def spread(
    pool: Sequence[Candidate],
    count: int,
    retired: Collection[str] = (),
    by_margin: bool = True,
    strategy: Strategy = DEFAULT_STRATEGY,
) -> list[QueueItem]:
    """``count`` items of ``pool``: most uncertain first (``strategy.ranking``), taken round-robin over the
    suggested label (then the folder) so neighbours in the library are not asked in a row. Marked
    ``uncertain`` when the uncertainty order alone would have picked them, ``diverse`` otherwise; without
    ``strategy.diverse``, the ``count`` most uncertain, in that order. Without ``by_margin`` (a cold start's
    pool, a uniform draw) the first ``count`` are taken as drawn, all ``diverse``, and only their order is spread."""
    items = [_item(c, UNCERTAIN, retired) for c in pool]

    def uncertainty(item: QueueItem) -> float:
        return _uncertainty_key(item, strategy.ranking)

    if by_margin:
        items.sort(key=lambda i: (uncertainty(i), i.result_id))
        if not strategy.diverse:
            return items[:count]
    else:  # the draw itself is the choice (round-robin would under-sample a common label); only the order is spread
        items = items[:count]
    least_margin = {i.result_id for i in items[:count]} if by_margin else set()
    groups: dict[tuple[str, str], list[QueueItem]] = defaultdict(list)
    for item in items:
        groups[(item.suggested_label or "", str(PurePath(item.image_path).parent))].append(item)
    queues = sorted(groups.values(), key=lambda g: (uncertainty(g[0]), g[0].result_id)) if by_margin else list(groups.values())
    picked: list[QueueItem] = []
    while len(picked) < count and queues:
        for queue in list(queues):
            if len(picked) == count:
                break
            item = queue.pop(0)
            picked.append(item if item.result_id in least_margin else _with_reason(item, DIVERSE))
            if not queue:
                queues.remove(queue)
    return picked


def _item(candidate: Candidate, reason: str, retired: Collection[str]) -> QueueItem:
    ranked = [(k["label"], float(k["confidence"])) for k in candidate.top_k or [] if "label" in k and "confidence" in k]
    if not ranked and candidate.label is not None:
        ranked = [(candidate.label, candidate.confidence or 0.0)]
    offered = [(label, p) for label, p in ranked if label not in retired]
    suggested, confidence = offered[0] if offered else (None, None)
    margin = ranked[0][1] - ranked[1][1] if len(ranked) > 1 else (ranked[0][1] if ranked else None)
    rest = max(0.0, 1.0 - sum(p for _, p in ranked))
    entropy = -sum(p * math.log(p) for p in (*(p for _, p in ranked), rest) if p > 0) if ranked else None
    return QueueItem(candidate.result_id, candidate.image_path, suggested, confidence, margin, reason, entropy)


def _with_reason(item: QueueItem, reason: str) -> QueueItem:
    return QueueItem(item.result_id, item.image_path, item.suggested_label, item.confidence, item.margin, reason, item.entropy)


def _uncertainty_key(item: QueueItem, ranking: str) -> float:
    """Smaller is more uncertain: the margin, or the entropy negated."""
    if ranking == ENTROPY:
        return -item.entropy if item.entropy is not None else 0.0
    return item.margin if item.margin is not None else 1.0
