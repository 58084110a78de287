"""Likely mistakes: how many deliberately flipped labels confident learning ranks near the top.

    python -m bench.mistakes [--seeds 10] [--flip 0.05]

On the shared flowers' embeddings (bench/embedding.py), each seed flips ``--flip`` of the labels at
random to another class, computes 5-fold out-of-fold probabilities of a softmax head and ranks the
labels (mobilabel.curation.mistakes: self-confidence p[given], lowest first). Reports, per seed and as
the median, the share of flipped labels found in the first 10% of the ranking, and the precision and
recall of the flagged set; beside it, the alternative first measured: flagged labels first, each part by
normalised margin. Target: at least
0.60 in the first 10% (median over seeds). Appends bench/results/mistakes.csv.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from mobilabel.curation.mistakes import out_of_fold_probabilities, rank_mistakes

from .embedding import flower_embeddings
from .paths import RESULTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--flip", type=float, default=0.05)
    args = parser.parse_args()
    embeddings, names = flower_embeddings()
    classes = sorted(set(names))
    truth = np.array([classes.index(n) for n in names], np.int64)
    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        flipped = rng.choice(len(truth), round(args.flip * len(truth)), replace=False)
        given = truth.copy()
        given[flipped] = (truth[flipped] + rng.integers(1, len(classes), len(flipped))) % len(classes)
        probabilities = out_of_fold_probabilities(embeddings, given, len(classes), seed=seed)
        ranking = rank_mistakes(probabilities, given)
        top = round(0.1 * len(given))
        wrong = set(flipped.tolist())
        others = probabilities.copy()
        others[np.arange(len(given)), given] = -np.inf
        margin = probabilities[np.arange(len(given)), given] - others.max(axis=1)  # p[given] - max other p
        flagged_first = np.lexsort((margin, ~ranking.flagged))
        flagged = set(np.flatnonzero(ranking.flagged).tolist())
        rows.append(
            {
                "seed": seed,
                "photos": len(given),
                "flipped": len(wrong),
                "found_in_top_10pct": round(len(wrong & set(ranking.order[:top].tolist())) / len(wrong), 3),
                "flagged_first_by_margin_top_10pct": round(len(wrong & set(flagged_first[:top].tolist())) / len(wrong), 3),
                "flagged": len(flagged),
                "flagged_precision": round(len(wrong & flagged) / max(1, len(flagged)), 3),
                "flagged_recall": round(len(wrong & flagged) / len(wrong), 3),
            }
        )
        print(rows[-1], flush=True)
    median = {key: "median" if key == "seed" else float(np.median([r[key] for r in rows])) for key in rows[0]}
    print(median)
    out = RESULTS / "mistakes.csv"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows([*rows, median])


if __name__ == "__main__":
    main()
