"""docs/benchmarks/*.md, from the CSVs the benchmark scripts write under bench/results/.

Each page says which command wrote its CSVs and renders every row; runs appended to one CSV
(the review and results-at-scale benchmarks) are shown one table per run, newest first. Every
CSV under bench/results/ belongs to exactly one page (a test checks it).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from .markdown import banner, table

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as file:
        header, *rows = list(csv.reader(file))
    return header, rows


def _source(paths: Sequence[Path]) -> str:
    return ", ".join(f"`bench/results/{path.name}`" for path in paths)


def _page(title: str, intro: str, paths: Sequence[Path], body: str) -> str:
    return banner(_source(paths)) + f"# {title}\n\n{intro.strip()}\n\n" + body


def _whole(path: Path, heading: str) -> str:
    header, rows = _rows(path)
    return f"## {heading}\n\nFrom `bench/results/{path.name}`.\n\n" + table(header, rows) + "\n"


def _by_run(path: Path, run_columns: Sequence[str]) -> str:
    """One table per run (rows sharing ``run_columns``), newest first."""
    header, rows = _rows(path)
    keys = [header.index(column) for column in run_columns]
    rest = [i for i in range(len(header)) if i not in keys]
    runs: dict[tuple[str, ...], list[list[str]]] = {}
    for row in rows:
        runs.setdefault(tuple(row[i] for i in keys), []).append(row)
    parts = []
    for run in sorted(runs, reverse=True):
        title = ", ".join(f"{column} {value}" for column, value in zip(run_columns, run, strict=True) if value)
        parts.append(f"### {title}\n\n" + table([header[i] for i in rest], ([row[i] for i in rest] for row in runs[run])) + "\n")
    return "".join(parts)


def files(pattern: str) -> list[Path]:
    """The result CSVs matching ``pattern``, by name."""
    return sorted(RESULTS.glob(pattern))


def throughput() -> str:
    machines = files("*_engine-*.csv")
    incremental = files("*_incremental.csv")
    intro = """
What `python -m bench.bench` measures side by side in one run, on the shared flowers and
thousands of copies of them, one CSV per machine and settings (`<machine>_<settings>.csv`):
(a) the tutorial's predict loop, whose median over the run is the base of every ratio; (b)
decoding and transforms alone; (c) the forward pass alone, per engine and precision; (d)
`mobilabel label`; (e) Celery workers from enqueue to the last row (needs Redis and
PostgreSQL); the training epoch; enqueueing many paths. `python -m bench.incremental` adds
labelling and enqueueing a large folder again with nothing changed. `bench/gpu_check.sh` writes
the same table for a GPU (`*_cuda.csv`). The figures move from run to run on shared machines:
compare ratios within one CSV. See [Benchmarks](index.md) for how to run them and
[the CPU engine](../design/cpu-engine.md) for what the rows decided.
"""
    body = "".join(_whole(path, path.stem.replace("_", ", ")) for path in machines)
    body += "".join(_whole(path, path.stem.replace("_", ", ")) for path in incremental)
    return _page("Throughput", intro, [*machines, *incremental], body)


def object_store() -> str:
    paths = files("*_object_store.csv")
    intro = """
What `python -m bench.object_store` measures side by side in one run: `mobilabel label` of the same
distinct photos from local disk and from a local S3 store (SeaweedFS, started by the script), each on a
fresh database, with the rate each prints (start-up excluded), its ratio to the disk run and the peak RSS;
then `mobilabel label` of a prefix of tiny objects that all have their rows already (nothing changed),
start-up included, through a gateway that counts the objects read. See [Object storage](../object-storage.md).
"""
    body = "".join(_whole(path, path.stem.replace("_", ", ")) for path in paths)
    return _page("Object storage", intro, paths, body)


def phone() -> str:
    paths = files("phone_*.csv")
    intro = """
Phone-size photos (12 megapixels, a quarter stored on their side with an EXIF orientation),
made from the flowers and measured side by side by `python -m bench.phone` (one CSV per photo
count, `phone_<count>.csv`): the tutorial's loop, decoding at full and reduced size, `mobilabel
label`, a worker, a training epoch, peak memory, and how often the reduced decode gives the full
decode's label (the notes list every miss and how many near ties were decoded again). The
targets: `mobilabel label` at least 5x the tutorial's loop with a peak RSS of at most 1.5 GB (2 GB
with a 48-megapixel photo added), a worker at least 4.5x within 1.5 GB, a training epoch at least
3x, and the full decode's top label on at least 99.5% of photos with confidences within 0.05. See
[Reduced-size decoding](../design/reduced-decoding.md) for what these rows decided.
"""
    return _page("Phone-size photos", intro, paths, "".join(_whole(path, path.stem.replace("_", " ")) for path in paths))


def recipes() -> str:
    paths = files("recipes.csv")
    runs = files("recipes_runs.csv")
    _, run_rows = _rows(runs[0]) if runs else ([], [])
    intro = f"""
The training recipes compared by `python -m bench.recipes`: the 609 shared flowers in 5
stratified folds, 3 seeds, each candidate trained on four folds and tested on the fifth. Every
run ({len(run_rows)} so far) is a row of `bench/results/recipes_runs.csv`; this summary
(`bench/results/recipes.csv`, rewritten with `--summary-only`) gives per candidate the mean,
standard deviation and standard error of the test accuracy, the paired difference from `frozen`
(the old head-only default) and from today's default over the same (fold, seed) runs, the median
training time in seconds and the kept epochs. Training times come from several machines: compare
them within a round. [Why these training defaults](../design/training-defaults.md) reads it.
"""
    return _page("Training recipes", intro, [*paths, *runs], "".join(_whole(path, "Summary per candidate") for path in paths))


def review() -> str:
    paths = files("review.csv")
    intro = """
The review page against its targets, measured by `python -m bench.review` against a running
`mobilabel serve` on 127.0.0.1 (appended to `bench/results/review.csv`, one table per run below,
newest first): page loads of the gallery (its HTML, script and first API pages) on SQLite and
PostgreSQL databases of many results, thumbnails of 12-megapixel photos cold and warm, and the
review step from a correction to the next image. The targets: a gallery page load under 300 ms
(SQLite with 200,000 results, and PostgreSQL with millions), 100 thumbnails of 12-megapixel JPEGs
under 15 s cold and under 1 s warm, and a review step (the correction's `PUT` to the next image
ready) under 100 ms. Times are taken by the client over loopback, so they bound the server's time
from above; `load_avg` is the machine's load when the run started.
"""
    return _page("Review page", intro, paths, "".join(_by_run(path, ("date", "machine", "load_avg")) for path in paths))


def results_scale() -> str:
    paths = files("results_scale.csv")
    intro = """
Result pages and exports at scale, measured by `python -m bench.results_scale` (appended to
`bench/results/results_scale.csv`, one table per run, newest first): the database filled by SQL
(jobs, labels, two model versions), then p50 and p95 of a page of 100 and of the next page by key
for each kind of filter, exports by the CLI and the API beside `psql \\copy` of the same rows, and
peak memory. Rows named `*_s` or `*_mb` hold a single value in the p50 column.
[Results at scale](../design/results-at-scale.md) explains the indexes these rows led to.
"""
    return _page(
        "Results at scale", intro, paths, "".join(_by_run(path, ("date", "machine", "load_avg", "dialect")) for path in paths)
    )


def export() -> str:
    paths = files("export.csv")
    intro = """
The library export (`mobilabel export`, [Exporting](../export.md)), measured by `python -m bench.export`
(appended to `bench/results/export.csv`, one table per run, newest first). The synthetic rows (a
SQLite database filled by SQL, one content in ten verified) go out as Label Studio tasks, whose
rows touch no image file: `peak_rss_mb` at each row count shows whether memory stays constant. The
class-folder modes run on the 609 shared flower photos: a first export, the same export again into
the same folder (`new_files` 0: idempotent), and copies. Each export is one child process
(`bench.peak_rss`); `seconds` is its wall time.
"""
    return _page("Library export", intro, paths, "".join(_by_run(path, ("date", "machine", "load_avg")) for path in paths))


def watch() -> str:
    paths = files("watch.csv")
    intro = """
`mobilabel watch` ([Growing libraries](../watch.md)), measured by `python -m bench.watch` (appended to
`bench/results/watch.csv`, one table per run, newest first). For each mode, photos written one at a
time into the watched folder, each timed from the start of its write to its result row (`p50_s`,
`max_s`; target under 5 s), then a burst written as fast as the script can while it watches, timed
from the first write to the last row (`max_s`). `labelled_once`: every photo has its row, each
labelled by exactly one job, and the jobs covered each photo once. The photos are distinct
re-encodings of the shared flowers, so none is answered by reusing another's result.
"""
    return _page("Growing libraries", intro, paths, "".join(_by_run(path, ("date", "machine", "load_avg")) for path in paths))


def slim() -> str:
    paths = files("slim.csv")
    start = files("predict_start.csv")
    intro = """
Slim CPU workers, measured by `python -m bench.slim` (written to `bench/results/slim.csv`): a virtual
environment with the slim install ([Slim CPU workers](../slim-workers.md)), its size on disk, its peak
RSS while `mobilabel label` labels the shared val flowers from the ImageNet weights' stored ONNX file,
and `mobilabel predict` of one photo from a warm model cache (median of five), beside the full
install's. Every result is checked against the torch engine's: the same label, its top-5
probabilities within the tolerance the last row gives.

`python -m bench.predict_start --before REV` (written to `bench/results/predict_start.csv`) times the full
install's `mobilabel predict` of one photo from a warm cache, this code beside commit REV's, taking turns
(median of five, and the wall time of the fastest run, the least held up by other work on a shared
machine), and lists the heavy packages each imported.
"""
    body = "".join(_whole(path, "Figures") for path in paths) + "".join(
        _whole(path, "Predict start-up, before and now") for path in start
    )
    return _page("Slim CPU workers", intro, [*paths, *start], body)


def curation() -> str:
    paths = [*files("neighbours.csv"), *files("mistakes.csv"), *files("duplicates.csv")]
    intro = """
Likely mistakes, near-duplicate groups and the kNN index behind "more like this"
([Likely mistakes and near-duplicates](../mistakes.md)), on the shared flowers' embeddings (the ImageNet
MobileNetV2's pooled features, `bench/embedding.py`). `python -m bench.neighbours` times one query (10
nearest) per candidate index on synthetic embeddings shaped like real ones, exact search and faiss at a
million, the graph indexes at 100,000 (their build at a million is far longer than the machine could be
held); `python -m bench.mistakes` flips 5% of the labels at random per seed and counts the flipped ones in
the first 10% of the ranking (target 0.60, median over seeds); `python -m bench.duplicates` makes a crop, a
resize, a JPEG recompression and a colour edit of 120 photos and scores the groups over pairs (target
recall 0.95 at precision 0.95). Measured on a shared 2-core machine with other work running: times are
only comparable within a table.
"""
    return _page("Likely mistakes and near-duplicates", intro, paths, "".join(_whole(path, path.stem) for path in paths))


def loop() -> str:
    paths = files("loop*.csv")
    intro = """
The labelling loop ([The labelling loop](../labelling-loop.md)), measured by `python -m bench.loop`: (a) a
simulated reviewer answering the review queue in rounds of 20 over the 609 shared flowers pooled as one
unsorted folder, the suggestions refreshed by the quick head after each round, from the ImageNet weights;
`answers_needed` is the median over seeds of the first answer count whose accuracy on the unanswered
rest is within one point of `reference` (the 5-fold cross-validated accuracy of the same head on all
609), and of `reference_self_trained` for the head the product fits now (self-trained on the unanswered
images it is sure of: the rows named so; each held-out fold is its unanswered library); the queue's
default strategy is the best row. (b) quick refreshes (fit, gate, relabel, activate,
prune) over synthetic embeddings on SQLite and PostgreSQL, the write path before (upserts, current rows
refreshed per batch) and now (rows written current in the activation's transaction, COPY on PostgreSQL) alternated on copies of one
library, with the seconds spent writing in brackets and their ratio; and (c) what keeping embeddings costs
`label`. Small runs on a shared 2-core machine: compare rows of one run only.
"""
    titles = {
        "loop.csv": "Answers needed, per strategy",
        "loop_rounds.csv": "Accuracy on the unanswered rest after each round",
        "loop_speed.csv": "Speed and cost",
    }
    return _page("The labelling loop", intro, paths, "".join(_whole(path, titles.get(path.name, path.name)) for path in paths))


def recorded() -> str:
    paths = files("recorded.csv")
    intro = """
Figures from runs whose scripts print rather than write a CSV (`bench.training`, `bench.api`,
timed commands), and from earlier states of the code that explain a decision. Each row names
the command or context that measured it; the machine was a shared 2-core VM unless it says
otherwise, so compare figures only within a row or a topic.
"""
    header, rows = _rows(paths[0]) if paths else ([], [])
    topics: dict[str, list[list[str]]] = {}
    for row in rows:
        topics.setdefault(row[0], []).append(row[1:])
    body = "".join(f"## {topic}\n\n" + table(header[1:], topic_rows) + "\n" for topic, topic_rows in topics.items())
    return _page("Other recorded measurements", intro, paths, body)


def accept() -> str:
    paths = files("accept.csv")
    runs = files("accept_runs.csv")
    loop, loop_runs = files("accept_loop.csv"), files("accept_loop_runs.csv")
    intro = """
`mobilabel accept --precision P` ([Accepting at a stated precision](../accepting.md)) measured by
`python -m bench.accept` on the 609 shared flowers: each seed draws the answers at random (`answers`
of them), fits a linear head on their ImageNet features (the quick head of issue 27), calibrates it and
chooses the threshold with the product's own code from the held-out answers, and measures the
accepted set's precision on the other photos, which nothing was trained or fitted on. `split`: a
fifth of the answers held out, as `mobilabel train` on answers does today; `oof`: every answer held
out once by 5-fold out-of-fold predictions (issue 26's definition). `seeds_below_p` counts the
seeds that accepted something whose measured precision fell below P; `coverage` is accepted /
unreviewed photos (a seed that accepts nothing counts 0). Every seed's row is in
`bench/results/accept_runs.csv`.

`python -m bench.accept --loop` (`loop` rows): the answers are those of the labelling loop instead
(`bench.loop`'s simulated reviewer answering the queue's default order in rounds of 20, a quick head
refitted after each), and the version is the product's quick head, calibrated and given its
held-out predictions by `training.quick.calibrated_held_out` as a quick refresh stores them.
`pooled` is the product's rule; `per_class` runs the same scan on each class's held-out answers
alone at 1 - 0.05 / C confidence (Bonferroni over the C classes); `check` is what `accept` does:
the pooled rule when it certifies P, else the check sample, whose check answers the simulated
reviewer gives after the loop as `accept` asks for them (`check_answers`, counted apart from the
300; the checked photos are answered, so not counted as accepted). Every seed's row is in
`bench/results/accept_loop_runs.csv`.
"""
    body = (
        "".join(_whole(path, "Summary") for path in paths)
        + "".join(_whole(path, "Summary, answers of the loop") for path in loop)
        + "".join(_whole(path, "Every seed") for path in runs)
        + "".join(_whole(path, "Every seed, answers of the loop") for path in loop_runs)
    )
    return _page("Accepting at a stated precision", intro, [*paths, *loop, *runs, *loop_runs], body)


# Page name (docs/benchmarks/<name>.md) and its writer; CLAIMS says which CSVs each one renders.
PAGES: dict[str, Callable[[], str]] = {
    "throughput": throughput,
    "phone": phone,
    "object-store": object_store,
    "recipes": recipes,
    "review": review,
    "results-scale": results_scale,
    "export": export,
    "watch": watch,
    "slim": slim,
    "curation": curation,
    "loop": loop,
    "recorded": recorded,
    "accept": accept,
}
CLAIMS: dict[str, tuple[str, ...]] = {
    "throughput": ("*_engine-*.csv", "*_incremental.csv"),
    "phone": ("phone_*.csv",),
    "object-store": ("*_object_store.csv",),
    "recipes": ("recipes.csv", "recipes_runs.csv"),
    "review": ("review.csv",),
    "results-scale": ("results_scale.csv",),
    "export": ("export.csv",),
    "watch": ("watch.csv",),
    "slim": ("slim.csv", "predict_start.csv"),
    "curation": ("neighbours.csv", "mistakes.csv", "duplicates.csv"),
    "loop": ("loop*.csv",),
    "recorded": ("recorded.csv",),
    "accept": ("accept.csv", "accept_runs.csv", "accept_loop.csv", "accept_loop_runs.csv"),
}
