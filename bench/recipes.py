"""Training recipes compared on photos the model has never seen (cross-validated: folds x seeds, paired differences).

    python -m bench.recipes [--folds 0,1,2,3,4] [--seeds 0,1,2] [--candidates frozen,partial,...]
                            [--runs FILE] [--output FILE] [--summary-only] [--markdown]

The 609 shared flowers (train/ and val/ pooled) are cut into 5 stratified folds, once, from
FOLD_SEED. For each seed and fold, a candidate trains on the other 4 folds, split again
(stratified, 20%, from the seed) into an inner training and an inner validation part: the
kept epoch is chosen on the inner validation part, never on the fold under test. The
candidate's accuracy is then counted on the test fold.

Every run is appended to ``--runs`` (bench/results/recipes_runs.csv) as it ends, with its training time
(``fit_images``: decode, train, validate) and the load average when it started; runs already
there are skipped, so an interrupted comparison resumes where it stopped. The summary
(``--output``, bench/results/recipes.csv) is rewritten from it: per candidate the mean, standard
deviation and standard error of the accuracy, the mean difference from "frozen" (the defaults
before this comparison) over the same (fold, seed) runs with its standard error, the same from
the candidate today's defaults equal (what a new default must beat), the median training time,
and which candidate today's defaults and ``--preset`` equal.

Reading it: with 20-odd candidates the best mean flatters; a recipe should replace the defaults
only if it beats them by more than one standard error. The runs share folds and seeds, so the
paired difference from "frozen" is the sharper test.

Candidates run ``mobilabel.training.run.fit_images``, the loop ``mobilabel train`` runs,
with the same loaders and engines. "tta" is not trained: it is the "frozen" model of the
same fold and seed, labelled with horizontal-flip test-time augmentation (``MOBILABEL_TTA=flip``).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from bench.paths import RESULTS
from bench.training import SHARED
from mobilabel.config import load_settings
from mobilabel.imaging import label_min_side
from mobilabel.models import Checkpoint, Preprocessing
from mobilabel.training.data import LabelledImage, class_images, stratified_split
from mobilabel.training.loader import make_loader
from mobilabel.training.loop import Learner, evaluate
from mobilabel.training.options import TrainingOptions
from mobilabel.training.recipes import PRESETS
from mobilabel.training.run import fit_images

FOLDS = 5
FOLD_SEED = 20240601  # fixed: every candidate, every run, sees the same folds
INNER_VAL_FRACTION = 0.2

# The head-only recipe that was the default before this comparison, spelled out so that changing
# the defaults does not change what a candidate means; every other candidate differs from it in
# what its name says. The summary marks which candidate today's defaults and preset equal.
FROZEN = TrainingOptions(
    lr=1e-3, epochs=8, batch_size=16, unfreeze=False, unfreeze_last=0, backbone_lr=None,
    label_smoothing=0.0, schedule="constant", augment="basic", min_crop_area=0.08, patience=0, ema_decay=0.0,
)  # fmt: skip
BASELINE = "frozen"  # paired differences are taken from it

# The tail that became the default after the first round, and the first round's longer recipe (the
# preset): later rounds build on them.
PARTIAL = replace(FROZEN, unfreeze_last=4, backbone_lr=1e-4)
FINETUNE = replace(PARTIAL, schedule="cosine", label_smoothing=0.1, augment="trivial", epochs=20, patience=5)
EMA_DECAY = 0.97  # the one moving average tried (about the last 33 steps)

# name -> the options it trains with.
CANDIDATES: dict[str, TrainingOptions] = {
    "tutorial": replace(FROZEN, lr=1e-4, epochs=5),  # the tutorial's settings (in our loop: BatchNorm kept in eval mode)
    "frozen": FROZEN,
    "tta": FROZEN,  # the frozen model, labelled with flip TTA
    "partial": PARTIAL,
    "full": replace(FROZEN, unfreeze=True, lr=1e-4),
    # added after the first comparison, towards a 0.91 target accuracy: more blocks, or a faster tail
    "partial8": replace(PARTIAL, unfreeze_last=8),
    "partial_hilr": replace(PARTIAL, backbone_lr=3e-4),
    # the third round: the tail with what helped the head alone, and milder crops (RandomResizedCrop's
    # 8%-of-the-area crops may miss the flower, and make objects look larger than the centre crop does)
    "partial_crop35": replace(PARTIAL, min_crop_area=0.35),
    "partial_longer": replace(PARTIAL, epochs=20, patience=5),
    "partial_colorjitter": replace(PARTIAL, augment="colorjitter"),
    # the fourth: the tail, validating and keeping a moving average of the weights (kept epochs of 2
    # beside 8 in the runs above say the kept epoch is partly chance)
    "partial_ema": replace(PARTIAL, ema_decay=EMA_DECAY),
    # and the average with what came closest to helping the tail (colour jitter)
    "partial_ema_colorjitter": replace(PARTIAL, ema_decay=EMA_DECAY, augment="colorjitter"),
    "cosine": replace(FROZEN, schedule="cosine"),
    "smoothing": replace(FROZEN, label_smoothing=0.1),
    "trivial": replace(FROZEN, augment="trivial"),
    "randaugment": replace(FROZEN, augment="randaugment"),
    "colorjitter": replace(FROZEN, augment="colorjitter"),
    "longer": replace(FROZEN, epochs=20, patience=5),
    "finetune": FINETUNE,
    "finetune_ema": replace(FINETUNE, ema_decay=EMA_DECAY),  # the preset with the average
    # the tail with the average and colour jitter, trained longer: up to 20 epochs on a cosine schedule
    "finetune_colorjitter": replace(FINETUNE, label_smoothing=0.0, augment="colorjitter", ema_decay=EMA_DECAY),
}
TRAINED_BY = {"tta": "frozen"}  # a candidate that labels with another's model


RUN_FIELDS = [
    "candidate", "fold", "seed", "accuracy", "train_seconds", "kept_epoch", "epochs_run", "load_avg",
    "inner_train_images", "test_images",
]  # fmt: skip


def mean_flip_softmax(forward: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, width_dim: int) -> torch.Tensor:
    """Horizontal-flip test-time augmentation: the mean of the softmax of each image and of its mirror.

    ``forward`` maps a batch to logits (N, classes); ``batch`` is mirrored along ``width_dim``
    (3 for NCHW tensors). Both go through ``forward`` as one batch of 2N. Returns probabilities (N, classes).
    """
    count = len(batch)
    probabilities = torch.softmax(forward(torch.cat([batch, batch.flip(width_dim)])).float(), dim=1)
    return (probabilities[:count] + probabilities[count:]) / 2


@dataclass
class Outcome:
    accuracies: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)  # the kept epoch of each run
    runs: list[tuple[int, int]] = field(default_factory=list)  # (fold, seed) of each run, to pair candidates


def pooled_photos(root: Path) -> tuple[list[str], list[LabelledImage]]:
    """Every photo of ``root``'s train/ and val/ folders, labelled by index into the classes."""
    classes, train = class_images(root / "train")
    _, val = class_images(root / "val", classes)
    return classes, train + val


def stratified_folds(images: Sequence[LabelledImage], folds: int, seed: int) -> list[list[LabelledImage]]:
    """``folds`` disjoint parts, each with the same share of every class (sorted, shuffled by ``seed``, dealt round)."""
    rng = random.Random(seed)
    parts: list[list[LabelledImage]] = [[] for _ in range(folds)]
    by_class: defaultdict[int, list[LabelledImage]] = defaultdict(list)
    for image in images:
        by_class[image.label].append(image)
    dealt = 0
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda i: str(i.path))
        rng.shuffle(members)
        for member in members:
            parts[dealt % folds].append(member)
            dealt += 1
    return parts


def accuracy_on(learner: Learner, images: Sequence[LabelledImage], tta: bool, decode_threads: int, max_pixels: int) -> float:
    """Accuracy on ``images`` with the validation transforms, as labelling reads them; ``tta``: flip TTA."""
    preprocessing = Preprocessing()
    loader = make_loader(
        images, preprocessing.eval_transform(), 32, shuffle=False, workers=decode_threads, max_pixels=max_pixels,
        min_side=label_min_side(preprocessing.resize_size),
    )  # fmt: skip
    if tta:
        # log-probabilities serve as logits: their argmax and softmax are the probabilities'.
        return evaluate(lambda batch: mean_flip_softmax(learner.predict_logits, batch, width_dim=3).log(), loader).accuracy
    return evaluate(learner.predict_logits, loader).accuracy


def done_runs(runs_file: Path) -> list[dict[str, str]]:
    """The runs a previous (perhaps interrupted) invocation recorded in ``runs_file``: one dict per run."""
    if not runs_file.exists():
        return []
    with runs_file.open(newline="") as file:
        return list(csv.DictReader(file))


def record_run(runs_file: Path, row: dict[str, object]) -> None:
    """Append one run to ``runs_file`` (header first if new), flushed: a long run keeps what it did."""
    new = not runs_file.exists()
    with runs_file.open("a", newline="") as file:
        writer = csv.DictWriter(file, RUN_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def run(folds: Sequence[int], seeds: Sequence[int], names: Sequence[str], runs_file: Path) -> None:
    """Train and test every candidate of ``names`` on every (seed, fold) not yet in ``runs_file``.

    Seeds outside, folds inside: an interrupted comparison has every candidate on the same runs,
    and its first five runs are already a 5-fold estimate."""
    settings = load_settings()
    source = Checkpoint.load(SHARED / "weights" / "mobilenet_v2_imagenet.pth")
    classes, photos = pooled_photos(SHARED / "datasets" / "flowers")
    parts = stratified_folds(photos, FOLDS, FOLD_SEED)
    have = {(row["candidate"], int(row["fold"]), int(row["seed"])) for row in done_runs(runs_file)}
    trained = sorted({TRAINED_BY.get(name, name) for name in names}, key=list(CANDIDATES).index)
    for seed in seeds:
        for fold in folds:
            test = parts[fold]
            rest = [image for index, part in enumerate(parts) if index != fold for image in part]
            inner_train, inner_val = stratified_split(rest, INNER_VAL_FRACTION, seed)
            for name in trained:
                users = [n for n in names if TRAINED_BY.get(n, n) == name and (n, fold, seed) not in have]
                if not users:
                    continue
                options = replace(CANDIDATES[name], seed=seed)
                load = os.getloadavg()[0]
                started = time.perf_counter()
                learner, result = fit_images(options, len(classes), inner_train, inner_val, source, settings)
                seconds = time.perf_counter() - started
                for user in users:
                    accuracy = accuracy_on(learner, test, user in TRAINED_BY, settings.decode_threads, settings.max_image_pixels)
                    record_run(runs_file, {
                        "candidate": user, "fold": fold, "seed": seed, "accuracy": f"{accuracy:.4f}",
                        "train_seconds": f"{seconds:.1f}", "kept_epoch": result.best_epoch, "epochs_run": len(result.history),
                        "load_avg": f"{load:.2f}", "inner_train_images": len(inner_train), "test_images": len(test),
                    })  # fmt: skip
                    print(f"seed {seed} fold {fold} {user:12s} accuracy {accuracy:.4f} kept epoch {result.best_epoch} "
                          f"of {len(result.history)}, {seconds:.0f} s (load {load:.1f})", flush=True)  # fmt: skip


def outcomes_of(rows: Sequence[dict[str, str]]) -> dict[str, Outcome]:
    """Per candidate (in ``CANDIDATES`` order), its runs from the per-run rows."""
    outcomes: dict[str, Outcome] = {}
    for row in sorted(rows, key=lambda r: (list(CANDIDATES).index(r["candidate"]), int(r["seed"]), int(r["fold"]))):
        outcome = outcomes.setdefault(row["candidate"], Outcome())
        outcome.accuracies.append(float(row["accuracy"]))
        outcome.seconds.append(float(row["train_seconds"]))
        outcome.epochs.append(int(row["kept_epoch"]))
        outcome.runs.append((int(row["fold"]), int(row["seed"])))
    return outcomes


def paired_difference(outcome: Outcome, baseline: Outcome) -> tuple[float, float, int] | None:
    """Mean and standard error of ``outcome``'s accuracy minus ``baseline``'s over the runs both have
    (same fold, same seed), and how many; None with fewer than two shared runs."""
    base = dict(zip(baseline.runs, baseline.accuracies, strict=True))
    differences = [a - base[r] for r, a in zip(outcome.runs, outcome.accuracies, strict=True) if r in base]
    if len(differences) < 2:
        return None
    return statistics.mean(differences), statistics.stdev(differences) / math.sqrt(len(differences)), len(differences)


def same_recipe(a: TrainingOptions, b: TrainingOptions) -> bool:
    """Whether ``a`` and ``b`` train alike: every option equal but the seed, learning rates as resolved
    (``backbone_lr`` None means a factor of ``lr``), compared to float rounding."""
    if a.backbone_rate is None or b.backbone_rate is None:
        rates_match = a.backbone_rate is b.backbone_rate
    else:
        rates_match = math.isclose(a.backbone_rate, b.backbone_rate)
    return rates_match and replace(a, seed=0, backbone_lr=None) == replace(b, seed=0, backbone_lr=None)


def role_of(name: str) -> str:
    """Role "default" if candidate ``name`` trains with today's default options (and labels without TTA),
    "preset NAME" if with a preset's, else ""."""
    if name in TRAINED_BY:
        return ""
    options = CANDIDATES[name]
    if same_recipe(options, TrainingOptions()):
        return "default"
    presets = [p for p, values in PRESETS.items() if same_recipe(options, replace(TrainingOptions(), **values))]
    return " ".join(f"preset {p}" for p in presets)


@dataclass(frozen=True)
class Summary:
    """One candidate's line of the comparison."""

    name: str
    runs: int
    mean: float
    std: float
    paired: tuple[float, float, int] | None  # mean and standard error of the difference from BASELINE, runs paired
    versus_default: tuple[float, float, int] | None  # the same, from the candidate today's defaults equal
    seconds: float  # median training time
    epochs: list[int]
    options: list[str]  # what differs from FROZEN
    role: str


def summarise(outcomes: dict[str, Outcome]) -> list[Summary]:
    """Per candidate: accuracy mean and std, the paired differences from "frozen" and from today's
    default, the median training seconds, the options beyond "frozen" and the role (see ``role_of``)."""
    summaries = []
    default = next((name for name in outcomes if role_of(name) == "default"), None)
    for name, outcome in outcomes.items():
        runs = len(outcome.accuracies)
        paired = paired_difference(outcome, outcomes[BASELINE]) if BASELINE in outcomes and name != BASELINE else None
        versus_default = paired_difference(outcome, outcomes[default]) if default is not None and name != default else None
        options = [f"{k}={v}" for k, v in vars(CANDIDATES[name]).items() if v != getattr(FROZEN, k)]
        summaries.append(Summary(
            name, runs, statistics.mean(outcome.accuracies), statistics.stdev(outcome.accuracies) if runs > 1 else 0.0,
            paired, versus_default, statistics.median(outcome.seconds), outcome.epochs,
            [*options, *(["tta=flip"] if name in TRAINED_BY else [])], role_of(name),
        ))  # fmt: skip
    return summaries


def write_summary(output: Path, summaries: Sequence[Summary]) -> None:
    """The summary CSV: one row per candidate (standard error = std / sqrt(runs))."""
    with output.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([
            "candidate", "runs", "accuracy_mean", "accuracy_std", "accuracy_se", "vs_frozen_mean", "vs_frozen_se",
            "vs_default_mean", "vs_default_se", "train_seconds_median", "kept_epochs", "options", "role",
        ])  # fmt: skip
        for row in summaries:
            writer.writerow([
                row.name, row.runs, f"{row.mean:.4f}", f"{row.std:.4f}", f"{row.std / math.sqrt(row.runs):.4f}",
                *_pair_cells(row.paired), *_pair_cells(row.versus_default),
                f"{row.seconds:.1f}", " ".join(map(str, row.epochs)), " ".join(row.options), row.role,
            ])  # fmt: skip


def _pair_cells(pair: tuple[float, float, int] | None) -> tuple[str, str]:
    """A paired difference's mean and standard error as CSV cells (empty without a pair)."""
    return (f"{pair[0]:+.4f}", f"{pair[1]:.4f}") if pair else ("", "")


def markdown_table(summaries: Sequence[Summary]) -> str:
    """The recipe table as markdown, from the same summary as the CSV (the docs page is generated from the CSV)."""
    lines = [
        "| candidate | options (beyond `frozen`) | accuracy, mean ± std (runs) | vs `frozen`, paired mean ± SE "
        "| vs the default, paired mean ± SE | training, median s | role |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summaries:
        bold = "**" if row.role else ""
        paired, versus_default = (f"{p[0]:+.3f} ± {p[1]:.3f}" if p else "-" for p in (row.paired, row.versus_default))
        seconds = "(the frozen model)" if row.name in TRAINED_BY else f"{row.seconds:.0f}"
        options = ", ".join(row.options) or "head only, lr 1e-3, 8 epochs"
        lines.append(
            f"| {bold}{row.name}{bold} | {options} | {row.mean:.3f} ± {row.std:.3f} ({row.runs}) | {paired} | {versus_default} "
            f"| {seconds} | {row.role} |"
        )
    return "\n".join(lines)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", default=",".join(map(str, range(FOLDS))), help="test folds to run, of 0-4 (default: all)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the inner split, the shuffling and the new head")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help=f"of: {', '.join(CANDIDATES)}")
    parser.add_argument("--runs", type=Path, default=RESULTS / "recipes_runs.csv",
                        help="per-run CSV: appended to, and runs already in it are skipped (resume)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=RESULTS / "recipes.csv", help="summary CSV")
    parser.add_argument("--summary-only", action="store_true", help="only rewrite the summary from the per-run CSV")
    parser.add_argument("--markdown", action="store_true", help="also print the recipe table as markdown")
    args = parser.parse_args()
    folds, seeds, names = [int(f) for f in _items(args.folds)], [int(s) for s in _items(args.seeds)], _items(args.candidates)
    if unknown := [n for n in names if n not in CANDIDATES]:
        parser.error(f"unknown candidates: {', '.join(unknown)}; choose of {', '.join(CANDIDATES)}")
    if bad := [f for f in folds if not 0 <= f < FOLDS]:
        parser.error(f"folds are 0 to {FOLDS - 1}, got {bad}")
    started = time.perf_counter()
    if not args.summary_only:
        run(folds, seeds, names, args.runs)
    outcomes = outcomes_of(done_runs(args.runs))
    summaries = summarise(outcomes)
    write_summary(args.output, summaries)
    print(f"wrote {args.output} in {time.perf_counter() - started:.0f} s")
    for row in summaries:
        print(f"{row.name:12s} {row.mean:.4f} over {row.runs} runs, {row.seconds:.0f} s to train (median)")
    if args.markdown:
        print(markdown_table(summaries))


if __name__ == "__main__":
    main()
