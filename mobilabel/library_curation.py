"""Likely mistakes, near-duplicate groups and "more like this" over the library's stored embeddings
(issue 29), for the CLI and the API: reads through storage, computes with mobilabel.curation (numpy,
no torch), and answers a group with one answer row per member.

Which labels are checked: the standing answers (a person's, including ``other``; ``skip`` says nothing
to check), the labels `mobilabel accept` accepted, and folder labels (an image in a folder named after a
class, as `mobilabel train DIR` reads them); a person's answer wins over the others. Each is judged by a
model that did not train on it: an answer by the active version's held-out prediction (its out-of-fold
prediction if it trained on the answer, else its own label), any other label (or an answer the active
version has no such prediction for) by a softmax head fitted on the other labels' embeddings (k-fold
out-of-fold probabilities), so a label is never judged by a model that learnt it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .curation.duplicates import DEFAULT_THRESHOLD, near_duplicate_groups
from .curation.mistakes import out_of_fold_probabilities, rank_predictions
from .library_index import CurationError, indexed_library, read_library
from .storage import Database
from .storage import versions as stored_versions
from .storage.classes import SKIP
from .storage.corrections import NEW_CLASS_HINT, CorrectionRecord, save_corrections
from .storage.curation_queries import GivenLabels, given_labels, held_out_views, result_labels
from .storage.embedding_queries import LibraryEmbeddings

FOLDS = 5
MIN_ANSWERS = 2 * FOLDS  # fewer and some fold would have nothing to learn from


@dataclass(frozen=True)
class LikelyMistake:
    """A label the model, fitted without it, disagrees with; ``why`` says so in words."""

    result_id: int
    image_path: str
    given_label: str
    source: str  # answer | accepted | folder: where the given label comes from
    model_label: str
    given_probability: float
    model_probability: float
    flagged: bool  # counted off the diagonal of the confident joint (not only low in the ranking)
    why: str


@dataclass(frozen=True)
class Member:
    """An image of a group or a neighbour list: its current result, its label (the answer if one stands,
    else the model's) and, for neighbours, its cosine similarity to the query."""

    result_id: int
    image_path: str
    label: str | None
    answered: bool
    similarity: float | None = None


# Which label of an image is checked, the first there is: a person's answer, an accepted label, its folder's name.
ANSWER, ACCEPTED, FOLDER = "answer", "accepted", "folder"
_NOUN = {ANSWER: "answer", ACCEPTED: "accepted label", FOLDER: "folder label"}


def folder_name(image_path: str) -> str | None:
    """The name of the folder holding ``image_path`` (a local path or an ``s3://`` object), or None at the top."""
    parts = image_path.replace("\\", "/").split("/")
    return parts[-2] if len(parts) > 1 and parts[-2] else None


def _checked(library: LibraryEmbeddings, given: GivenLabels) -> list[tuple[int, str, str]]:
    """(library row, label, source) of each content with a label to check, its first labelled row only."""
    found: dict[str, tuple[int, str, str]] = {}
    for row, content in enumerate(library.content_hashes):
        if content in found:
            continue
        if content in given.answers:
            if given.answers[content] != SKIP:  # skip: a person not sure, so nothing of it is checked
                found[content] = (row, given.answers[content], ANSWER)
        elif content in given.accepted:
            found[content] = (row, given.accepted[content], ACCEPTED)
        elif (folder := folder_name(library.image_paths[row])) in given.classes and folder is not None:
            found[content] = (row, folder, FOLDER)
    return list(found.values())


def likely_mistakes(db: Database, count: int = 20) -> tuple[list[LikelyMistake], int]:
    """The ``count`` labels likeliest to be wrong, likeliest first, and how many labels were checked.

    Checked: each embedded image's standing answer (a class or ``other``; ``skip`` checks nothing), else its
    accepted label, else the name of its folder when that is a class (own or the active version's). Each is
    judged by a model that did not train on it: an answer by the active version's held-out view of it
    (``held_out_views``) when a version of your own is active and has one, any other label by the embeddings'
    out-of-fold head; both give calibrated probabilities, so one ranking orders them. An answer kept against the
    model's label (``Correction.kept_against``) is left out while the model's label of it is still that one.
    Raises CurationError without embeddings or with fewer than ``MIN_ANSWERS`` labels on embedded images."""
    library = read_library(db)[1]
    with db.transaction() as session:
        given_by = given_labels(session)
        checked = _checked(library, given_by)
        active = stored_versions.active_version_id(session)
        answers = {library.content_hashes[row]: label for row, label, source in checked if source == ANSWER}
        own = active is not None and not active.startswith(stored_versions.IMAGENET_PREFIX)
        views = held_out_views(session, active, answers) if own and active is not None else {}
    if len(checked) < MIN_ANSWERS:
        raise CurationError(
            f"{len(checked)} answers, accepted or folder labels on embedded images; likely mistakes need at least {MIN_ANSWERS}"
        )
    rows = [row for row, _, _ in checked]
    given = [label for _, label, _ in checked]
    classes = sorted(set(given) | {v.label for v in views.values()})
    number = {c: k for k, c in enumerate(classes)}
    labels = np.array([number[g] for g in given], np.int64)
    probabilities = out_of_fold_probabilities(library.vectors[rows], labels, len(classes), FOLDS)
    at = np.arange(len(rows))
    top = probabilities.argmax(axis=1)
    given_p, top_p = probabilities[at, labels], probabilities[at, top]
    judges = [f"a model trained without this {_NOUN[source]}" for _, _, source in checked]
    for i, row in enumerate(rows):
        if (view := views.get(library.content_hashes[row])) is not None:
            given_p[i], top[i], top_p[i] = view.answer_confidence, number[view.label], view.confidence
            judges[i] = (
                "the active version's out-of-fold fit (trained without this answer)"
                if view.out_of_fold
                else f"the active version {active} (not trained on this answer)"
            )
    ranking = rank_predictions(given_p, top, top_p, labels, len(classes))
    # A kept answer is not offered again while the model's label of it is still the one it was kept against
    # (a new answer clears the keep).
    kept = [given_by.kept.get(library.content_hashes[row]) == classes[int(top[i])] for i, row in enumerate(rows)]
    out = []
    for i in [i for i in ranking.order.tolist() if not kept[i]][:count]:
        model_label, p_given, p_model = classes[int(top[i])], float(given_p[i]), float(top_p[i])
        if ranking.flagged[i]:
            why = (
                f"{judges[i]} says {model_label} ({p_model:.2f}, above the {ranking.thresholds[top[i]]:.2f} it gives "
                f"its own {model_label} labels on average) and {given[i]} only {p_given:.2f}"
            )
        else:
            why = (
                f"not flagged: ranked by how little {judges[i]} believes {given[i]} ({p_given:.2f}; {model_label} {p_model:.2f})"
            )
        out.append(
            LikelyMistake(
                int(library.result_ids[rows[i]]),
                library.image_paths[rows[i]],
                given[i],
                checked[i][2],
                model_label,
                p_given,
                p_model,
                bool(ranking.flagged[i]),
                why,
            )
        )
    return out, len(rows)


def _members(db: Database, result_ids: Sequence[int], similarity: Sequence[float | None] | None = None) -> list[Member]:
    with db.transaction() as session:
        labels = result_labels(session, result_ids)
    scores = similarity or [None] * len(result_ids)
    return [
        Member(r, labels[r].image_path, labels[r].answer or labels[r].model_label, labels[r].answer is not None, s)
        for r, s in zip(result_ids, scores, strict=True)
        if r in labels
    ]


def duplicate_groups(db: Database, threshold: float = DEFAULT_THRESHOLD) -> list[list[Member]]:
    """Groups of near-duplicate images of the library (two or more each), largest first.

    Raises CurationError without embeddings, ValueError for a threshold outside (0, 1]."""
    library = read_library(db)[1]
    groups = near_duplicate_groups(library.vectors, threshold)
    groups.sort(key=lambda g: (-len(g), g[0]))
    return [_members(db, [int(library.result_ids[i]) for i in group]) for group in groups]


def more_like_this(db: Database, result_id: int, count: int = 20) -> list[Member]:
    """The ``count`` images most like result ``result_id`` (itself excluded), most similar first.

    Raises CurationError when that result has no stored embedding (or the library none)."""
    indexed = indexed_library(db)
    library = indexed.library
    found, similarity = indexed.index.search(indexed.vector(db, result_id), count + 1)
    pairs = [(int(library.result_ids[i]), float(s)) for i, s in zip(found[0], similarity[0], strict=True) if i >= 0]
    pairs = [(r, s) for r, s in pairs if r != result_id][:count]
    return _members(db, [r for r, _ in pairs], [s for _, s in pairs])


def answer_group(
    db: Database,
    result_ids: Sequence[int],
    label: str,
    reviewer: str | None,
    new_class: bool = False,
    new_class_hint: str = NEW_CLASS_HINT,
) -> tuple[str, int]:
    """One answer for a group: an answer row per member (each image its own), all noting the same new group id.

    Returns (group id, answers written). Raises CurationError for an unknown result id, CorrectionError
    as ``save_corrections`` does (an unknown label, a retired class)."""
    group = uuid.uuid4().hex[:12]
    with db.transaction() as session:
        members = result_labels(session, list(dict.fromkeys(result_ids)))
        if missing := sorted(set(result_ids) - set(members)):
            raise CurationError(f"no result {missing[0]} in the library")
        records = [CorrectionRecord(m.image_path, label, m.content_hash) for m in members.values()]
        written = save_corrections(session, records, new_class, new_class_hint, reviewer, group)
    return group, written
