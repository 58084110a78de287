"""Phone-size photos: decoding, agreement, labelling, workers and training, measured side by side in one run, with their targets.

    python -m bench.phone [--count 200] [--small N] [--tutorial N] [--agreement 609] [--train 200] [--no-distributed] [--no-training]

Makes phone-size versions of the shared flowers (upscaled to 4032x3024 with mild noise, JPEG
quality 90, every fourth stored on its side with EXIF orientation 6; each made once and kept
under bench/data/phone, the folders below are hard links to them) and measures:
  the tutorial's predict loop on the ``--count`` folder (or ``--tutorial`` photos evenly chosen
  from it), three times spread over the run; its median is the base of every ratio;  decode + transform per decoder (ms per image, one thread)
  against a full-size Pillow decode, and top-1 agreement with it on ``--agreement`` photos of what
  `mobilabel label` predicts (the reduced decode, its near ties decoded again at full size under
  MOBILABEL_REFINE_MARGIN: how many, and what that costs) for ImageNet's classes and a trained
  flowers model, the largest confidence difference and each miss;
  `mobilabel label` on ``--small`` and ``--count`` photos (marginal rate from the difference of the
  two, peak RSS) and on the larger folder with one 8000x6000 photo added (peak RSS);  one worker
  (Celery on the local Redis and PostgreSQL) likewise, with the RSS of its largest process;
  one training epoch of the tutorial's loop and of `mobilabel train` on ``--train`` phone-size
  images of the train split. Each row says whether its target is met; rows go to
  bench/results/phone_<count>.csv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from mobilabel.config import available_cores, load_settings
from mobilabel.imaging import read_rgb
from mobilabel.models import Checkpoint, Classifier, Prediction
from mobilabel.pipeline.decoders import DECODERS, Decoded
from mobilabel.pipeline.labeller import Labeller
from tests.phone_photos import phone_photo

from .bench import (
    Report,
    Row,
    distributed_env,
    distributed_label,
    embedded_label,
    flowers_checkpoint,
    machine_name,
    marginal,
    tutorial_predict,
    write_csv,
)
from .paths import DATA, FLOWERS, RESULTS, WEIGHTS
from .training import mobilabel_epoch, tutorial_epoch


def phone_pool(indices: list[int]) -> list[Path]:
    """Phone-size versions of the shared flowers at ``indices`` (in sorted order), each made once and kept under
    bench/data/phone with the flowers' layout (split/class/name); flower ``i`` gets noise seed ``i`` and is
    stored on its side when ``i`` is a multiple of 4."""
    flowers = sorted(FLOWERS.glob("*/*/*.jpg"))
    paths = []
    for i in indices:
        paths.append(DATA / "phone" / flowers[i].relative_to(FLOWERS))
        if not paths[-1].exists():
            paths[-1].parent.mkdir(parents=True, exist_ok=True)
            partial = paths[-1].with_suffix(f".{os.getpid()}.part")
            phone_photo(flowers[i], partial, i, 6 if i % 4 == 0 else 1)
            partial.rename(paths[-1])  # an interrupted run leaves no truncated photo in the cache
    return paths


def evenly(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)`` (the flowers are sorted split by split, class by class)."""
    return sorted({round(i * (total - 1) / max(count - 1, 1)) for i in range(min(count, total))})


def linked_folder(name: str, photos: list[Path], keep_classes: bool = False) -> Path:
    """A folder under bench/data/phone_sets of hard links to ``photos`` (made again unless it holds exactly them);
    with ``keep_classes``, as ``<class>/<name>`` for training, else flat as ``IMG_<n>.jpg``."""
    folder = DATA / "phone_sets" / name
    targets = [folder / p.parent.name / p.name if keep_classes else folder / f"IMG_{n:04d}.jpg" for n, p in enumerate(photos)]
    if sorted(folder.rglob("*.jpg")) != sorted(targets):
        shutil.rmtree(folder, ignore_errors=True)
        for photo, target in zip(photos, targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(photo, target)
    return folder


def photo_48mp() -> Path:
    """One 8000x6000 phone-style photo (the first flower), made once under bench/data/phone."""
    target = DATA / "phone" / "IMG_48MP.jpg"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        phone_photo(sorted(FLOWERS.glob("*/*/*.jpg"))[0], partial, 48, 1, (8000, 6000))
        partial.rename(target)
    return target


def reference_inputs(photos: list[Path], classifier: Classifier) -> tuple[torch.Tensor, float]:
    """``classifier``'s inputs for ``photos`` (uint8, N x H x W x 3) from a full-size Pillow decode (the reference),
    and ms per image from file to input on one thread."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    inputs = classifier.stack([classifier.pixels(read_rgb(p, 10**9)) for p in photos])
    ms = 1000 * (time.perf_counter() - started) / len(photos)
    torch.set_num_threads(available_cores())
    return inputs, ms


def decoded(photos: list[Path], labeller: Labeller, classifier: Classifier) -> tuple[list[Decoded], float]:
    """``photos`` decoded by ``labeller`` as ``classifier``'s inputs, and ms per image from file to input on one thread."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    items = [item for batch in labeller.read_ahead(photos) for item in labeller.prepare(batch.items, classifier)]
    ms = 1000 * (time.perf_counter() - started) / len(photos)
    torch.set_num_threads(available_cores())
    assert all(item.tensor is not None for item in items)
    return items, ms


def predictions(classifier: Classifier, inputs: torch.Tensor) -> list[Prediction]:
    return [p for start in range(0, len(inputs), 32) for p in classifier.predict(inputs[start : start + 32])]


def labelled(labeller: Labeller, items: list[Decoded], classifier: Classifier) -> tuple[list[Prediction], int, float]:
    """What `mobilabel label` predicts for ``items`` (decoded by ``labeller``): the forward pass, then its near ties decoded
    again at full size and predicted again (``Labeller.refine``); with how many were and the ms that took on one thread."""
    first = predictions(classifier, torch.stack([item.tensor for item in items]))  # type: ignore[misc]
    torch.set_num_threads(1)
    started = time.perf_counter()
    refined = labeller.refine(items, first, classifier)
    ms = 1000 * (time.perf_counter() - started)
    torch.set_num_threads(available_cores())
    return refined, len(labeller.near_ties(items, first)), ms


def agreement_notes(photos: list[Path], full: list[Prediction], reduced: list[Prediction]) -> tuple[float, float, str]:
    """(share of top-1 labels equal to the full decode's, largest difference in the full decode's top-1 confidence
    (1.0 where the reduced decode's top five lack it), each miss with the full decode's top two)."""
    misses = [
        f"{p.name}: {r.label} for {f.top_k[0][0]} {f.top_k[0][1]:.3f} / {f.top_k[1][0]} {f.top_k[1][1]:.3f}"
        for p, f, r in zip(photos, full, reduced, strict=True) if r.label != f.label
    ]  # fmt: skip
    difference = max(
        abs(dict(r.top_k)[f.label] - f.confidence) if f.label in dict(r.top_k) else 1.0
        for f, r in zip(full, reduced, strict=True)
    )
    return 1 - len(misses) / len(photos), difference, "; ".join(misses)


def one_worker(folder: Path, env: dict[str, str], home: Path) -> tuple[float, float, float]:
    """``bench.distributed_label`` with one worker, in a database and home of its own: a run after another in the
    same database would skip registering the model and reuse every result stored for a content the folders share."""
    shutil.rmtree(home, ignore_errors=True)
    with distributed_env({**env, "MOBILABEL_HOME": str(home)}) as denv, tempfile.TemporaryDirectory() as logs:
        return distributed_label(folder, denv, 1, Path(logs))


def target(ratio_or_value: float, limit: float, at_least: bool, what: str) -> str:
    met = ratio_or_value >= limit if at_least else ratio_or_value <= limit
    return f"target {'>=' if at_least else '<='} {what}: {'met' if met else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="phone-size photos in the larger label folder")
    parser.add_argument(
        "--small", type=int, help="photos in the smaller folder, for the marginal rate (default: a quarter of --count)"
    )
    parser.add_argument("--tutorial", type=int, help="photos of the --count folder the tutorial's loop runs on (default: all)")
    parser.add_argument("--agreement", type=int, default=609, help="photos (of the 609 flowers) for decoder agreement")
    parser.add_argument(
        "--train", type=int, default=200, help="phone-size training images (of the flowers' train split) for the epoch"
    )
    parser.add_argument("--no-distributed", action="store_true", help="skip the worker rows (no Redis/PostgreSQL)")
    parser.add_argument("--no-training", action="store_true", help="skip the training epochs and the flowers model's agreement")
    args = parser.parse_args()
    small_count = args.small or max(args.count // 4, 1)
    total = len(sorted(FLOWERS.glob("*/*/*.jpg")))
    large_photos = phone_pool(evenly(args.count, total))
    small_photos = phone_pool(evenly(small_count, total))
    large = linked_folder(f"label_{len(large_photos)}", large_photos)
    small = linked_folder(f"label_{len(small_photos)}", small_photos)
    with_48mp = linked_folder(f"label_{len(large_photos)}_48mp", [*large_photos, photo_48mp()])
    env = {**os.environ, "MOBILABEL_PRETRAINED": str(WEIGHTS)}
    for name in ("MOBILABEL_DATABASE_URL", "MOBILABEL_HOME", "MOBILABEL_ENGINE", "MOBILABEL_DECODER"):
        env.pop(name, None)
    home = DATA / "phone_home"
    report = Report()
    print(f"machine {machine_name()}, {available_cores()} threads; label folders {len(small_photos)} and {len(large_photos)} "
          f"phone-size photos (4032x3024); load average {os.getloadavg()[0]:.1f}\n", flush=True)  # fmt: skip

    # The tutorial's loop on the larger folder, three times spread over the run; its median is the base of the ratios.
    # Its rate has no start-up in it, so on a loaded machine it may run on an evenly chosen part of the folder.
    tutorial_photos = [large_photos[i] for i in evenly(args.tutorial or len(large_photos), len(large_photos))]
    tutorial_runs = [tutorial_predict(tutorial_photos)[:2]]
    print(f"  tutorial predict loop, run 1: {len(tutorial_photos) / tutorial_runs[0][1]:.2f} img/s", flush=True)

    # Agreement of every decoder with the full-size decode, with ImageNet's classes and a trained flowers model.
    agreement_photos = phone_pool(evenly(args.agreement, total))
    classifiers = {"ImageNet": Classifier.load(Checkpoint.load(WEIGHTS), engine="onnx", device="cpu", threads=1)}
    flowers_model = flowers_checkpoint(args.no_training)
    if flowers_model is not None:
        classifiers["flowers"] = Classifier.load(flowers_model, engine="onnx", device="cpu", threads=1)
    reference = next(iter(classifiers.values()))
    inputs, ms = reference_inputs(agreement_photos, reference)
    full = {name: predictions(c, inputs) for name, c in classifiers.items()}
    del inputs
    report.add(Row("decode + transform, full-size Pillow (reference), 1 thread", len(agreement_photos), images_per_s=1000 / ms))
    margin = load_settings().refine_margin
    for decoder in DECODERS:
        labeller = Labeller(reference, batch_size=8, decode_threads=1, decoder=decoder, refine_margin=margin)
        items, ms = decoded(agreement_photos, labeller, reference)
        notes = [f"as mobilabel label: reduced decode, near ties (top two within {margin}) decoded again at full size"]
        for name, classifier in classifiers.items():
            ours, refined, refine_ms = labelled(labeller, items, classifier)
            share, difference, misses = agreement_notes(agreement_photos, full[name], ours)
            ok = share >= 0.995 and difference <= 0.05
            notes.append(f"{name}: top-1 = full decode {share:.2%}, confidence within {difference:.4f} "
                         f"(target >= 99.5%, <= 0.05: {'met' if ok else 'MISSED'}); refined {refined} ({refined / len(items):.1%}), "
                         f"{refine_ms / max(refined, 1):.0f} ms each, {refine_ms / len(items):.1f} ms a photo{'; misses: ' + misses if misses else ''}")  # fmt: skip
        print(f"  {decoder}: {' | '.join(notes)}", flush=True)
        report.add(
            Row(
                f"decode + transform, {decoder}, 1 thread", len(agreement_photos), images_per_s=1000 / ms, notes=" | ".join(notes)
            )
        )
        del items
    del full, classifiers, reference

    small_s, small_rss = embedded_label(small, env, home)
    large_s, large_rss = embedded_label(large, env, home)
    report.add(Row(f"mobilabel label, {len(small_photos)} phone photos", len(small_photos), small_s, peak_rss_mb=small_rss))
    label_row = report.add(Row(f"mobilabel label, {len(large_photos)} phone photos", len(large_photos), large_s,
                               marginal(len(small_photos), small_s, len(large_photos), large_s), large_rss,
                               f"marginal from the two sizes; {target(large_rss, 1536, False, '1.5 GB')}"))  # fmt: skip
    wall, rss = embedded_label(with_48mp, env, home)
    report.add(Row(f"mobilabel label, {len(large_photos)} phone photos + one 8000x6000", len(large_photos) + 1, wall,
                   peak_rss_mb=rss, notes=target(rss, 2048, False, "2 GB")))  # fmt: skip

    tutorial_runs.append(tutorial_predict(tutorial_photos)[:2])
    print(f"  tutorial predict loop, run 2: {len(tutorial_photos) / tutorial_runs[-1][1]:.2f} img/s", flush=True)

    worker_row = None
    if not args.no_distributed:
        first, second = one_worker(small, env, home), one_worker(large, env, home)
        report.add(Row(f"one worker, {len(small_photos)} phone photos", len(small_photos), first[0], len(small_photos) / first[1], first[2],
                       "rate from enqueue to last row"))  # fmt: skip
        worker_row = report.add(Row(f"one worker, {len(large_photos)} phone photos", len(large_photos), second[0],
                                    marginal(len(small_photos), first[1], len(large_photos), second[1]), second[2],
                                    f"marginal from the two sizes; RSS of one worker process, {target(max(first[2], second[2]), 1536, False, '1.5 GB')}"))  # fmt: skip

    if not args.no_training:
        flowers = sorted(FLOWERS.glob("*/*/*.jpg"))
        train_indices = [i for i, p in enumerate(flowers) if p.relative_to(FLOWERS).parts[0] == "train"]
        train_photos = phone_pool([train_indices[k] for k in evenly(args.train, len(train_indices))])
        train_dir = linked_folder(f"train_{len(train_photos)}", train_photos, keep_classes=True)
        tutorial_speed, ours = tutorial_epoch(train_dir, WEIGHTS), mobilabel_epoch(train_dir, WEIGHTS)
        report.add(
            Row(
                "training epoch, tutorial loop, phone photos",
                tutorial_speed.images,
                tutorial_speed.seconds,
                tutorial_speed.images_per_s,
            )
        )
        ratio = ours.images_per_s / tutorial_speed.images_per_s
        report.add(Row("training epoch, mobilabel train, phone photos", ours.images, ours.seconds, ours.images_per_s,
                       notes=f"{ratio:.2f}x the tutorial's epoch; {target(ratio, 3, True, '3x')}"))  # fmt: skip

    tutorial_runs.append(tutorial_predict(tutorial_photos)[:2])
    load_s, loop_s = sorted(tutorial_runs, key=lambda run: run[1])[len(tutorial_runs) // 2]
    runs = ", ".join(f"{len(tutorial_photos) / loop:.2f}" for _, loop in tutorial_runs)
    tutorial = Row("tutorial predict loop, eager fp32, 1 by 1, phone photos", len(tutorial_photos), load_s + loop_s,
                   len(tutorial_photos) / loop_s, notes=f"median of {len(tutorial_runs)} runs over the benchmark: {runs} img/s; "
                   f"{len(tutorial_photos)} of the {len(large_photos)} photos the label rows use")  # fmt: skip
    report.rows.insert(0, tutorial)
    print(f"  {tutorial.name:<44} {tutorial.images_per_s:8.2f} img/s  {tutorial.notes}")
    base_rate = tutorial.images_per_s or 1.0
    print("\nratios to the tutorial's loop on the same photos:")
    for row in report.rows:
        if row.images_per_s and not row.name.startswith("training"):
            row.ratio = row.images_per_s / base_rate
            print(f"  {row.name:<44} {row.ratio:6.2f}x")
    for measured, limit in ((label_row, 5.0), (worker_row, 4.5)):
        if measured is not None and measured.ratio is not None:
            measured.notes += f"; {target(measured.ratio, limit, True, f'{limit}x')}"
            print(f"  {measured.name}: {measured.notes}")
    write_csv(report, RESULTS / f"phone_{len(large_photos)}.csv")


if __name__ == "__main__":
    main()
