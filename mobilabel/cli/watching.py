"""`mobilabel watch`: label a folder's new and changed images as they appear, here or on the workers."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from ..broker import QUEUES
from ..config import Settings
from ..models.classifier import Classifier
from ..models.devices import resolve_device
from ..object_paths import ObjectPath, source_path
from ..pipeline.active_model import ActiveModel
from ..pipeline.build import build_labeller, load_classifier
from ..pipeline.paths import check_folder
from ..storage import Database
from ..storage.ownership import this_process
from ..storage.versions import version_in_force
from ..versions.checkpoints import resolve_model
from ..watching.distributed import SendToWorkers
from ..watching.embedded import LabelHere
from ..watching.events import follow_folder
from ..watching.sources import FolderSource, PrefixSource, Source
from ..watching.watcher import Check, HandOff, Watcher, keep_watching
from .context import command_database

if TYPE_CHECKING:
    from ..models.checkpoint import Checkpoint

from .labelling import first_interrupt_stops_gently, waiting_line
from .labelling_options import device_option, engine_option, model_option
from .output import messages


@click.command()
@click.argument("source")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between checks (filesystem events start one at once).",
)
@click.option("--poll", is_flag=True, help="Ignore filesystem events and poll (network mounts, whose changes raise none here).")
@model_option
@engine_option
@device_option
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per forward pass (default: MOBILABEL_BATCH_SIZE).")
@click.option(
    "--chunk", "chunk_size", type=click.IntRange(min=1), help="With a broker: images per task (default: MOBILABEL_CHUNK_SIZE)."
)
@click.option("--queue", type=click.Choice(QUEUES), default="cpu", show_default=True, help="With a broker: the workers' queue.")
@click.pass_obj
def watch(
    settings: Settings,
    source: str,
    interval: float,
    poll: bool,
    model: str | None,
    engine: str | None,
    device: str | None,
    batch_size: int | None,
    chunk_size: int | None,
    queue: str,
) -> None:
    """Label new and changed images under SOURCE (a folder or s3://bucket/prefix) as they appear, until Ctrl-C.

    First it catches up: what is unlabelled or changed since the model version in force labelled it is
    labelled, the rest left alone (as `label` does). Then each check (on a filesystem event, else every
    --interval seconds) labels files that are new or changed and whole: closed by their writer, or with
    size and modification time (an object's ETag and size: a prefix is polled) unchanged across a check. With MOBILABEL_BROKER_URL set they go to the
    workers in chunks, as `enqueue` sends them; else they are labelled in this process.
    """
    console = messages()
    folder = check_folder(source_path(source))
    database = command_database()
    wake = threading.Event()
    with first_interrupt_stops_gently(wake, (signal.SIGINT, signal.SIGTERM)) as stop:
        if settings.broker_configured:
            pinned = _pinned_version(database, settings, model) if model else None
            hand_off: HandOff = SendToWorkers(database, settings, folder, chunk_size, queue, pinned)
            where = f"sending to queue {queue}"
        else:
            hand_off, pinned = _label_here(database, settings, folder, model, engine, device, batch_size, stop, console)
            where = "labelling here"
        # An object store raises no events: a prefix is polled (listed, its fingerprints diffed) every interval.
        followed = None if poll or isinstance(folder, ObjectPath) else follow_folder(folder, wake)
        how = "filesystem events" if followed is not None else "polling"
        try:
            watched: Source = (
                PrefixSource(folder)
                if isinstance(folder, ObjectPath)
                else FolderSource(folder, followed[1] if followed else None)
            )
            watcher = Watcher(database, watched, hand_off, _InForce(database, pinned), interval)
            console.print(
                f"watching {folder} ({how}, every {interval:g} s), {where}; Ctrl-C stops",
                markup=False,
                highlight=False,
            )
            keep_watching(watcher, interval, wake, stop, lambda check: _report(console, check))
        finally:
            if followed is not None:
                followed[0].stop()
                followed[0].join()
    console.print(
        f"stopped watching {folder}; watching it again catches up with what changed meanwhile",
        markup=False,
        highlight=False,
    )


class _InForce:
    """The version whose fingerprints decide what is changed, looked up at each check (a promotion takes over)."""

    def __init__(self, database: Database, pinned: str | None) -> None:
        self._database = database
        self._pinned = pinned

    def __call__(self) -> str | None:
        with self._database.transaction() as session:
            return version_in_force(session, self._pinned)


def _report(console: Console, check: Check) -> None:
    if check.handed:
        console.print(check.said, markup=False, highlight=False)


def _pinned_version(database: Database, settings: Settings, model: str) -> str:
    chosen = resolve_model(database, settings, model)
    return chosen if isinstance(chosen, str) else chosen.version_id


def _label_here(
    database: Database,
    settings: Settings,
    folder: Path,
    model: str | None,
    engine: str | None,
    device: str | None,
    batch_size: int | None,
    stop: threading.Event,
    console: Console,
) -> tuple[HandOff, str | None]:
    """The hand-off that labels in this process, its model loaded now (the first photo waits for no start-up),
    and the version pinned by ``model`` (None: follow the active one)."""
    resolve_device(device or settings.device)  # a GPU this machine lacks is an error before any work

    def factory(chosen: str | Checkpoint) -> Classifier:
        return load_classifier(settings, database, chosen, engine, device)

    chosen = resolve_model(database, settings, model)  # registers the ImageNet weights on first use
    version_id = chosen if isinstance(chosen, str) else chosen.version_id
    pinned = version_id if model else None
    labeller = build_labeller(settings, ActiveModel(database, settings, factory, pinned, chosen), batch_size, device)
    labeller.classifier  # noqa: B018 - built now, not when the first photo arrives
    owner = this_process("watch")
    return LabelHere(database, settings, folder, labeller, pinned, owner, stop, waiting_line(console)), pinned
