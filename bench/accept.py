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

Per (held-out scheme, P): over the seeds, how many accepted anything, how many of those had a
measured precision below P on the unreviewed photos, the pooled and mean precision, and the mean
and median coverage (accepted / unreviewed). ``bench/results/accept_runs.csv`` keeps every seed's row.
"""

from __future__ import annotations

import argparse
import csv
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
from mobilabel.acceptance import HeldOut, choose
from mobilabel.calibration import calibrate, softmax
from mobilabel.models import Checkpoint
from mobilabel.training.data import DEFAULT_VAL_FRACTION

FEATURES = DATA / "accept_features.npz"
SUMMARY = RESULTS / "accept.csv"
RUNS = RESULTS / "accept_runs.csv"
FOLDS = 5
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
    precision: float
    seed: int
    held_out: int
    temperature: float
    threshold: float | None
    accepted: int
    right: int
    unreviewed: int

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
        runs.append(Run(scheme, precision, seed, len(held), fitted.temperature, rule.threshold, taken, right, len(unreviewed)))
    return runs


def summarise(runs: Sequence[Run]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for scheme in sorted({r.scheme for r in runs}, reverse=True):
        for precision in sorted({r.precision for r in runs}):
            group = [r for r in runs if r.scheme == scheme and r.precision == precision]
            accepting = [r for r in group if r.accepted]
            coverage = [r.accepted / r.unreviewed for r in group]
            rows.append(
                {
                    "held_out": scheme,
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
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--answers", type=int, default=300)
    parser.add_argument("--precisions", default="0.95,0.98,0.99")
    args = parser.parse_args()
    precisions = [float(p) for p in args.precisions.split(",")]
    started = time.perf_counter()
    data = features()
    runs = [
        r
        for seed in range(args.seeds)
        for scheme in ("split", "oof")
        for r in run_seed(seed, scheme, args.answers, precisions, data)
    ]
    stamp = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": platform.node() and f"{os.cpu_count()}cores",
        "answers": args.answers,
        "photos": len(data[1]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    with RUNS.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "answers",
                "held_out",
                "precision_asked",
                "seed",
                "held_out_answers",
                "temperature",
                "threshold",
                "accepted",
                "right",
                "unreviewed",
                "measured_precision",
            ]
        )
        for r in runs:
            measured = "" if r.measured is None else round(r.measured, 4)
            writer.writerow(
                [
                    args.answers,
                    r.scheme,
                    r.precision,
                    r.seed,
                    r.held_out,
                    round(r.temperature, 3),
                    r.threshold or "",
                    r.accepted,
                    r.right,
                    r.unreviewed,
                    measured,
                ]
            )
    rows = summarise(runs)
    with SUMMARY.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[*stamp, *rows[0]])
        writer.writeheader()
        writer.writerows(stamp | row for row in rows)
    for row in rows:
        print(row)
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
