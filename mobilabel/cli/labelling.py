"""`mobilabel label`: labelling a folder in this process (the embedded main job)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.console import Console

from ..config import Settings
from ..imaging import IMAGE_EXTENSIONS
from ..logs import mask_secrets
from ..models.classifier import Classifier
from ..models.devices import resolve_device
from ..pipeline.active_model import ActiveModel
from ..pipeline.build import build_labeller, load_classifier
from ..pipeline.embedded import JobSummary, find_work, label_folder
from ..pipeline.folder_turn import folder_turn
from ..pipeline.paths import WalkCounts, check_folder, iter_images
from ..plurals import counted
from ..storage.ownership import this_process
from ..storage.pathcodec import to_stored
from ..storage.versions import IMAGENET_PREFIX
from ..versions.checkpoints import resolve_model
from .context import command_database
from .labelling_options import device_option, engine_option, model_option
from .output import messages, passed_over_text
from .progress import image_progress
from .sources import SOURCE

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint

_SUMMARY_LABELS = 10


@click.command()
@click.argument("folder", type=SOURCE)
@model_option
@engine_option
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per forward pass (default: MOBILABEL_BATCH_SIZE).")
@click.option("--force", is_flag=True, help="Label every image, also those unchanged since this model version labelled them.")
@click.pass_obj
def label(
    settings: Settings,
    folder: Path,
    model: str | None,
    engine: str | None,
    device: str | None,
    batch_size: int | None,
    force: bool,
) -> None:
    """Label every image under FOLDER (recursively), or under an object-store prefix s3://BUCKET/PREFIX,
    in this process and store the results.

    An image whose labelled row for the model version in force has its current size and
    modification time is skipped as unchanged (failed rows are retried); --force labels all.
    """
    console = messages()
    resolve_device(device or settings.device)  # a GPU this machine lacks is an error before any work
    folder = check_folder(folder)
    walked = WalkCounts()
    if next(iter_images(folder, walked), None) is None:
        skipped = "".join(f"; skipped: {count} {reason}" for reason, count in walked.by_reason().items())
        click.echo(f"No images under {folder} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}, any case{skipped}).")
        return
    database = command_database()

    def factory(chosen: str | Checkpoint) -> Classifier:
        return load_classifier(settings, database, chosen, engine, device)

    with folder_turn(database, settings, folder, this_process("label"), waiting_line(console)):
        # Read (not built) now: its version decides what is unchanged. Without --model, follow the
        # active version: a promotion mid-run takes over between batches.
        chosen = resolve_model(database, settings, model)
        version_id = chosen if isinstance(chosen, str) else chosen.version_id
        source = ActiveModel(database, settings, factory, pinned=version_id if model else None, checkpoint=chosen)
        labeller = build_labeller(settings, source, batch_size, device)
        work = find_work(database, folder, None if force else version_id)
        # The model is built now, before the progress bar, and only if there is something to label.
        engine_name = labeller.classifier.engine.name if work.paths else None
        # No bar when every image is unchanged: "0/? - img/s" would read as a stalled run; the summary says why.
        with image_progress(console, disable=not work.paths) as progress, first_interrupt_stops_gently() as interrupted:
            task = progress.add_task("labelling", total=None)
            summary = label_folder(
                database,
                labeller,
                work,
                lambda n, total: progress.update(task, advance=n, total=total),
                version_id,
                stop_requested=interrupted.is_set,
                settings=settings,
            )
    _print_summary(console, summary, mask_secrets(database.url), engine_name)


def waiting_line(console: Console) -> Callable[[str, str], None]:
    """What a run waiting for another's turn on its folder (``folder_turn``'s ``on_wait``) prints."""

    def waiting(owner: str, other_folder: str) -> None:
        console.print(
            f"waiting: {owner} is labelling {other_folder}; this run labels what it leaves once it ends",
            markup=False,
            highlight=False,
        )

    return waiting


@contextmanager
def first_interrupt_stops_gently(
    wake: threading.Event | None = None, signals: tuple[signal.Signals, ...] = (signal.SIGINT,)
) -> Iterator[threading.Event]:
    """Within the block, a first Ctrl-C (SIGINT; or any of ``signals``) only sets the event (and ``wake``, to end a
    wait): labelling stops after the batch it is writing and says what was kept. A second one interrupts at once,
    as Ctrl-C always does."""
    interrupted = threading.Event()
    previous = {number: signal.getsignal(number) for number in signals}

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        interrupted.set()
        if wake is not None:
            wake.set()
        for number, handler in previous.items():
            signal.signal(number, handler)
        click.echo("\nstopping after the batch being written (Ctrl-C again to stop at once)", err=True)

    for number in signals:
        signal.signal(number, on_interrupt)
    try:
        yield interrupted
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _print_summary(console: Console, summary: JobSummary, database_url: str, engine: str | None) -> None:
    labelled = summary.done + summary.failed
    passed_over = passed_over_text(summary.passed_over)
    if not labelled and summary.skipped == summary.total:
        # An incremental run with nothing changed: its time and rate would measure nothing.
        console.print(
            f"job {summary.job_id}: nothing new to label: {counted(summary.skipped, 'image')} unchanged for model version "
            f"{summary.model_version_id}{passed_over}; --force labels all again"
        )
    else:
        rate = labelled / summary.seconds if summary.seconds else 0.0
        # Over the whole job, start-up (model load, folder walk) included: the bar's rate is recent images only.
        speed = f" ({rate:.1f} img/s overall, start-up included; {engine} engine)" if engine and labelled else ""
        console.print(
            f"job {summary.job_id}: {counted(summary.total, 'image')}, {summary.done} labelled, {summary.failed} failed, "
            f"{summary.skipped} skipped (unchanged){passed_over} in {summary.seconds:.1f} s{speed}, "
            f"model version {summary.model_version_id}"
        )
    counts = list(summary.label_counts.items())
    for name, count in counts[:_SUMMARY_LABELS]:
        console.print(f"  {count:6d}  {name}", markup=False, highlight=False)
    if len(counts) > _SUMMARY_LABELS:
        rest = sum(count for _, count in counts[_SUMMARY_LABELS:])
        console.print(f"  {rest:6d}  in {len(counts) - _SUMMARY_LABELS} other labels")
    if summary.failures:
        console.print(f"failed ({summary.failed}):")
        for path, reason in summary.failures[:20]:
            console.print(f"  {to_stored(path)}: {reason}", markup=False, highlight=False)
        if len(summary.failures) > 20:
            console.print(
                f"  ... and {len(summary.failures) - 20} more: mobilabel results --job {summary.job_id} --status failed"
            )
    console.print(f"results in {database_url}: mobilabel results --job {summary.job_id}", markup=False, highlight=False)
    if summary.model_version_id.startswith(IMAGENET_PREFIX):
        console.print(
            "these are ImageNet's 1,000 classes, not yours: add your own (mobilabel classes add NAME), answer what "
            "`mobilabel review next` offers, then `mobilabel train` learns them (docs: the labelling loop)",
            markup=False,
            highlight=False,
        )
