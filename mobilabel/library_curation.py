"""Likely mistakes, near-duplicate groups and "more like this" over the library's stored embeddings
(issue 29), for the CLI and the API: reads through storage, computes with mobilabel.curation (numpy,
no torch), and answers a group with one answer row per member.

Which labels are checked: the standing answers (a person's, including ``other``; ``skip`` says nothing
to check). Each is judged by a softmax head fitted on the other answers' embeddings (k-fold out-of-fold
probabilities), so an answer is never judged by a model that learnt it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .curation.duplicates import DEFAULT_THRESHOLD, near_duplicate_groups
from .curation.mistakes import out_of_fold_probabilities, rank_mistakes
from .curation.neighbours import SearchIndex, build_index
from .errors import MobilabelError
from .storage import Database
from .storage.corrections import NEW_CLASS_HINT, CorrectionRecord, save_corrections
from .storage.curation_queries import library_backbone, library_signature, result_labels, standing_answers
from .storage.embedding_queries import LibraryEmbeddings, library_embeddings

FOLDS = 5
MIN_ANSWERS = 2 * FOLDS  # fewer and some fold would have nothing to learn from


class CurationError(MobilabelError):
    """Nothing to compute from yet (no embeddings, too few answers) or a result that is not in the library."""


@dataclass(frozen=True)
class LikelyMistake:
    """An answer the model, fitted without it, disagrees with; ``why`` says so in words."""

    result_id: int
    image_path: str
    given_label: str
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


@dataclass(frozen=True)
class _Indexed:
    signature: tuple[str, int, int]  # backbone, images, largest result id (storage.curation_queries.library_signature)
    library: LibraryEmbeddings
    index: SearchIndex


# The last library read and its index, per process: at a million images reading the embeddings takes
# seconds and building the IVF index minutes, so "more like this" reuses them until the library changes.
_last: _Indexed | None = None
_last_lock = threading.Lock()


def _library(db: Database) -> LibraryEmbeddings:
    with db.transaction() as session:
        backbone = library_backbone(session)
        library = library_embeddings(session, backbone) if backbone else None
    if library is None or not len(library):
        raise CurationError("no stored embeddings yet: label a folder first (mobilabel label DIR)")
    return library


def _indexed(db: Database) -> _Indexed:
    """The library and its kNN index, rebuilt only when the library changed since the last call."""
    global _last
    with _last_lock:
        with db.transaction() as session:
            backbone = library_backbone(session)
            signature = (backbone, *library_signature(session, backbone)) if backbone else None
        if signature is None or _last is None or _last.signature != signature:
            library = _library(db)
            _last = _Indexed(signature or ("", 0, 0), library, build_index(library.vectors))
        return _last


def likely_mistakes(db: Database, count: int = 20) -> tuple[list[LikelyMistake], int]:
    """The ``count`` answers likeliest to be wrong, likeliest first, and how many answers were checked.

    Raises CurationError without embeddings or with fewer than ``MIN_ANSWERS`` answers on embedded images."""
    library = _library(db)
    with db.transaction() as session:
        answers = standing_answers(session)
    rows = [i for i, h in enumerate(library.content_hashes) if h in answers]
    rows = list({library.content_hashes[i]: i for i in rows}.values())  # one row per content
    if len(rows) < MIN_ANSWERS:
        raise CurationError(f"{len(rows)} answers on embedded images; likely mistakes need at least {MIN_ANSWERS}")
    given = [answers[library.content_hashes[i]] for i in rows]
    classes = sorted(set(given))
    labels = np.array([classes.index(g) for g in given], np.int64)
    probabilities = out_of_fold_probabilities(library.vectors[rows], labels, len(classes), FOLDS)
    ranking = rank_mistakes(probabilities, labels)
    out = []
    for i in ranking.order[:count].tolist():
        predicted = int(probabilities[i].argmax())
        model_label = classes[int(ranking.suggested[i])] if ranking.flagged[i] else classes[predicted]
        p_given, p_model = float(probabilities[i, labels[i]]), float(probabilities[i, classes.index(model_label)])
        if ranking.flagged[i]:
            why = (
                f"a model trained without this answer says {model_label} ({p_model:.2f}, above the {ranking.thresholds[classes.index(model_label)]:.2f} "
                f"it gives its own {model_label} answers on average) and {given[i]} only {p_given:.2f}"
            )
        else:
            why = f"not flagged: ranked by how little the model believes {given[i]} ({p_given:.2f}; {model_label} {p_model:.2f})"
        result = int(library.result_ids[rows[i]])
        out.append(
            LikelyMistake(
                result, library.image_paths[rows[i]], given[i], model_label, p_given, p_model, bool(ranking.flagged[i]), why
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
    library = _library(db)
    groups = near_duplicate_groups(library.vectors, threshold)
    groups.sort(key=lambda g: (-len(g), g[0]))
    return [_members(db, [int(library.result_ids[i]) for i in group]) for group in groups]


def more_like_this(db: Database, result_id: int, count: int = 20) -> list[Member]:
    """The ``count`` images most like result ``result_id`` (itself excluded), most similar first.

    Raises CurationError when that result has no stored embedding (or the library none)."""
    indexed = _indexed(db)
    library = indexed.library
    where = np.flatnonzero(library.result_ids == result_id)
    if not len(where):
        raise CurationError(f"result {result_id} is not a labelled image with a stored embedding")
    found, similarity = indexed.index.search(library.vectors[where[0]], count + 1)
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
