"""`mobilabel accept --precision P`, the API's and the page's: choose the rule from the active version's held-out
answers (``acceptance.choose``), accept the suggestions that clear it, and re-check what was accepted before.

Re-checking: every standing acceptance is measured against the active version's current label of its
content under the new rule: **kept** (accepted again with the same label), **changed** (accepted
again with another label), **withdrawn** (not accepted now: back to suggested), and the suggestions
accepted for the first time are **newly accepted**. An acceptance whose content a person has answered
since is dropped (``answered``): a person's answer always wins.

When the held-out answers cannot certify P, the **check sample** may (``mobilabel.verification``): the
candidate set above λ is accepted, its checked images left out, once its check answers certify it; until
then `accept` asks the review queue for the check answers it still needs (``storage.acceptances.request_checks``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .acceptance import AcceptanceRule, HeldOut, choose
from .errors import MobilabelError
from .storage import Database
from .storage.acceptance_queries import (
    Scored,
    acceptable,
    accepted_labels,
    answered_contents,
    candidate_confidences,
    check_set,
    held_out_outcomes,
    unanswered_count,
)
from .storage.acceptances import clear_checks, replace_acceptances, request_checks
from .storage.versions import IMAGENET_PREFIX, active_version_id, get_version
from .verification import Check, candidate, certify


class AcceptError(MobilabelError):
    """`accept` cannot run: no version of your own is active."""


@dataclass
class ClassChanges:
    """One class's part of a re-check (a withdrawn label counts under its old class, the others under the new)."""

    kept: int = 0
    newly: int = 0
    withdrawn: int = 0
    changed: int = 0


@dataclass(frozen=True)
class AcceptReport:
    version_id: str
    rule: AcceptanceRule
    accepted: dict[str, int]  # class -> accepted now
    suggested: int  # contents the version labels that nobody answered: the share accepted is accepted / suggested
    changes: dict[str, ClassChanges] = field(default_factory=dict)
    answered: int = 0  # acceptances dropped because a person answered their content since
    dry_run: bool = False
    check: Check | None = None  # the check sample's certificate, when the held-out answers could not certify P
    checked: dict[str, tuple[int, int]] = field(default_factory=dict)  # class -> (check answers, of them right)

    @property
    def threshold(self) -> float | None:
        """The calibrated confidence the accepted labels cleared: the held-out rule's λ, or the certified check set's."""
        if self.rule.threshold is not None:
            return self.rule.threshold
        return self.check.threshold if self.check is not None and self.check.certified else None

    @property
    def total(self) -> int:
        return sum(self.accepted.values())

    @property
    def coverage(self) -> float:
        return self.total / self.suggested if self.suggested else 0.0

    def class_rows(self) -> list[dict[str, Any]]:
        """One row per class of the version (the CLI's table, the API's ``classes``): its rule, evidence and re-check."""
        out = []
        certified = self.check is not None and self.check.certified
        for label, rule in self.rule.classes.items():
            change = self.changes.get(label, ClassChanges())
            checks, right = self.checked.get(label, (0, 0))
            out.append(
                {
                    "label": label, "threshold": self.threshold if certified else rule.threshold,
                    "accepted": self.accepted.get(label, 0), "held_out": rule.answers, "right": rule.right,
                    "estimate": rule.estimate, "bound": rule.bound, "more_needed": 0 if certified else rule.more_needed,
                    "checks": checks, "checks_right": right, "kept": change.kept, "newly_accepted": change.newly,
                    "withdrawn": change.withdrawn, "changed": change.changed,
                }
            )  # fmt: skip
        return out


def accept(db: Database, precision: float, dry_run: bool = False) -> AcceptReport:
    """Accept, at ``precision`` (0 < P < 1) with 95% confidence, the active version's suggestions that clear its rule,
    and re-check every standing acceptance; with ``dry_run`` nothing is stored.
    Raises ``AcceptError`` with no active version of your own, ``ValueError`` for a precision outside (0, 1)."""
    if not 0 < precision < 1:
        raise ValueError(f"--precision must be between 0 and 1 (e.g. 0.98), got {precision}")
    with db.transaction() as session:
        version_id = active_version_id(session)
        if version_id is None or version_id.startswith(IMAGENET_PREFIX):
            raise AcceptError(
                "no version of your own is active: accepting needs one trained on your classes and its held-out answers "
                "(docs/labelling-loop.md; `mobilabel train`)"
            )
        version = get_version(session, version_id)
        assert version is not None  # the active one
        classes = list(version.classes)
        outcomes = [HeldOut(*o) for o in held_out_outcomes(session, version_id)]
    rule = choose(outcomes, classes, precision)
    with db.transaction() as session:
        check: Check | None = None
        checked: dict[str, tuple[int, int]] = {}
        if rule.threshold is not None:
            accepting = {label for label, r in rule.classes.items() if r.threshold is not None}
            found = acceptable(session, version_id, accepting, rule.threshold)
        else:
            check, found, checked = _checked(session, version_id, precision)
        before = accepted_labels(session)
        answered = answered_contents(session, before)
        suggested = unanswered_count(session, version_id)
        changes: dict[str, ClassChanges] = {label: ClassChanges() for label in classes}
        for content_hash, old in before.items():
            if content_hash in answered:
                continue
            now = found.get(content_hash)
            if now is None:
                changes.setdefault(old, ClassChanges()).withdrawn += 1
            elif now.label == old:
                changes.setdefault(now.label, ClassChanges()).kept += 1
            else:
                changes.setdefault(now.label, ClassChanges()).changed += 1
        for content_hash, now in found.items():
            if content_hash not in before:
                changes.setdefault(now.label, ClassChanges()).newly += 1
        if not dry_run:
            removed = set(before) - set(found)
            threshold = rule.threshold or (check.threshold if check is not None else 1.0)
            replace_acceptances(session, list(found.values()), removed, version_id, threshold, precision)
            clear_checks(session)
            if check is not None and check.more_needed:
                request_checks(session, version_id, precision, check.threshold, check.wanted)
    accepted = Counter(s.label for s in found.values())
    return AcceptReport(
        version_id,
        rule,
        {label: accepted.get(label, 0) for label in classes},
        suggested,
        changes,
        len(answered),
        dry_run,
        check,
        checked,
    )


def _checked(
    session: Session, version_id: str, precision: float
) -> tuple[Check | None, dict[str, Scored], dict[str, tuple[int, int]]]:
    """The check sample's certificate for ``precision`` (None: no suggestion's calibrated confidence promises it), the
    suggestions it accepts (the candidate set less its checked images; none unless certified) and, per class, the
    check answers and how many agree. A check answer other than the version's label, ``skip`` included, counts as
    wrong: a skipped check cannot be left out of the draw, and counting it wrong only lowers the bound."""
    threshold = candidate(candidate_confidences(session, version_id), precision)
    if threshold is None:
        return None, {}, {}
    members = check_set(session, version_id, threshold)
    check = certify([None if m.check_answer is None else m.check_answer == m.label for m in members], precision, threshold)
    checked: dict[str, tuple[int, int]] = {}
    for m in members:
        if m.check_answer is not None:
            answers, right = checked.get(m.label, (0, 0))
            checked[m.label] = (answers + 1, right + (m.check_answer == m.label))
    if not check.certified:
        return check, {}, checked
    found = {
        m.content_hash: Scored(m.content_hash, m.image_path, m.label, m.confidence) for m in members if m.check_answer is None
    }
    return check, found, checked
