"""`accept --precision P` on photos the model never trained on: is the accepted set's precision at least P, and how much does it take?

    python -m bench.accept [--seeds 20] [--answers 300] [--precisions 0.95,0.98,0.99]

The 609 shared flowers (train/ and val/ pooled, the class folder as the truth) are embedded once
by the ImageNet MobileNetV2's pooled features (the backbone `mobilabel train` starts from; cached
under bench/data/). Each seed draws ``--answers`` of them at random as the answers; the rest are the
unreviewed photos the accepted set is measured on (never trained on, never used to fit anything).
A linear head (multinomial logistic regression on the features: the quick head of issue 27) is
fitted on the answers, and the product's own code does the rest: ``calibration.calibrate`` fits
the temperature on the held-out answers and ``acceptance.choose`` picks the threshold from them.

Two ways of holding answers out, each its own rows:
- ``split``: what `mobilabel train` on answers does today: a fifth of the answers held out
  (``training.data.split_of``'s share), the head trained on the other four fifths;
- ``oof``: issue 26's definition for a version trained on answers: every answer held out once by
  5-fold out-of-fold predictions, the head then trained on all of them.

With ``--loop`` instead (``accept_loop.csv``, every seed in ``accept_loop_runs.csv``), the answers are those of the
labelling loop: ``bench.loop.simulate`` answers the review queue's default strategy (with each of
``--audit-shares`` as its random audit share: 0.1 is the product's) in rounds of 20 with the
quick head refreshed after each, on the same features (the ImageNet labels from the same backbone for the
cold start). The version is then the product's quick head (``training.quick.fit_with_unlabelled`` on all non-audit
answers, self-trained on the unreviewed photos), calibrated and given its held-out predictions by
``training.quick.calibrated_held_out`` (out-of-fold, self-trained the same way, for what it trained on, its own for
the audit answers), as a quick refresh stores them. Two rules, each its own rows:
- ``pooled``: ``acceptance.choose``, the product's rule (one threshold, Clopper-Pearson, fixed sequence);
- ``per_class``: the same scan run per class on that class's held-out answers alone, at confidence
  1 - 0.05 / C (Bonferroni over the C classes), each class its own threshold;
- ``check``: what `accept` does: the pooled rule when it certifies P, else the check sample
  (``mobilabel.verification``): after its loop answers the simulated reviewer answers the check items
  `accept` asks for (the candidate set above ``verification.candidate``'s λ in a random check order, a
  permutation per seed standing for the content hashes), running accept again after each request, until
  they certify P or no number of answers would; the version is not retrained on them (check answers never
  train). Its rows count the check answers apart (``check_answers``); coverage is accepted / unreviewed
  after the loop, the checked images (answered, so verified) not counted as accepted.
- ``oracle``: no rule, a reference: the one threshold chosen *knowing the truth* (the largest set above a
  calibrated confidence whose measured precision is at least P), the issue's "threshold chosen knowing the truth";
- ``ceiling``: no rule, a limit: the most any uniform check sample could accept of the unreviewed photos even if
  every label were right and every check answer agreed (``ceiling``), i.e. the best a ``check`` row could reach.

Per (held-out scheme, P): over the seeds, how many accepted anything, how many of those had a
measured precision below P on the unreviewed photos, the pooled and mean precision, and the mean
and median coverage (accepted / unreviewed). ``bench/results/accept_runs.csv`` keeps every seed's row.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from bench.paths import DATA, FLOWERS, RESULTS, WEIGHTS
from mobilabel import verification
from mobilabel.acceptance import CONFIDENCE, HeldOut, choose
from mobilabel.calibration import calibrate, softmax
from mobilabel.models import Checkpoint
from mobilabel.training.data import DEFAULT_VAL_FRACTION

FEATURES = DATA / "accept_features.npz"
SUMMARY = RESULTS / "accept.csv"
RUNS = RESULTS / "accept_runs.csv"
LOOP_SUMMARY = RESULTS / "accept_loop.csv"
LOOP_RUNS = RESULTS / "accept_loop_runs.csv"
ROUND = 20  # answers per round of the loop, a quick refresh after each: MOBILABEL_REFRESH_EVERY's default
FOLDS = 5
REUSE_LOOP = False  # --reuse-loop: the loop's answers from an earlier run (bench/data/), to try accept rules quickly
L2 = 1e-3  # the head's weight decay: enough to keep 300 answers in 1,280 dimensions from over-fitting


def features() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[str]]:
    """(N, 1280) pooled ImageNet features of the 609 flowers, their class indices, the class names (cached)."""
    if FEATURES.is_file():
        cached = np.load(FEATURES)
        return cached["x"], cached["y"], [str(c) for c in cached["classes"]]
    photos = sorted(FLOWERS.glob("*/*/*.jpg"))
    classes = sorted({p.parent.name for p in photos})
    checkpoint = Checkpoint.load(WEIGHTS)
    model = checkpoint.build()
    transform = checkpoint.preprocessing.eval_transform()
    torch.set_num_threads(2)
    rows = []
    with torch.inference_mode():
        for start in range(0, len(photos), 32):
            batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in photos[start : start + 32]])
            pooled = torch.nn.functional.adaptive_avg_pool2d(model.features(batch), 1).flatten(1)
            rows.append(pooled.numpy())
    x = np.concatenate(rows).astype(np.float32)
    y = np.array([classes.index(p.parent.name) for p in photos])
    DATA.mkdir(parents=True, exist_ok=True)
    np.savez(FEATURES, x=x, y=y, classes=np.array(classes))
    return x, y, classes


def fit_head(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], classes: int) -> torch.nn.Linear:
    """Multinomial logistic regression (L-BFGS, L2 ``L2``) on standardised features."""
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], classes)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    optimiser = torch.optim.LBFGS(head.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(head(inputs), targets) + L2 * head.weight.pow(2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return head


def logits_of(head: torch.nn.Linear, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    with torch.no_grad():
        return head(torch.from_numpy(x)).double().numpy()


@dataclass(frozen=True)
class Run:
    scheme: str
    rule: str  # pooled | per_class | check | oracle | ceiling
    precision: float
    seed: int
    held_out: int
    temperature: float
    threshold: float | None
    accepted: int
    right: int
    unreviewed: int
    checks: int = 0  # check answers the reviewer gave after the loop (``check`` rows)
    certified: bool = False  # whether the rule certified P (``check`` rows: the held-out rule or the check sample)

    @property
    def measured(self) -> float | None:
        return self.right / self.accepted if self.accepted else None


def held_out_logits(
    scheme: str, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], classes: int, rng: np.random.Generator
) -> tuple[torch.nn.Linear, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """(the head labelling the unreviewed photos, its held-out logits, their truth) under ``scheme``."""
    order = rng.permutation(len(y))
    if scheme == "split":
        cut = round(len(y) * DEFAULT_VAL_FRACTION)
        held, trained = order[:cut], order[cut:]
        head = fit_head(x[trained], y[trained], classes)
        return head, logits_of(head, x[held]), y[held]
    out = np.zeros((len(y), classes))
    for fold in range(FOLDS):
        held = order[fold::FOLDS]
        rest = np.setdiff1d(order, held)
        out[held] = logits_of(fit_head(x[rest], y[rest], classes), x[held])
    return fit_head(x, y, classes), out, y


def run_seed(
    seed: int,
    scheme: str,
    answers: int,
    precisions: Sequence[float],
    data: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[str]],
) -> list[Run]:
    x, y, names = data
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    answered, unreviewed = order[:answers], order[answers:]
    mean, std = x[answered].mean(0), x[answered].std(0) + 1e-6  # standardised on the answers alone
    z = ((x - mean) / std).astype(np.float32)
    head, held_logits, held_truth = held_out_logits(scheme, z[answered], y[answered], len(names), rng)
    fitted = calibrate(held_logits, held_truth)
    held_p = softmax(held_logits, fitted.temperature)
    held = [
        HeldOut(names[int(p.argmax())], float(p.max()), int(p.argmax()) == int(t))
        for p, t in zip(held_p, held_truth, strict=True)
    ]
    test_p = softmax(logits_of(head, z[unreviewed]), fitted.temperature)
    runs = []
    for precision in precisions:
        rule = choose(held, names, precision)
        taken = right = 0
        for p, truth in zip(test_p, y[unreviewed], strict=True):
            label = names[int(p.argmax())]
            threshold = rule.threshold_of(label)
            if threshold is not None and p.max() >= threshold:
                taken += 1
                right += int(p.argmax()) == int(truth)
        runs.append(
            Run(scheme, "pooled", precision, seed, len(held), fitted.temperature, rule.threshold, taken, right, len(unreviewed))
        )
    return runs


def imagenet_suggestions(x: npt.NDArray[np.float32]) -> list[tuple[str, float, list[dict[str, object]]]]:
    """(label, confidence, top 5) of the ImageNet weights for pooled features ``x``: the loop's cold start."""
    checkpoint = Checkpoint.load(WEIGHTS)
    model = checkpoint.build().eval()
    with torch.inference_mode():
        probabilities = torch.softmax(model.classifier(torch.from_numpy(x)), dim=1).numpy()
    out: list[tuple[str, float, list[dict[str, object]]]] = []
    for p in probabilities:
        top = np.argsort(-p)[:5]
        ranked: list[dict[str, object]] = [{"label": checkpoint.classes[int(k)], "confidence": float(p[k])} for k in top]
        out.append((checkpoint.classes[int(top[0])], float(p[top[0]]), ranked))
    return out


def loop_seed(
    seed: int,
    answers: int,
    precisions: Sequence[float],
    data: tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], list[str]],
    suggestions: list[tuple[str, float, list[dict[str, object]]]],
    audit_share: float,
) -> list[Run]:
    """The ``--loop`` rows of one seed: ``answers`` answers of the simulated loop, the queue's default strategy with
    ``audit_share`` of each round drawn at random, then both rules (module docstring)."""
    from bench.loop import Library, Row, simulate
    from mobilabel.review_queue import DEFAULT_STRATEGY
    from mobilabel.training.quick import calibrated_held_out, fit_with_unlabelled

    x, y, names = data
    library = Library([names[int(t)] for t in y], x, suggestions)
    queue = Row("queue", DEFAULT_STRATEGY.ranking, DEFAULT_STRATEGY.diverse, audit_share, self_trained=True)
    cached = DATA / f"accept_loop_{answers}_{audit_share}_{seed}.json"  # the loop's answers: (index, audit) pairs
    if REUSE_LOOP and cached.is_file():
        answered = {int(i): bool(a) for i, a in json.loads(cached.read_text())}
    else:
        _, answered = simulate(library, queue, seed, answers // ROUND, ROUND)
        DATA.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(list(answered.items())))
    trained = np.array([i for i, audit in answered.items() if not audit])
    audit = np.array([i for i, is_audit in answered.items() if is_audit], dtype=np.int64)
    unreviewed = np.array([i for i in range(len(y)) if i not in answered])
    head = fit_with_unlabelled(x[trained], y[trained], names, x[unreviewed])
    held = calibrated_held_out(
        head,
        ([str(i) for i in trained], x[trained], y[trained]),
        ([str(i) for i in audit], x[audit], y[audit]),
        x[unreviewed],
    )
    calibrated = held.calibrated(head)
    truth = {str(i): names[int(y[i])] for i in answered}
    evidence = [HeldOut(label, p, truth[h] == label) for h, label, p in held.out_of_fold]
    if len(audit):
        audit_p = calibrated.probabilities(x[audit])
        evidence += [
            HeldOut(names[int(p.argmax())], float(p.max()), int(p.argmax()) == int(t))
            for p, t in zip(audit_p, y[audit], strict=True)
        ]
    test_p = calibrated.probabilities(x[unreviewed])
    temperature = held.calibration.temperature if held.calibration else 1.0
    check_order = np.random.default_rng([seed, 1]).permutation(len(unreviewed))  # the content hashes' order, per library
    runs = []
    for precision in precisions:
        scheme = f"loop, audit {audit_share:.0%}"
        known, taken, right = oracle(test_p, y[unreviewed], precision)
        runs.append(Run(scheme, "oracle", precision, seed, len(evidence), temperature, known, taken, right, len(unreviewed)))
        most = ceiling(len(unreviewed), precision)
        runs.append(Run(scheme, "ceiling", precision, seed, len(evidence), temperature, None, most, most, len(unreviewed)))
        pooled = choose(evidence, names, precision)
        runs.append(
            checked_run(pooled.threshold, test_p, y[unreviewed], names, precision, check_order).labelled(
                f"loop, audit {audit_share:.0%}", seed, len(evidence), temperature
            )
        )
        share = 1 - (1 - CONFIDENCE) / len(names)  # Bonferroni: every class at once with 95%
        per_class = {c: choose([h for h in evidence if h.label == c], [c], precision, share).threshold for c in names}
        for rule, threshold_of in (("pooled", pooled.threshold_of), ("per_class", per_class.get)):
            taken = right = 0
            for p, t in zip(test_p, y[unreviewed], strict=True):
                threshold = threshold_of(names[int(p.argmax())])
                if threshold is not None and p.max() >= threshold:
                    taken += 1
                    right += int(p.argmax()) == int(t)
            lowest = min((v for v in per_class.values() if v is not None), default=None)
            chosen = pooled.threshold if rule == "pooled" else lowest
            runs.append(
                Run(
                    f"loop, audit {audit_share:.0%}",
                    rule,
                    precision,
                    seed,
                    len(evidence),
                    temperature,
                    chosen,
                    taken,
                    right,
                    len(unreviewed),
                )
            )
    return runs


@dataclass(frozen=True)
class Checked:
    """A ``check`` row before its scheme, seed and evidence are known."""

    precision: float
    threshold: float | None
    accepted: int
    right: int
    unreviewed: int
    checks: int
    certified: bool

    def labelled(self, scheme: str, seed: int, held_out: int, temperature: float) -> Run:
        return Run(
            scheme, "check", self.precision, seed, held_out, temperature, self.threshold, self.accepted, self.right, self.unreviewed,
            self.checks, self.certified,
        )  # fmt: skip


def checked_run(
    held_out_threshold: float | None,
    probabilities: npt.NDArray[np.float64],
    truth: npt.NDArray[np.int64],
    names: Sequence[str],
    precision: float,
    check_order: npt.NDArray[np.int64],
) -> Checked:
    """`accept` with the check sample (``mobilabel.verification``) on the unreviewed photos: the held-out rule's
    threshold when it certifies P; else the candidate set above ``verification.candidate``'s λ, whose check items the
    simulated reviewer answers in check order (``check_order``: a permutation of the unreviewed) as `accept` asks for
    them, until they certify P or no number of answers would. Returns the accepted set (the checked images left out)."""
    confidence, label = probabilities.max(1), probabilities.argmax(1)
    if held_out_threshold is not None:
        taken = confidence >= held_out_threshold
        right = int((label[taken] == truth[taken]).sum())
        return Checked(precision, held_out_threshold, int(taken.sum()), right, len(truth), 0, True)
    threshold = verification.candidate([float(c) for c in confidence], precision)
    if threshold is None:
        return Checked(precision, None, 0, 0, len(truth), 0, False)
    members = [int(i) for i in check_order if confidence[i] >= threshold]  # the candidate set in check order
    outcomes: list[bool | None] = [None] * len(members)
    found = verification.certify(outcomes, precision, threshold)
    while not found.certified and found.more_needed:  # answer what `accept` says it needs, in the queue's check order
        for position in [k for k, o in enumerate(outcomes[: found.wanted]) if o is None]:
            outcomes[position] = bool(label[members[position]] == truth[members[position]])
        found = verification.certify(outcomes, precision, threshold)
    checks = sum(o is not None for o in outcomes)
    if not found.certified:
        return Checked(precision, threshold, 0, 0, len(truth), checks, False)
    rest = [i for i, o in zip(members, outcomes, strict=True) if o is None]
    right = sum(int(label[i] == truth[i]) for i in rest)
    return Checked(precision, threshold, len(rest), right, len(truth), checks, True)


def oracle(
    probabilities: npt.NDArray[np.float64], truth: npt.NDArray[np.int64], precision: float
) -> tuple[float | None, int, int]:
    """(threshold, accepted, right) of the largest set above one calibrated confidence whose measured precision is at
    least ``precision``: chosen knowing the truth, so no rule can do better with one threshold."""
    confidence, right = probabilities.max(1), probabilities.argmax(1) == truth
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(right[order])
    sizes = np.arange(1, len(order) + 1)
    # a set ends where the next confidence is lower: ties go in together
    ends = np.flatnonzero(np.append(confidence[order][1:] < confidence[order][:-1], True))
    good = [e for e in ends if hits[e] >= precision * sizes[e]]
    if not good:
        return None, 0, 0
    last = max(good)
    return float(confidence[order][last]), int(sizes[last]), int(hits[last])


@functools.cache  # the same for every seed with as many photos left
def ceiling(unreviewed: int, precision: float) -> int:
    """The most images a uniform check sample can leave accepted among ``unreviewed`` at ``precision``: over candidate
    sets of every size M, M less the check answers (all agreeing) that certify it (``verification.level_size``)."""
    best = 0
    for size in range(1, unreviewed + 1):
        drawn = verification.level_size(size, precision, 0)
        if drawn is not None:
            best = max(best, size - drawn)
    return best


def summarise(runs: Sequence[Run]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for scheme, rule in sorted({(r.scheme, r.rule) for r in runs}, reverse=True):
        for precision in sorted({r.precision for r in runs}):
            group = [r for r in runs if r.scheme == scheme and r.rule == rule and r.precision == precision]
            accepting = [r for r in group if r.accepted]
            coverage = [r.accepted / r.unreviewed for r in group]
            rows.append(
                {
                    "held_out": scheme,
                    "rule": rule,
                    "precision_asked": precision,
                    "seeds": len(group),
                    "seeds_accepting": len(accepting),
                    "seeds_below_p": sum(1 for r in accepting if (r.measured or 0) < precision),
                    "pooled_precision": round(sum(r.right for r in accepting) / max(1, sum(r.accepted for r in accepting)), 4)
                    if accepting
                    else "",
                    "mean_precision": round(statistics.fmean(r.measured or 0 for r in accepting), 4) if accepting else "",
                    "min_precision": round(min(r.measured or 0 for r in accepting), 4) if accepting else "",
                    "mean_coverage": round(statistics.fmean(coverage), 4),
                    "median_coverage": round(statistics.median(coverage), 4),
                    "held_out_answers": round(statistics.fmean(r.held_out for r in group)),
                    "mean_check_answers": round(statistics.fmean(r.checks for r in group), 1),
                    "max_check_answers": max(r.checks for r in group),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--precisions", default="0.95,0.98,0.99")
    parser.add_argument("--loop", action="store_true", help="answers of the simulated loop and the quick head's own code")
    parser.add_argument(
        "--audit-shares", default="0.1", help="with --loop: the audit shares of the queue to run (0.1 is the default queue's)"
    )
    parser.add_argument(
        "--reuse-loop",
        action="store_true",
        help="with --loop: reuse the loop's answers an earlier run cached under bench/data/ (the loop is the slow part; "
        "valid while the loop's code and the features are unchanged: for trying accept rules)",
    )
    args = parser.parse_args()
    global REUSE_LOOP
    REUSE_LOOP = args.reuse_loop
    precisions = [float(p) for p in args.precisions.split(",")]
    started = time.perf_counter()
    data = features()
    if args.loop:
        suggestions = imagenet_suggestions(data[0])
        shares = [float(a) for a in args.audit_shares.split(",")]
        runs = [
            r
            for share in shares
            for seed in range(args.seeds)
            for r in loop_seed(seed, args.answers, precisions, data, suggestions, share)
        ]
    else:
        runs = [
            r
            for seed in range(args.seeds)
            for scheme in ("split", "oof")
            for r in run_seed(seed, scheme, args.answers, precisions, data)
        ]
    summary_path, runs_path = (LOOP_SUMMARY, LOOP_RUNS) if args.loop else (SUMMARY, RUNS)
    stamp = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": platform.node() and f"{os.cpu_count()}cores",
        "answers": args.answers,
        "photos": len(data[1]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    with runs_path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "answers", "held_out", "rule", "precision_asked", "seed", "held_out_answers", "temperature", "threshold",
                "accepted", "right", "unreviewed", "measured_precision", "check_answers",
            ]
        )  # fmt: skip
        for r in runs:
            measured = "" if r.measured is None else round(r.measured, 4)
            writer.writerow(
                [
                    args.answers, r.scheme, r.rule, r.precision, r.seed, r.held_out, round(r.temperature, 3),
                    r.threshold or "", r.accepted, r.right, r.unreviewed, measured, r.checks,
                ]
            )  # fmt: skip
    rows = summarise(runs)
    with summary_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[*stamp, *rows[0]])
        writer.writeheader()
        writer.writerows(stamp | row for row in rows)
    for row in rows:
        print(row)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
