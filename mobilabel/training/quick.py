"""The quick head: new suggestions for the whole library in seconds, from stored embeddings.

A linear head (multinomial logistic regression, L2-regularised, fitted by L-BFGS) is fitted on the
stored embeddings (storage.embedding_queries) of the answered images, under the backbone of the
version labelling uses now. The answers are those training from answers uses (``data.answers_split``:
your active classes and ``other``; ``skip`` and retired classes not trained on; at least
``MIN_ANSWERS`` per class), but every answer but the audit ones is trained on: the held-out measure
comes from k-fold out-of-fold predictions instead of a held-out fifth (issue 26 item 5), so no
answer is kept from the head.

The head also learns from the library it labels (self-training, ``fit_with_unlabelled``): fitted on the
answers, it labels a sample of the unanswered images (``UNLABELLED_SAMPLE``, ``embedding_queries.library_sample``)
and is fitted again with those it gives ``PSEUDO_CONFIDENCE`` or more as answers of that class. With few
answers that is what closes the gap to a head fitted on the whole set: on the bench (bench/results/loop.csv,
the 609 shared flowers, least-margin queue, 5 seeds) the suggestions on the unanswered rest were 0.904 right
after 100 answers, against 0.872 from the answers alone (the mean over 10 seeds: 0.891 against 0.878). Every
out-of-fold fit does the same from its own first fit, so the held-out measure, the gate and the calibration
describe the head that labels.

The gate, as ``promotion.promote_if_better``'s rule: the new version becomes active only if it labels
strictly more held-out answers right than the active version (below ``evidence.MIN_COMPARED`` of them:
only if it learnt from answers the active version did not), both counted on the same answers:
the audit answers (neither trained on them) and the answers the active version was not trained on
(for the new head, its out-of-fold prediction). The active version's labels are its stored results, so
nothing is decoded. A class one version does not know is never right for it. With no version of your
own active (none, or the ImageNet weights) the new one is promoted; ``force`` promotes anyway.

The head is calibrated as a trained version is (``calibration``: temperature scaling), on its held-out
predictions: every answer it trained on predicted out-of-fold, every audit answer by the head itself
(``calibrated_held_out``). The out-of-fold predictions are stored with their calibrated confidence
(``held_out_predictions``), so `accept` has every answer as held-out evidence, not a fifth of them.

Once promoted, every labelled image of the library with an embedding under the backbone is relabelled
from it (no photo decoded), and the results of quick versions older than the active one and its
predecessor are pruned (``pruning.prune_quick_results``). The version's checkpoint is the backbone with
the new head, so workers, `label` and `predict` use it like any other version.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from sqlalchemy.orm import Session

from .. import collector
from ..calibration import CALIBRATION_METRIC, Calibration, calibrate, softmax
from ..config import Settings
from ..errors import MobilabelError
from ..models import Checkpoint
from ..models.checkpoint import new_version_id
from ..models.embedding import backbone_fingerprint
from ..storage import Database
from ..storage import training_runs as stored_runs
from ..storage import versions as stored_versions
from ..storage.accuracy_queries import answers_new_to, trained_hashes, version_labels
from ..storage.class_queries import trainable_labels
from ..storage.corrections import VerifiedLabel, usable_corrections
from ..storage.embedding_queries import last_result_id, library_chunk, library_sample, load_embeddings
from ..storage.pruning import prune_quick_results
from ..storage.results import RankedLabels, insert_results
from ..storage.trained_answers import record_held_out_predictions, record_trained
from ..versions.checkpoints import register_checkpoint, resolve_checkpoint
from .data import answers_split
from .errors import TrainingError
from .evidence import too_few_to_compare

FOLDS = 5  # out-of-fold predictions of the trained answers: each measured by a head fitted without it
L2 = 1.0  # C = 1 in scikit-learn's terms: the penalty 0.5 * |W|^2 beside the summed log loss
MAX_ITERATIONS = 200
# Self-training: unanswered images whose (uncalibrated) top probability is at least this are fitted on as answers of
# that class. Tried 0.8, 0.9, 0.97 on the bench: each beat the answers alone at 100 answers; 0.9 is the usual choice.
PSEUDO_CONFIDENCE = 0.9
# Unanswered images labelled for self-training: enough to stand for the library at 300 answers, few enough that
# the six fits of a refresh (the head and its five out-of-fold fits) stay about a second each on one thread.
UNLABELLED_SAMPLE = 1000
_HEAD_KEYS = ("classifier.1.weight", "classifier.1.bias")  # both architectures: classifier = (Dropout, Linear)


class QuickHeadError(TrainingError, MobilabelError):
    """A quick fit that cannot be made (no embeddings, too few answers); the message says what to do."""


@dataclass(frozen=True)
class LinearHead:
    """Logits = vectors (N, D) @ ``weight``.T (C, D) + ``bias`` (C,), class i being ``classes[i]``."""

    classes: list[str]
    weight: np.ndarray
    bias: np.ndarray

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """The logits of ``vectors`` (N, D) float32: (N, C)."""
        logits: np.ndarray = vectors @ self.weight.T + self.bias
        return logits

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """Softmax of the logits of ``vectors`` (N, D) float32: (N, C)."""
        logits = self.logits(vectors)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict(self, vectors: np.ndarray) -> list[str]:
        return [self.classes[i] for i in (vectors @ self.weight.T + self.bias).argmax(axis=1)]


def fit_head(
    vectors: np.ndarray, targets: np.ndarray, classes: Sequence[str], l2: float = L2, start: LinearHead | None = None
) -> LinearHead:
    """A linear head fitted on ``vectors`` (N, D) float32 with ``targets`` (N,) indices into ``classes``: the
    minimum of the summed cross-entropy plus ``l2`` / 2 * |W|^2 (bias not penalised), by full-batch L-BFGS
    (torch, CPU, on the one-thread fitting thread: ``_fitting_thread``). ``start``: a head to begin from (the
    out-of-fold fits start from the full fit, and converge in a few steps). A class with no example gets a
    large negative bias."""
    return _fitting_thread().submit(_fit_head, vectors, targets, classes, l2, start).result()


def fit_with_unlabelled(
    vectors: np.ndarray,
    targets: np.ndarray,
    classes: Sequence[str],
    unlabelled: np.ndarray,
    l2: float = L2,
    start: LinearHead | None = None,
) -> LinearHead:
    """``fit_head`` on the answers ``vectors`` (N, D) / ``targets`` (N,), then again, starting from that head, with
    the rows of ``unlabelled`` (M, D) float32, images nobody answered, to which it gives a top probability of at least
    ``PSEUDO_CONFIDENCE``, as answers of their top class (self-training). ``fit_head``'s head when none is that sure
    (or M = 0)."""
    head = fit_head(vectors, targets, classes, l2)
    if not len(unlabelled):
        return head
    probabilities = head.probabilities(unlabelled)
    sure = probabilities.max(axis=1) >= PSEUDO_CONFIDENCE
    if not sure.any():
        return head
    x = np.concatenate([vectors, unlabelled[sure]])
    y = np.concatenate([np.asarray(targets, dtype=np.int64), probabilities[sure].argmax(axis=1)])
    return fit_head(x, y, classes, l2, start=head)


_fitter: ThreadPoolExecutor | None = None
_fitter_lock = threading.Lock()


def _fitting_thread() -> ThreadPoolExecutor:
    """The thread every fit runs on, its torch thread count one: on a shared CPU, several threads of so small
    a problem wait on each other many times longer than they compute (300 answers under load: 0.8 s on one
    thread, 13 s on two). ``torch.set_num_threads`` sets the calling thread's OpenMP and MKL counts and the
    count threads touching torch for the first time start with; the count is set on the fitting thread and
    the default set back at once, so no other thread of the process (`serve` labels beside it) changes."""
    global _fitter
    with _fitter_lock:
        if _fitter is None:
            import torch

            default = torch.get_num_threads()
            fitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quick-fit")
            fitter.submit(_one_thread).result()
            torch.set_num_threads(default)  # the default for new threads, back as it was (this thread's: unchanged)
            _fitter = fitter
        return _fitter


def _one_thread() -> None:
    import torch

    # A thread takes the default count the first time torch asks for its count (get_num_threads, or any parallel
    # operation), replacing what was set before: so that first, then this thread's count.
    torch.get_num_threads()
    torch.set_num_threads(1)


def _fit_head(
    vectors: np.ndarray, targets: np.ndarray, classes: Sequence[str], l2: float, start: LinearHead | None
) -> LinearHead:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    y = torch.from_numpy(np.asarray(targets, dtype=np.int64))
    initial = start or LinearHead(
        list(classes), np.zeros((len(classes), x.shape[1]), np.float32), np.zeros(len(classes), np.float32)
    )
    weight = torch.tensor(initial.weight, requires_grad=True)
    bias = torch.tensor(initial.bias, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weight, bias], max_iter=MAX_ITERATIONS, tolerance_grad=1e-5, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y, reduction="sum") + 0.5 * l2 * (weight * weight).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    absent = np.ones(len(classes), dtype=bool)
    absent[np.asarray(targets, dtype=np.int64)] = False
    fitted_bias = bias.detach().numpy().copy()
    fitted_bias[absent] = -1e4  # never predicted: no example taught it
    return LinearHead(list(classes), weight.detach().numpy().copy(), fitted_bias)


def fold_of(content_hash: str, folds: int = FOLDS) -> int:
    """The fold of an answer: a stable hash of its content, so folds do not move as answers come in."""
    return int.from_bytes(hashlib.sha256(content_hash.encode()).digest()[:8], "big") % folds


def out_of_fold(
    vectors: np.ndarray,
    targets: np.ndarray,
    classes: Sequence[str],
    folds: Sequence[int],
    start: LinearHead | None = None,
    unlabelled: np.ndarray | None = None,
) -> np.ndarray:
    """For each row, the logits (N, C float32) a head fitted on the other folds' rows gives it (``folds``: each
    row's fold; NaN rows where a single fold leaves nothing to fit on); each fit begins from ``start`` (the head
    fitted on all rows: the optimum moves little without a fold). With ``unlabelled`` (M, D), each fold's head is
    self-trained on it as ``fit_with_unlabelled``, from its own first fit (which begins from ``start``). A row's out-of-fold label is its argmax."""
    fold_array = np.asarray(folds)
    logits = np.full((len(targets), len(classes)), np.nan, dtype=np.float32)
    for fold in sorted(set(folds)):
        inside = fold_array == fold
        if inside.all():  # one fold only: nothing to fit on without it
            continue
        if unlabelled is not None:
            head = fit_with_unlabelled(vectors[~inside], targets[~inside], classes, unlabelled, start=start)
        else:
            head = fit_head(vectors[~inside], targets[~inside], classes, start=start)
        logits[inside] = head.logits(vectors[inside])
    return logits


@dataclass(frozen=True)
class HeldOutFit:
    """A quick head's held-out predictions and the calibration fitted on them (``calibrated_held_out``)."""

    labels: dict[str, str]  # content hash -> held-out label: out-of-fold for a trained answer, the head's for an audit one
    out_of_fold: list[tuple[str, str, float]]  # (content hash, label, calibrated confidence) of the trained answers
    calibration: Calibration | None  # None: no held-out prediction to fit it on
    answered: dict[str, tuple[str, float]] = field(default_factory=dict)  # content hash -> (answer, its out-of-fold probability)

    def calibrated(self, head: LinearHead) -> LinearHead:
        """``head`` with its logits divided by the temperature: the same labels, calibrated probabilities."""
        t = self.calibration.temperature if self.calibration is not None else 1.0
        return LinearHead(head.classes, head.weight / np.float32(t), head.bias / np.float32(t))


def calibrated_held_out(
    head: LinearHead,
    trained: tuple[Sequence[str], np.ndarray, np.ndarray],
    audit: tuple[Sequence[str], np.ndarray, np.ndarray],
    unlabelled: np.ndarray | None = None,
) -> HeldOutFit:
    """Held-out predictions of ``head`` and its temperature (``calibration``, fitted on them): ``trained`` and
    ``audit`` are (content hashes, vectors (N, D), targets (N,)) of the answers it was fitted on and of the audit
    answers it was not. A trained answer is predicted out-of-fold (``FOLDS`` folds by ``fold_of``, each refitted
    without it), an audit answer by ``head`` itself; the temperature is fitted on all those logits, so every
    answer counts as held-out evidence (``record_held_out_predictions``: what `accept` bounds its precision on).
    ``unlabelled``: the unanswered images ``head`` was self-trained on (``fit_with_unlabelled``); each out-of-fold
    head is then self-trained on them too."""
    hashes, x, y = trained
    oof = out_of_fold(x, y, head.classes, [fold_of(h) for h in hashes], head, unlabelled)
    known = ~np.isnan(oof).any(axis=1)
    audit_hashes, audit_x, audit_y = audit
    logits = np.concatenate([oof[known], head.logits(audit_x)]) if len(audit_hashes) else oof[known]
    targets = np.concatenate([y[known], audit_y]) if len(audit_hashes) else y[known]
    calibration = calibrate(logits, targets) if len(targets) else None
    probabilities = softmax(oof[known], calibration.temperature if calibration else 1.0)
    kept = [h for h, k in zip(hashes, known, strict=True) if k]
    predictions = [(h, head.classes[int(p.argmax())], float(p.max())) for h, p in zip(kept, probabilities, strict=True)]
    answered = {h: (head.classes[int(t)], float(p[t])) for h, p, t in zip(kept, probabilities, y[known], strict=True)}
    labels = {h: label for h, label, _ in predictions}
    labels.update(zip(audit_hashes, head.predict(audit_x) if len(audit_hashes) else [], strict=True))
    return HeldOutFit(labels, predictions, calibration, answered)


@dataclass(frozen=True)
class QuickReport:
    """What a quick fit did: the version, whether the gate promoted it and why, and what it relabelled."""

    version_id: str
    classes: list[str]
    trained: int  # answers fitted on
    promoted: bool
    reason: str
    held_out: int = 0  # held-out answers both versions were counted on
    candidate_right: int | None = None
    active_right: int | None = None
    relabelled: int = 0  # images given the new version's labels
    pruned: int = 0  # result rows of older quick versions deleted
    without_embedding: int = 0  # answers left out: their content has no embedding under the backbone yet
    seconds: float = 0.0
    run_id: int | None = None
    left_out: dict[str, str] = field(default_factory=dict)


def quick_refresh(db: Database, settings: Settings, force: bool = False) -> QuickReport:
    """Fit, gate, register, relabel and prune, as the module says; the attempt is recorded as a training run
    (trigger ``quick``), so `mobilabel runs` lists it and `review next` can say when the gate refused.

    Raises ``QuickHeadError`` when there is nothing to fit (no embeddings under the backbone, or too few
    answers per class: ``data.answers_split``'s message); the run then records that error.
    """
    with db.transaction() as session:
        run_id = stored_runs.create_run(session, None, {"quick": True}, force, relabel=True, trigger=stored_runs.QUICK_TRIGGER).id
        stored_runs.start_run(session, run_id)
    try:
        report = replace(_refresh(db, settings, force), run_id=run_id)
    except TrainingError as exc:
        with db.transaction() as session:
            stored_runs.finish_run(session, run_id, None, None, error=str(exc))
        raise QuickHeadError(str(exc)) from exc
    except BaseException as exc:
        with db.transaction() as session:
            stored_runs.finish_run(session, run_id, None, None, error=str(exc) or exc.__class__.__name__)
        raise
    with db.transaction() as session:
        stored_runs.finish_run(session, run_id, report.version_id, report.promoted)
    return report


def _refresh(db: Database, settings: Settings, force: bool) -> QuickReport:
    started = time.perf_counter()
    base = resolve_checkpoint(db, settings)  # the version labelling uses now: its backbone computed the embeddings
    backbone = backbone_fingerprint(base.state_dict)
    with db.transaction() as session:
        answers = [a for a in usable_corrections(session) if not a.is_check]  # check answers serve `accept` alone
        trainable = trainable_labels(session)
    verified = answers_split(answers, trainable)  # the classes, and its refusals (too few answers, one class)
    classes = verified.split.classes
    usable = [a for a in answers if a.label in classes and a.content_hash is not None]
    with db.transaction() as session:
        stored = load_embeddings(session, backbone, [str(a.content_hash) for a in usable])
    row_of = {h: i for i, h in enumerate(stored.content_hashes)}
    without = [a for a in usable if a.content_hash not in row_of]
    usable = [a for a in usable if a.content_hash in row_of]
    trained = [a for a in usable if not a.audit]
    if len({a.label for a in trained}) < 2:
        raise QuickHeadError(
            f"a quick head needs answers of two classes with stored embeddings; {len(without)} answers have none under "
            "the active version's backbone: label their folder again (`mobilabel label`) to embed them"
        )

    def rows(of: Sequence[VerifiedLabel]) -> tuple[np.ndarray, np.ndarray]:
        picked = stored.vectors[[row_of[str(a.content_hash)] for a in of]]
        return picked, np.array([classes.index(a.label) for a in of], dtype=np.int64)

    x, y = rows(trained)
    with db.transaction() as session:
        answered = {str(a.content_hash) for a in answers if a.content_hash is not None}
        unlabelled = library_sample(session, backbone, UNLABELLED_SAMPLE, answered).vectors
    head = fit_with_unlabelled(x, y, classes, unlabelled)
    checkpoint = _with_head(base, head, len(trained))
    # Held-out predictions of the new head: out-of-fold for what it trained on, direct for the audit answers.
    audit = [a for a in usable if a.audit]
    held = calibrated_held_out(
        head, ([str(a.content_hash) for a in trained], x, y), ([str(a.content_hash) for a in audit], *rows(audit)), unlabelled
    )
    if held.calibration is not None:  # in the checkpoint: workers labelling with it divide by the same temperature
        checkpoint.metrics[CALIBRATION_METRIC] = held.calibration.to_dict()
    report = _gate(db, checkpoint, usable, held.labels, [str(a.content_hash) for a in trained], force)
    checkpoint.metrics[stored_runs.GATE_METRIC] = report.reason  # what `review next` says when the gate refused it
    register_checkpoint(db, checkpoint)
    with db.transaction() as session:
        record_trained(session, checkpoint.version_id, [str(a.content_hash) for a in trained])
        record_held_out_predictions(session, checkpoint.version_id, held.out_of_fold, held.answered)
    report = replace(report, trained=len(trained), without_embedding=len(without), left_out=verified.left_out)
    if report.promoted:
        # One transaction: the new rows and the switch to them commit together (a refresh killed before leaves
        # nothing), and the rows are written current once (results.insert_results). Pruning comes after: the new
        # suggestions are readable from this commit on.
        with (
            db.transaction() as session,
            collector.paused(),
        ):  # rows as tuples, none in a cycle: 25 full collections, 6 s at a million images
            relabelled = relabel_from_embeddings(session, checkpoint.version_id, held.calibrated(head), backbone, settings.top_k)
            stored_versions.activate_version(
                session, checkpoint.version_id, reason=stored_versions.PROMOTED, written_current=True
            )
        with db.transaction() as session:
            pruned = prune_quick_results(session)
        report = replace(report, relabelled=relabelled, pruned=pruned)
    return replace(report, seconds=time.perf_counter() - started)


def _gate(
    db: Database,
    candidate: Checkpoint,
    answers: Sequence[VerifiedLabel],
    held: dict[str, str],
    trained: Sequence[str],
    force: bool,
) -> QuickReport:
    """Whether ``candidate`` replaces the active version (the module's rule, and ``evidence``'s below its minimum of
    held-out answers); ``held``: its held-out label per content; ``trained``: the contents of the answers it was fitted on."""
    version_id, classes = candidate.version_id, candidate.classes
    with db.transaction() as session:
        active = stored_versions.active_version_id(session)
        if active is None or active.startswith(stored_versions.IMAGENET_PREFIX):
            why = (
                "no version of your own was active" if active is None else f"the active version {active} is the ImageNet weights"
            )
            return QuickReport(version_id, classes, 0, True, why)
        seen = trained_hashes(session, active)
        measured = [a for a in answers if a.audit or a.content_hash not in seen]
        labels = version_labels(session, active, [str(a.content_hash) for a in measured])
        new_answers = answers_new_to(session, active, trained)
    measured = [a for a in measured if a.content_hash in labels and a.content_hash in held]
    candidate_right = sum(held[str(a.content_hash)] == a.label for a in measured)
    active_right = sum(labels[str(a.content_hash)] == a.label for a in measured)
    comparison = (
        f"{candidate_right} of {len(measured)} held-out answers right, against {active_right} for the active version {active}"
    )
    counts = (len(measured), candidate_right, active_right)
    if (few := too_few_to_compare(len(measured), new_answers)) is not None:
        promoted, why = few
        then = "" if promoted else ", promoted by force" if force else ", so the active version stays"
        return QuickReport(version_id, classes, 0, promoted or force, f"{comparison}; {why}{then}", *counts)
    promoted = candidate_right > active_right or force
    verdict = "" if candidate_right > active_right else "; not better" if candidate_right == active_right else "; worse"
    reason = (
        comparison
        + verdict
        + (", promoted by force" if force and verdict else "" if promoted else ", so the active version stays")
    )
    return QuickReport(version_id, classes, 0, promoted, reason, *counts)


def _with_head(base: Checkpoint, head: LinearHead, trained: int) -> Checkpoint:
    """``base``'s backbone with ``head`` as its classifier: a checkpoint like any other."""
    import torch

    state = dict(base.state_dict)
    state[_HEAD_KEYS[0]] = torch.from_numpy(head.weight.copy())
    state[_HEAD_KEYS[1]] = torch.from_numpy(head.bias.copy())
    metrics = {"quick": True, "trained_answers": trained, "base_version": base.version_id}
    return Checkpoint(
        base.arch,
        base.alpha,
        list(head.classes),
        state,
        base.preprocessing,
        metrics,
        version_id=f"{stored_versions.QUICK_PREFIX}{new_version_id()}",
        source=f"quick head on {trained} answers over {base.version_id}'s backbone",
    )


def relabel_from_embeddings(session: Session, version_id: str, head: LinearHead, backbone: str, top_k: int) -> int:
    """Label every image of the library that has an embedding under ``backbone`` with ``head`` as version
    ``version_id`` (new: no rows yet), a chunk at a time (``embedding_queries.LIBRARY_CHUNK``: memory stays flat),
    in ``session``'s transaction, which must activate the version before it commits (``results.insert_results``
    writes the rows current); returns the images labelled."""
    k = max(1, min(top_k, len(head.classes)))
    done, after, through = 0, 0, last_result_id(session)
    while True:
        chunk = library_chunk(session, backbone, after, through=through)
        if not len(chunk):
            return done
        after = int(chunk.result_ids[-1])
        probabilities = head.probabilities(chunk.vectors)
        # The top k of a few classes: a partial sort per row is no cheaper than argsort at C = 5, 10.
        order = np.argsort(-probabilities, axis=1)[:, :k]
        ranked = np.take_along_axis(probabilities, order, axis=1)
        labels = RankedLabels(chunk.image_paths, chunk.content_ids, chunk.content_hashes, head.classes, order, ranked)
        insert_results(session, labels, version_id)
        done += len(labels)
