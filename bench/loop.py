"""The labelling loop, simulated: how many answers the review queue needs, and how fast suggestions come back.

    python -m bench.loop [--seeds 5] [--rounds 15] [--round 20] [--speed-images 20000,1000000]
        [--speed-databases sqlite,postgresql] [--speed-repeats 2] [--speed-write-paths upsert,insert]
        [--no-loop] [--no-speed] [--no-cost]

(a) answers (``loop.csv``, per round ``loop_rounds.csv``): the 609 shared flowers pooled as one unsorted
    folder (named ``<class>-<split>-<file>``: the simulated reviewer's answer key), labelled once by
    `mobilabel label` with the ImageNet weights, which stores their embeddings (cached under bench/data).
    A simulated reviewer answers the queue in rounds of ``--round``: each round is chosen by the queue's
    own code (``review_queue.spread`` and ``audit_count`` over the candidates ``least_confident`` and
    ``random_offerable`` would give: the lowest-confidence pool, or a uniform draw while only ImageNet's
    labels are there), answered with the true class, and the suggestions are refreshed by the quick head
    (``training.quick.fit_head`` on the stored embeddings of the non-audit answers, refused while an
    answered class has fewer than ``MIN_ANSWERS``, as the product refuses it). Recorded after each round:
    the accuracy of the suggestions on the images nobody answered yet. Every strategy row and random order
    (every answer trained on) run with the same seeds; ``answers_needed`` is the first answer count whose
    accuracy is within one point of the reference (the 5-fold cross-validated accuracy of the same head
    fitted on all 609), as the median over seeds. Rows named "self-trained head" fit the head as the product
    does now (``training.quick.fit_with_unlabelled``: the answers, then again with the unanswered images it is
    sure of); its reference (``reference_self_trained``: each held-out fold being the unanswered library it also
    learns from) is beside the first, and every row must come within one point of the higher of the two. The
    gate is not simulated (every fit is used): on the held-out answers it compares, a head fitted on more
    answers is rarely worse.
(b) speed (``loop_speed.csv``): a library of N images with synthetic embeddings (float16, D = 1280) and 300
    answers on real files, on SQLite and on a local PostgreSQL (``--speed-databases``), then quick refreshes
    timed as `train --quick` runs them: from the answers committed to the new suggestions readable by
    `mobilabel results` (fit, out-of-fold fits, gate, registration, relabelling every image, activation,
    pruning), and the part of it spent writing (relabelling, activation, pruning). Each refresh runs on a
    fresh copy of one filled library, the write path before (each chunk upserted with its current rows
    refreshed) and now (rows written current in the activation's transaction: COPY on PostgreSQL; the other rows
    of those images flipped by one set-based UPDATE) alternated, ``--speed-repeats`` each:
    medians and their ratio (``--speed-write-paths insert``: now only, for a size where before takes too long).
    Targets: 10 s at 20,000 images, 2 minutes at 1,000,000 (both on 2 cores).
(c) cost (``loop_speed.csv``): `label`'s throughput on the 120 validation photos with and without keeping
    embeddings, alternated, each in a fresh database; and the bytes an embedding takes in the database.

On a shared machine, compare rows of one run only; the figures are small runs (a few minutes each).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.paths import DATA, FLOWERS, RESULTS, WEIGHTS
from mobilabel.storage.queue_queries import Candidate

LOOP_DATA = DATA / "loop"
POOLED = LOOP_DATA / "pooled"


@dataclass(frozen=True)
class Row:
    name: str
    ranking: str | None  # None: random order
    diverse: bool = True
    audit_share: float = 0.1
    self_trained: bool = False  # the head: fitted on the answers alone, or also on the unanswered images it is sure of


def strategies() -> list[Row]:
    from mobilabel.review_queue import ENTROPY, MARGIN

    return [
        Row("random order", None, False, 0.0),
        Row("least margin, diverse, audit 10%", MARGIN, True, 0.1),
        Row("least margin, audit 10%", MARGIN, False, 0.1),
        Row("entropy, diverse, audit 10%", ENTROPY, True, 0.1),
        Row("entropy, audit 10%", ENTROPY, False, 0.1),
        Row("least margin, diverse, audit 20%", MARGIN, True, 0.2),
        Row("least margin, diverse, no audit", MARGIN, True, 0.0),
        Row("random order, self-trained head", None, False, 0.0, True),
        Row("least margin, audit 10%, self-trained head", MARGIN, False, 0.1, True),
        Row("least margin, diverse, audit 10%, self-trained head", MARGIN, True, 0.1, True),
    ]


def machine() -> str:
    return f"{platform.machine()}-{os.cpu_count()}cores"


def load_avg() -> str:
    return f"{os.getloadavg()[0]:.1f}"


# --- (a) the answers a strategy needs -----------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    truth: list[str]
    vectors: np.ndarray  # (609, 1280) float32, from the stored float16 embeddings
    imagenet: list[tuple[str, float, list[dict[str, object]]]]  # (label, confidence, top_k) of the ImageNet weights


def embedded_flowers() -> Library:
    """The 609 flowers pooled in one folder, labelled by `mobilabel label` (ImageNet weights) with their embeddings
    stored; read back from the database (cached: a second run reads it only)."""
    from mobilabel.models import Checkpoint
    from mobilabel.models.embedding import backbone_fingerprint
    from mobilabel.storage import open_database
    from mobilabel.storage.embedding_queries import library_embeddings
    from mobilabel.storage.tables import Result

    url = f"sqlite:///{LOOP_DATA / 'flowers.db'}"
    if not (LOOP_DATA / "flowers.db").is_file():
        POOLED.mkdir(parents=True, exist_ok=True)
        for path in sorted(FLOWERS.glob("*/*/*.jpg")):
            shutil.copy(path, POOLED / f"{path.parent.name}-{path.parent.parent.name}-{path.name}")
        env = {
            **os.environ,
            "MOBILABEL_DATABASE_URL": url,
            "MOBILABEL_PRETRAINED": str(WEIGHTS),
            "MOBILABEL_HOME": str(LOOP_DATA),
        }
        import subprocess

        subprocess.run([sys.executable, "-m", "mobilabel", "label", str(POOLED)], env=env, check=True)
    db = open_database(url)
    backbone = backbone_fingerprint(Checkpoint.load(WEIGHTS).state_dict)
    from sqlalchemy import select

    with db.transaction() as session:
        library = library_embeddings(session, backbone)
        rows = {r.id: r for r in session.scalars(select(Result).where(Result.id.in_(library.result_ids.tolist())))}
    assert len(library) == 609, f"{len(library)} flowers embedded, expected 609"
    truth = [Path(p).name.split("-")[0] for p in library.image_paths]
    imagenet = [
        (str(rows[int(i)].label), float(rows[int(i)].confidence or 0), list(rows[int(i)].top_k or [])) for i in library.result_ids
    ]
    return Library(truth, library.vectors, imagenet)


def reference_accuracy(library: Library, self_trained: bool = False) -> float:
    """5-fold cross-validated accuracy of the quick head fitted on all 609 (folds by ``fold_of``, stable). With
    ``self_trained``, the head as the product fits it now (``fit_with_unlabelled``), each fold's held-out images
    being the unanswered library it also learns from."""
    from mobilabel.training.quick import fit_head, fit_with_unlabelled, fold_of

    classes = sorted(set(library.truth))
    y = np.array([classes.index(t) for t in library.truth])
    folds = np.array([fold_of(str(i)) for i in range(len(y))])
    right = 0
    for fold in range(5):
        x, targets = library.vectors[folds != fold], y[folds != fold]
        if self_trained:
            head = fit_with_unlabelled(x, targets, classes, library.vectors[folds == fold])
        else:
            head = fit_head(x, targets, classes)
        right += sum(
            p == library.truth[i]
            for i, p in zip(np.flatnonzero(folds == fold), head.predict(library.vectors[folds == fold]), strict=True)
        )
    return right / len(y)


def simulate(library: Library, row: Row, seed: int, rounds: int, size: int) -> tuple[list[tuple[int, float]], dict[int, bool]]:
    """(answers so far, accuracy of the suggestions on the unanswered rest) after each round, and the answers:
    image index -> whether it was an audit answer, in the order given (``bench.accept``'s ``loop`` rows use it)."""
    from mobilabel.review_queue import POOL_FACTOR, Strategy, audit_count, spread
    from mobilabel.training.data import MIN_ANSWERS
    from mobilabel.training.quick import UNLABELLED_SAMPLE, fit_head, fit_with_unlabelled

    rng = np.random.default_rng(seed)
    n = len(library.truth)
    answered: dict[int, bool] = {}  # index -> audit
    suggestions = list(library.imagenet)
    cold = True
    curve = []
    strategy = Strategy(row.ranking or "margin", row.diverse, row.audit_share)
    for _ in range(rounds):
        rest = [i for i in range(n) if i not in answered]
        if not rest:
            break
        count = min(size, len(rest))
        if row.ranking is None:
            for i in rng.choice(rest, count, replace=False):
                answered[int(i)] = False
        else:
            candidates = [Candidate(i, f"/library/{i:04d}.jpg", str(i), *suggestions[i]) for i in rest]  # type: ignore[arg-type]
            wanted = count - audit_count(count, strategy.audit_share)
            if cold:  # random_offerable: a uniform draw
                pool = [candidates[int(j)] for j in rng.permutation(len(candidates))[: count * POOL_FACTOR]]
            else:  # least_confident: the lowest-confidence pool
                pool = sorted(candidates, key=lambda c: (c.confidence or 0.0, c.result_id))[: count * POOL_FACTOR]
            picked = [item.result_id for item in spread(pool, wanted, (), by_margin=not cold, strategy=strategy)]
            others = [i for i in rest if i not in set(picked)]
            audit = [int(i) for i in rng.choice(others, min(count - len(picked), len(others)), replace=False)]
            answered.update({i: False for i in picked} | {i: True for i in audit})
        trained = [i for i, is_audit in answered.items() if not is_audit]
        counts = Counter(library.truth[i] for i in answered)
        if len({library.truth[i] for i in trained}) >= 2 and min(counts.values()) >= MIN_ANSWERS:
            classes = sorted(counts)
            x, y = library.vectors[trained], np.array([classes.index(library.truth[i]) for i in trained])
            if row.self_trained:  # the unanswered images: all of them (609 is under the product's sample)
                unanswered = [i for i in range(n) if i not in answered][:UNLABELLED_SAMPLE]
                head = fit_with_unlabelled(x, y, classes, library.vectors[unanswered])
            else:
                head = fit_head(x, y, classes)
            probabilities = head.probabilities(library.vectors)
            order = np.argsort(-probabilities, axis=1)[:, :5]
            suggestions = [
                (classes[int(o[0])], float(p[o[0]]), [{"label": classes[int(k)], "confidence": float(p[k])} for k in o])
                for o, p in zip(order, probabilities, strict=True)
            ]
            cold = False
        rest = [i for i in range(n) if i not in answered]
        accuracy = sum(suggestions[i][0] == library.truth[i] for i in rest) / len(rest) if rest else 1.0
        curve.append((len(answered), accuracy))
    return curve, answered


def answers_loop(seeds: int, rounds: int, size: int) -> None:
    library = embedded_flowers()
    reference = reference_accuracy(library, self_trained=False)
    self_trained_reference = reference_accuracy(library, self_trained=True)
    print(f"reference (5-fold CV of the quick head on all 609): {reference:.4f}", flush=True)
    print(f"reference of the self-trained head (each held-out fold its unanswered library): {self_trained_reference:.4f}")
    target = max(reference, self_trained_reference) - 0.01  # one point below the higher: every row is held to both
    summary, per_round = [], []
    for row in strategies():
        curves = [simulate(library, row, seed, rounds, size)[0] for seed in range(seeds)]
        needed = [next((a for a, acc in curve if acc >= target), None) for curve in curves]
        reached = sorted(x if x is not None else 10**9 for x in needed)
        median = statistics.median(reached)
        at = {
            k: statistics.median(acc for curve in curves for a, acc in curve if a == k)
            for k in (100, 200, 300)
            if all(any(a == k for a, _ in c) for c in curves)
        }
        summary.append(
            {
                "strategy": row.name,
                "answers_needed_median": int(median) if median < 10**9 else f">{rounds * size}",
                "answers_needed_per_seed": " ".join(str(x) if x is not None else "-" for x in needed),
                "acc_at_100": f"{at.get(100, float('nan')):.3f}",
                "acc_at_200": f"{at.get(200, float('nan')):.3f}",
                "acc_at_300": f"{at.get(300, float('nan')):.3f}",
                "reference": f"{reference:.3f}",
                "reference_self_trained": f"{self_trained_reference:.3f}",
                "seeds": seeds,
                "machine": machine(),
                "load_avg": load_avg(),
            }
        )
        print(summary[-1], flush=True)
        for k in range(rounds):
            points = [c[k] for c in curves if len(c) > k]
            per_round.append(
                {
                    "strategy": row.name,
                    "answers": points[0][0],
                    "median_accuracy_rest": f"{statistics.median(p[1] for p in points):.3f}",
                }
            )
    write(RESULTS / "loop.csv", summary)
    write(RESULTS / "loop_rounds.csv", per_round)


# --- (b) and (c): speed and cost ----------------------------------------------------------------------


POSTGRES_ADMIN_URL = os.environ.get("MOBILABEL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# The write path before issue 27's second pass, for the side-by-side rows: each chunk upserted with its current
# rows refreshed (storage.results.write_results), where a new version's rows are now written current in the
# transaction that activates it (storage.results.insert_results).
WRITE_PATHS = ("upsert", "insert")


def fill_library(url: str, images: int, answers: int, work: Path) -> None:
    """A library at ``url`` (migrated, empty) of ``images`` labelled images with synthetic embeddings (float16,
    D = 1280, five classes around five centres), ``answers`` of them real files answered with their class."""
    from sqlalchemy import create_engine

    from mobilabel.hashing import hash_file
    from mobilabel.models import Checkpoint
    from mobilabel.models.embedding import backbone_fingerprint
    from mobilabel.storage import open_database
    from mobilabel.storage.classes import add_class
    from mobilabel.storage.corrections import CorrectionRecord, save_corrections
    from mobilabel.storage.embedding_writes import write_vectors
    from mobilabel.storage.migrations_runner import upgrade
    from mobilabel.storage.results import ResultRecord, write_results
    from mobilabel.storage.states import ResultStatus
    from mobilabel.versions.checkpoints import register_checkpoint

    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    db = open_database(url)
    imagenet = Checkpoint.load(WEIGHTS)
    register_checkpoint(db, imagenet, activate=True)
    backbone = backbone_fingerprint(imagenet.state_dict)
    classes = ["a", "b", "c", "d", "e"]
    rng = np.random.default_rng(0)
    centres = rng.random((len(classes), 1280), dtype=np.float32) * 2
    answered_files = []
    (work / "answers").mkdir()
    for i in range(answers):
        path = work / "answers" / f"{classes[i % 5]}-{i:05d}.jpg"
        path.write_bytes(f"answer {i}".encode())
        answered_files.append(path)
    hashes = [hash_file(p) for p in answered_files] + [f"{i:032x}" for i in range(answers, images)]
    paths = [str(p) for p in answered_files] + [f"/library/{i // 1000:04d}/{i:07d}.jpg" for i in range(answers, images)]
    for start in range(0, images, 10_000):
        end = min(images, start + 10_000)
        truth = np.arange(start, end) % 5
        vectors = centres[truth] + rng.random((end - start, 1280), dtype=np.float32)
        records = [
            ResultRecord(
                paths[i], "1:1", ResultStatus.OK, "daisy", 0.5, [{"label": "daisy", "confidence": 0.5}], content_hash=hashes[i]
            )
            for i in range(start, end)
        ]
        with db.transaction() as session:
            write_results(session, records, imagenet.version_id, None)
            write_vectors(session, backbone, hashes[start:end], vectors)
    with db.transaction() as session:
        for name in classes:
            add_class(session, name)
        save_corrections(session, [CorrectionRecord(str(p), p.name.split("-")[0]) for p in answered_files])
    db.engine.dispose()


class Copies:
    """Fresh copies of one filled library: a SQLite file copied, or a PostgreSQL database made from a template."""

    def __init__(self, dialect: str, work: Path) -> None:
        self.dialect, self.work, self.made = dialect, work, 0
        self.template = self._url("template")
        if dialect == "postgresql":
            self._admin(f'CREATE DATABASE "{self._name(self.template)}"')

    def _name(self, url: str) -> str:
        return url.rsplit("/", 1)[1]

    def _url(self, name: str) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.work / name}.db"
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/mobilabel_bench_{os.getpid()}_{name}"

    def _admin(self, statement: str) -> None:
        from sqlalchemy import create_engine, text

        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(statement))
        admin.dispose()

    def fresh(self) -> str:
        self.made += 1
        url = self._url(f"copy{self.made}")
        if self.dialect == "sqlite":
            shutil.copy(self.template.removeprefix("sqlite:///"), url.removeprefix("sqlite:///"))
        else:
            self._admin(f'CREATE DATABASE "{self._name(url)}" TEMPLATE "{self._name(self.template)}"')
        return url

    def drop(self, url: str) -> None:
        if self.dialect == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self._name(url)}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.template)


def timed_refresh(url: str, write_path: str) -> tuple[float, float]:
    """One quick refresh of the library at ``url``, as `train --quick` runs it: (seconds from the answers committed
    to the new suggestions readable by `mobilabel results`, seconds of that spent writing: relabelling, activation
    and pruning). ``write_path``: "insert" (the product's) or "upsert" (before: ``WRITE_PATHS``)."""
    import mobilabel.training.quick as quick
    from mobilabel.config import load_settings
    from mobilabel.storage import open_database, versions
    from mobilabel.storage.results import write_results

    os.environ["MOBILABEL_DATABASE_URL"] = url
    settings = load_settings()
    db = open_database(url)
    relabel, insert, activate = quick.relabel_from_embeddings, quick.insert_results, versions.activate_version
    writing: list[float] = []

    def timed_relabel(*args: object, **kwargs: object) -> int:
        writing.append(time.perf_counter())
        return relabel(*args, **kwargs)  # type: ignore[arg-type]

    quick.relabel_from_embeddings = timed_relabel  # type: ignore[assignment]
    if write_path == "upsert":
        quick.insert_results = lambda session, labels, version_id: write_results(session, labels.records(), version_id, None)  # type: ignore[assignment]
        # Upserted rows are not written current: the activation evaluates the rule for them, as it did then.
        versions.activate_version = lambda session, version_id, reason, written_current: activate(session, version_id, reason)  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        report = quick.quick_refresh(db, settings)
        ended = time.perf_counter()
    finally:
        quick.relabel_from_embeddings, quick.insert_results = relabel, insert  # type: ignore[assignment]
        versions.activate_version = activate  # type: ignore[assignment]
        db.engine.dispose()
    assert report.promoted and report.relabelled > 0, report
    return ended - started, ended - writing[0]


def speed(
    images: int, dialect: str = "sqlite", repeats: int = 2, answers: int = 300, write_paths: tuple[str, ...] = WRITE_PATHS
) -> list[dict[str, object]]:
    """Quick refreshes over ``images`` synthetic embeddings, ``answers`` of them answered on real files, with the
    write path before and now alternated on copies of one library (``repeats`` each): medians, and their ratio."""
    work = Path(tempfile.mkdtemp(prefix="loop-speed-", dir=DATA if DATA.is_dir() else None))
    os.environ.update(MOBILABEL_PRETRAINED=str(WEIGHTS), MOBILABEL_HOME=str(work / "home"), MOBILABEL_REFRESH_EVERY="0")
    copies = Copies(dialect, work)
    try:
        filled = time.perf_counter()
        fill_library(copies.template, images, answers, work)
        print(f"{images} images filled in {time.perf_counter() - filled:.0f} s ({dialect})", flush=True)
        times: dict[str, list[tuple[float, float]]] = {w: [] for w in write_paths}
        failed: dict[str, str] = {}
        for _ in range(repeats):
            for write_path in (w for w in write_paths if w not in failed):
                url = copies.fresh()
                try:
                    times[write_path].append(timed_refresh(url, write_path))
                except Exception as exc:  # the write path before may fail (PostgreSQL: a lock per path)
                    lines = str(exc).splitlines()
                    hints = [line.removeprefix("HINT:  ") for line in lines if line.startswith("HINT:")]
                    failed[write_path] = "; ".join([lines[0].removeprefix("(psycopg.errors.OutOfMemory) "), *hints])
                copies.drop(url)
                print(write_path, times[write_path][-1:], failed.get(write_path, ""), flush=True)
    finally:
        copies.close()
        shutil.rmtree(work, ignore_errors=True)

    def figure(w: str) -> str:
        if w in failed:
            return f"failed: {failed[w]}"
        return f"{statistics.median(t for t, _ in times[w]):.1f} s (writing {statistics.median(s for _, s in times[w]):.1f} s)"

    def ratio(of: int) -> str:
        before, now = (statistics.median(t[of] for t in times[w]) for w in WRITE_PATHS)
        return f"{before / now:.2f}x"

    target = {20_000: "10 s", 1_000_000: "120 s"}.get(images, "")
    rows: list[dict[str, object]] = [
        {
            "measurement": f"quick refresh, {images} images, {answers} answers, {dialect}: {name}",
            "figure": figure(w),
            "target": target if w == "insert" else "",
            "machine": machine(),
            "load_avg": load_avg(),
        }
        for w, name in (
            ("upsert", "write path before (upserts, current rows per batch)"),
            ("insert", "now (written current at activation)"),
        )
        if w in write_paths
    ]
    if not failed and len(write_paths) == len(WRITE_PATHS):
        rows.append(
            {
                "measurement": f"quick refresh, {images} images, {dialect}: before / now, side by side",
                "figure": f"{ratio(0)} (writing {ratio(1)})",
                "target": "",
                "machine": machine(),
                "load_avg": load_avg(),
            }
        )
    return rows


def cost(repeats: int = 2) -> list[dict[str, object]]:
    """`label` on the 120 validation photos with and without keeping embeddings, alternated; bytes per embedding."""
    from sqlalchemy import func, select

    import mobilabel.pipeline.embedded as embedded
    from mobilabel.config import load_settings
    from mobilabel.models import Checkpoint, Classifier
    from mobilabel.pipeline.build import build_labeller
    from mobilabel.storage import open_database
    from mobilabel.storage.embedding_writes import write_embeddings
    from mobilabel.storage.migrations_runner import upgrade
    from mobilabel.storage.tables import Embedding
    from mobilabel.versions.checkpoints import register_checkpoint

    paths = sorted((FLOWERS / "val").glob("*/*.jpg"))
    times: dict[bool, list[float]] = {True: [], False: []}
    vector_bytes = 0.0
    settings = load_settings()
    imagenet = Checkpoint.load(WEIGHTS)
    labeller = build_labeller(settings, Classifier.load(imagenet, settings.engine, settings.device))
    for _ in range(repeats):
        for keep in (True, False):
            work = Path(tempfile.mkdtemp(prefix="loop-cost-"))
            db = open_database(f"sqlite:///{work / 'cost.db'}")
            upgrade(db.engine)
            register_checkpoint(db, imagenet)
            embedded.write_embeddings = write_embeddings if keep else (lambda session, backbone, records: 0)  # type: ignore[assignment]
            started = time.perf_counter()
            embedded.label_folder(db, labeller, embedded.find_work(db, FLOWERS / "val", None), settings=settings)
            times[keep].append(len(paths) / (time.perf_counter() - started))
            if keep:
                with db.transaction() as session:
                    vector_bytes = float(
                        session.scalar(
                            select(
                                func.avg(
                                    func.length(Embedding.vector)
                                    + func.length(Embedding.backbone)
                                    + func.length(Embedding.content_hash)
                                )
                            )
                        )
                        or 0
                    )
            db.dispose()
            shutil.rmtree(work, ignore_errors=True)
    embedded.write_embeddings = write_embeddings  # type: ignore[assignment]
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    return [
        {
            "measurement": "label throughput keeping embeddings (120 photos, median of alternated runs)",
            "figure": f"{with_:.1f} images/s",
            "target": "",
            "machine": machine(),
            "load_avg": load_avg(),
        },
        {
            "measurement": "label throughput without embeddings (same runs)",
            "figure": f"{without:.1f} images/s",
            "target": "",
            "machine": machine(),
            "load_avg": load_avg(),
        },
        {
            "measurement": "throughput cost of keeping embeddings",
            "figure": f"{100 * (1 - with_ / without):.1f}%",
            "target": "<= 5%",
            "machine": machine(),
            "load_avg": load_avg(),
        },
        {
            "measurement": "bytes per embedding row (vector + keys)",
            "figure": f"{vector_bytes:.0f} B",
            "target": "<= 3 KB",
            "machine": machine(),
            "load_avg": load_avg(),
        },
    ]


def read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as rows:
        return list(csv.DictReader(rows))


def write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--round", dest="size", type=int, default=20)
    parser.add_argument("--speed-images", default="20000,1000000", help="library sizes of the speed rows")
    parser.add_argument("--speed-databases", default="sqlite,postgresql", help="sqlite and/or postgresql (a local server)")
    parser.add_argument("--speed-repeats", type=int, default=2, help="refreshes with each write path, alternated")
    parser.add_argument("--speed-write-paths", default="upsert,insert", help="before (upsert) and/or now (insert)")
    parser.add_argument("--no-loop", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-cost", action="store_true")
    parser.add_argument("--cost-repeats", type=int, default=5, help="alternated label runs with and without embeddings, each")
    args = parser.parse_args()
    if not args.no_loop:
        answers_loop(args.seeds, args.rounds, args.size)
    rows: list[dict[str, object]] = []
    if not args.no_speed:
        for images in (int(x) for x in args.speed_images.split(",")):
            for dialect in args.speed_databases.split(","):
                rows += speed(images, dialect, args.speed_repeats, write_paths=tuple(args.speed_write_paths.split(",")))
                print(rows[-3:], flush=True)
    if not args.no_cost:
        rows += cost(args.cost_repeats)
        print(rows[-4:], flush=True)
    if rows:
        made = {r["measurement"] for r in rows}
        kept = [r for r in read(RESULTS / "loop_speed.csv") if r["measurement"] not in made]
        write(RESULTS / "loop_speed.csv", rows + kept)  # rows not measured this time stay as they were


if __name__ == "__main__":
    main()
