"""`mobilabel train | models | correct`: training runs, model versions, verified labels."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import Progress as ProgressBar
from rich.progress import TaskID

from ..config import Settings
from ..dispatch import submit_training
from ..estimates import Estimate, estimate
from ..exchange.labelstudio import corrections_from, read_answers
from ..plurals import counted
from ..storage import Database
from ..storage import training_runs as stored_runs
from ..storage import versions as stored
from ..storage.accuracy_queries import audit_outcomes
from ..storage.corrections import CorrectionRecord, delete_corrections, list_corrections, save_corrections
from ..storage.pathcodec import to_stored
from ..storage.states import ACTIVE_RUN_STATES
from ..storage.tables import ModelVersion
from ..training.corrections import check_image, read_corrections_csv
from ..training.errors import TrainingError
from ..training.options import ARCH_NAMES, Progress, TrainingOptions
from ..training.recipes import PRESETS, apply_preset
from ..versions import lifecycle
from .context import command_database, reap_orphans_now, reviewer_name
from .model_files import export_version, import_version
from .output import FORMATS, messages, print_rows
from .progress import image_progress
from .sources import SOURCE

if TYPE_CHECKING:
    from ..training import TrainingReport
    from ..training.quick import QuickReport

STORED_COLUMNS = ("id", "active", "arch", "alpha", "classes", "created_at", "activated_at", "source")
METRIC_COLUMNS = ("val_accuracy", "best_epoch", "train_images", "val_images")
# est_accuracy: on the unreviewed rest, from the audit answers, with its 95% interval (mobilabel.estimates).
VERSION_COLUMNS = (
    *STORED_COLUMNS[:5],
    *METRIC_COLUMNS,
    "est_accuracy",
    "est_low",
    "est_high",
    "audit_answers",
    *STORED_COLUMNS[5:],
    "metrics",
)
TABLE_VERSION_COLUMNS = ("id", "active", "arch", "val_accuracy", "est_accuracy", "created_at", "classes")
VERSION_DROP_FIRST = ("arch", "classes", "created_at", "val_accuracy", "est_accuracy")  # where a table is too narrow
DEFAULTS = TrainingOptions()  # the options' defaults live in one place: the dataclass


@click.command("train")
@click.argument("data_dir", required=False, type=SOURCE)
@click.option(
    "--val-fraction",
    type=float,
    help="Share of each class held out for validation, when DATA_DIR has no train/ and val/ (default 0.2).",
)
@click.option("--arch", type=click.Choice(list(ARCH_NAMES)), default="v2", show_default=True, help="MobileNet version.")
@click.option("--alpha", type=float, default=DEFAULTS.alpha, show_default=True, help="Width multiplier.")
@click.option("--epochs", type=click.IntRange(min=1), default=DEFAULTS.epochs, show_default=True)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.lr,
    show_default=True,
    help="Adam learning rate (the tutorial's: 1e-4).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULTS.batch_size, show_default=True)
@click.option("--unfreeze", is_flag=True, help="Fine-tune every layer, not only a new head.")
@click.option(
    "--unfreeze-last",
    type=int,
    default=DEFAULTS.unfreeze_last,
    show_default=True,
    help="Also train the last K blocks of the backbone (and the layers after them).",
)
@click.option(
    "--backbone-lr",
    type=float,
    help="Learning rate of the backbone layers that train (default: --lr/10 with --unfreeze-last, --lr with --unfreeze).",
)
@click.option(
    "--label-smoothing",
    type=float,
    default=DEFAULTS.label_smoothing,
    show_default=True,
    help="Label smoothing of the training loss, 0 to below 1.",
)
@click.option(
    "--schedule",
    default=DEFAULTS.schedule,
    show_default=True,
    help="Learning-rate schedule: constant, or cosine (down to 0 over --epochs).",
)
@click.option(
    "--augment",
    default=DEFAULTS.augment,
    show_default=True,
    help="Training augmentation: basic (crop and flip), trivial, randaugment or colorjitter.",
)
@click.option(
    "--min-crop-area",
    type=float,
    default=DEFAULTS.min_crop_area,
    show_default=True,
    help="Smallest random training crop, as a share of the photo's area (above 0, at most 1).",
)
@click.option(
    "--patience",
    type=int,
    default=DEFAULTS.patience,
    show_default=True,
    help="Stop after this many epochs without a better validation accuracy (0: never).",
)
@click.option(
    "--ema-decay",
    type=float,
    default=DEFAULTS.ema_decay,
    show_default=True,
    help="Validate and keep a moving average of the weights, this much of it kept per step (0: off; 0.97: about the last 33 steps).",
)
@click.option(
    "--resolution",
    type=float,
    default=DEFAULTS.resolution,
    show_default=True,
    help="Resolution multiplier rho: inputs of 224 x rho pixels (the paper's 192, 160, 128: 0.857, 0.714, 0.571); the checkpoint labels at that size.",
)
@click.option("--preset", help=f"A bundle of options ({', '.join(PRESETS)}); options given explicitly override it.")
@click.option("--from-scratch", is_flag=True, help="Start from random weights, not ImageNet's (every layer trains).")
@click.option("--device", default=DEFAULTS.device, show_default=True, help="cpu, cuda or auto.")
@click.option(
    "--seed",
    type=int,
    default=DEFAULTS.seed,
    show_default=True,
    help="Seeds the split, the shuffling, the crops and the new head.",
)
@click.option(
    "--include-corrections/--no-corrections",
    default=True,
    help="Use the verified labels of `mobilabel correct` (the default): each joins training or evaluation by a hash of its key.",
)
@click.option("--force", is_flag=True, help="Make the new version active even if it is not better or knows other classes.")
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the checkpoint, PNG report and metrics JSON here.",
)
@click.option(
    "--queue", "queued", is_flag=True, help="Run on a worker (queue MOBILABEL_TRAIN_QUEUE); follow it with `mobilabel runs`."
)
@click.option("--relabel", is_flag=True, help="With --queue: if promoted, relabel the folders of the last week's jobs.")
@click.option(
    "--quick",
    is_flag=True,
    help="Fit only a new head on the stored embeddings of the answered images and relabel the library from them, in seconds.",
)
@click.pass_context
def train_command(
    ctx: click.Context,
    /,
    data_dir: Path | None,
    force: bool,
    output_dir: Path | None,
    queued: bool,
    relabel: bool,
    quick: bool,
    preset: str | None,
    **options: Any,
) -> None:
    """Train a classifier on DATA_DIR (train/<class>/ and val/<class>/, or <class>/ folders) and register it as a version.

    Without DATA_DIR it trains on your answers alone (`mobilabel correct`, `review next`): your
    active classes and `other`, each with at least 5 answers. With both, an answer overrides the
    folder's label of the same content.

    Transfer learning: a new head and the backbone's last 4 blocks trained (--unfreeze-last),
    the ImageNet layers before them frozen, with colour jitter (--augment); a moving average of the
    weights (--ema-decay) is validated, and its epoch with the best validation accuracy kept. The new version becomes active only if it
    labels more evaluation images right than the active version, on the same images.

    With --quick: a linear head on the embeddings `label` stored, fitted on every answer but the
    audit ones, gated on held-out answers, then every image relabelled from its embedding (no photo
    decoded). `mobilabel correct` does this by itself every MOBILABEL_REFRESH_EVERY answers.
    """
    settings: Settings = ctx.obj
    if quick:
        if data_dir is not None or queued or output_dir is not None:
            raise click.UsageError("--quick fits on the answers' stored embeddings: no DATA_DIR, --queue or --output")
        report = run_quick(settings, force)
        if report is not None:
            click.echo(quick_summary(report))
        return
    options["arch"] = ARCH_NAMES[options["arch"]]
    explicit = {name for name in options if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    if preset is not None:
        options = apply_preset(preset, options, explicit)
    if "unfreeze_last" in explicit and options["unfreeze_last"] and (options["unfreeze"] or options["from_scratch"]):
        raise TrainingError("--unfreeze-last trains part of the backbone; it cannot go with --unfreeze or --from-scratch")
    TrainingOptions(**options).check()  # before anything starts or is sent
    if queued:
        if output_dir is not None:
            raise click.UsageError(
                "--output writes on the machine that trains; with --queue, find the files with `mobilabel models`"
            )
        _queue_run(settings, data_dir, force, relabel, options)
        return
    _local_run(settings, data_dir, force, output_dir, options)


def _local_run(settings: Settings, data_dir: Path | None, force: bool, output_dir: Path | None, options: dict[str, Any]) -> None:
    """Train in this process, listed in `mobilabel runs` (trigger ``local``) with its progress as it goes."""
    from ..training import train  # torch: only a local run needs it
    from ..training.recorded import RecordedProgress

    console = messages()
    database = command_database()
    with database.transaction() as session:
        run = stored_runs.create_run(
            session,
            str(data_dir.absolute()) if data_dir else None,
            options,
            force,
            False,
            trigger="local",
            allowed_roots=settings.allowed_roots,
        )
        stored_runs.start_run(session, run.id)
    recorded = RecordedProgress(database, run.id)
    try:
        with image_progress(console, disable=not console.is_terminal) as bar:
            # A terminal gets bars; a pipe or a file gets a line per phase of each epoch, as it ends.
            shown = EpochBars(bar) if console.is_terminal else ProgressLines(console)

            def on_progress(progress: Progress) -> None:
                shown(progress)
                recorded(progress)

            report = train(
                database,
                settings,
                data_dir,
                TrainingOptions(**options),
                force=force,
                output_dir=output_dir,
                on_progress=on_progress,
            )
    except BaseException as exc:
        with database.transaction() as session:
            stored_runs.finish_run(
                session, run.id, None, None, error=f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
            )
        raise
    with database.transaction() as session:
        stored_runs.finish_run(session, run.id, report.version_id, report.promotion.promoted)
    _print_report(console, report)


def _queue_run(settings: Settings, data_dir: Path | None, force: bool, relabel: bool, options: dict[str, Any]) -> None:
    database = command_database()
    with database.transaction() as session:
        run = stored_runs.create_run(
            session,
            str(data_dir.absolute()) if data_dir else None,
            options,
            force,
            relabel,
            trigger="cli",
            allowed_roots=settings.allowed_roots,
        )
    submit_training(database, settings, run.id)
    click.echo(
        f"training run {run.id} sent to queue {settings.train_queue}; follow it with: mobilabel runs --watch {run.id}", err=True
    )
    click.echo(run.id)


RUN_COLUMNS = ("id", "status", "trigger", "data_dir", "progress", "version_id", "promoted", "error", "created_at", "finished_at")
TABLE_RUN_COLUMNS = ("id", "status", "trigger", "version_id", "promoted", "created_at", "data_dir", "progress", "error")
# Where a table is too narrow: whether a run promoted its version is what a reviewer waits for (issue 26's walkthrough);
# its version_id is a key (output.KEY_COLUMNS), always shown.
RUN_DROP_FIRST = ("trigger", "created_at", "progress", "promoted", "error")


@click.command()
@click.option("--watch", "watch_id", type=int, help="Follow this run with a progress bar until it ends.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def runs(watch_id: int | None, limit: int, fmt: str) -> None:
    """Training runs (local `train`, on workers, from the API or the schedule), newest first, with their progress."""
    database = command_database()
    reap_orphans_now(database)
    if watch_id is not None:
        _watch_run(database, watch_id)
    with database.transaction() as session:
        rows = [
            {c: getattr(r, c) for c in RUN_COLUMNS}
            | {"progress": _progress_text(r.progress), "data_dir": to_stored(r.data_dir) if r.data_dir else "(answers)"}
            for r in stored_runs.list_runs(session, limit)
        ]
    print_rows(
        Console(),
        TABLE_RUN_COLUMNS if fmt == "table" else RUN_COLUMNS,
        rows,
        fmt,
        title="training runs",
        drop_first=RUN_DROP_FIRST,
    )


def _watch_run(database: Database, run_id: int) -> None:
    with image_progress(messages()) as bar:
        task = bar.add_task(f"run {run_id}", total=None)
        while True:
            reap_orphans_now(database)
            with database.transaction() as session:
                run = stored_runs.get_run(session, run_id)
            if run is None:
                raise click.ClickException(f"no training run {run_id}")
            if run.progress:
                progress = run.progress
                bar.update(
                    task,
                    completed=progress["done"],
                    total=progress["total"],
                    description=f"run {run_id} {_progress_text(progress)}",
                )
            if run.status not in ACTIVE_RUN_STATES:
                return
            time.sleep(1.0)  # polling the database is how a watcher learns of progress


def _progress_text(progress: dict[str, Any] | None) -> str:
    if not progress:
        return ""
    return (
        f"epoch {progress['epoch']}/{progress['epochs']} {progress['phase']} {progress['done']}/{progress['total']} "
        f"loss {progress['loss']:.3f} acc {progress['accuracy']:.3f}"
    )


class ProgressLines:
    """Progress as plain lines, one when each phase of an epoch ends: for output that is not a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, progress: Progress) -> None:
        if progress.done != progress.total:
            return
        label = f"epoch {progress.epoch}/{progress.epochs}"
        if progress.phase == "train":
            line = f"{label} loss {progress.loss:.3f} acc {progress.accuracy:.3f} ({progress.total} training images)"
        else:
            line = f"{label} val acc {progress.accuracy:.3f} ({progress.total} validation images)"
        self.console.print(line, markup=False, highlight=False)


class EpochBars:
    """One progress bar per epoch: training, then validation, with the running loss and accuracy."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar
        self.tasks: dict[int, TaskID] = {}
        self.train_total = 0
        self.summary = ""

    def __call__(self, progress: Progress) -> None:
        task = self.tasks.get(progress.epoch)
        if task is None:
            self.train_total = progress.total
            task = self.tasks[progress.epoch] = self.bar.add_task("", total=None)
        label = f"epoch {progress.epoch}/{progress.epochs}"
        if progress.phase == "train":
            self.summary = f"loss {progress.loss:.3f} acc {progress.accuracy:.3f}"  # the training phase's
            self.bar.update(task, completed=progress.done, total=progress.total, description=f"{label} {self.summary}")
        else:
            description = f"{label} {self.summary} val acc {progress.accuracy:.3f}"
            self.bar.update(
                task, completed=self.train_total + progress.done, total=self.train_total + progress.total, description=description
            )


def _print_report(console: Console, report: TrainingReport) -> None:
    metrics = report.metrics
    console.print(
        f"model version {report.version_id}: val accuracy {report.val_accuracy:.4f} (epoch {report.best_epoch} of "
        f"{len(metrics['epochs'])}), {metrics['train_images']} training and {metrics['val_images']} validation images "
        f"(verified: {metrics['verified_train_images']} and {metrics['verified_eval_images']}), {report.seconds:.1f} s",
        highlight=False,
    )
    for name, scores in metrics["per_class"].items():
        console.print(
            f"  {name:20s} precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  ({counted(scores['support'], 'image')})",
            markup=False,
            highlight=False,
        )
    if oof := metrics.get("out_of_fold"):
        console.print(
            f"out-of-fold on the {oof['answers']} answers trained on: {oof['right']} right (k={oof['k']}: {oof['method']})",
            markup=False,
            highlight=False,
        )
    if report.left_out:
        console.print(f"warning: left out {counted(len(report.left_out), 'verified label')}:", markup=False, highlight=False)
        for path, reason in list(report.left_out.items())[:20]:
            console.print(f"  {path}: {reason}", markup=False, highlight=False)
    if report.skipped:
        console.print(f"skipped {len(report.skipped)} unreadable images:")
        for path, reason in list(report.skipped.items())[:20]:
            console.print(f"  {path}: {reason}", markup=False, highlight=False)
    console.print(_promotion_line(report), markup=False, highlight=False)
    console.print(f"checkpoint: {report.checkpoint_path}", markup=False, highlight=False)
    console.print(f"report: {report.report_path}", markup=False, highlight=False)


def _promotion_line(report: TrainingReport) -> str:
    """Which version labels from now on: the new one, and what it replaced (the ImageNet weights, which label when no
    version of one's own is active, or the previous version, with the comparison), or why it was not activated."""
    decision, previous = report.promotion, report.promotion.previous_version_id
    if not decision.promoted:
        return f"not activated: {decision.reason}"
    if previous is None or previous.startswith(stored.IMAGENET_PREFIX):
        return f"model version {report.version_id} is now active, replacing the ImageNet weights (ImageNet's classes, not yours)"
    return f"model version {report.version_id} is now active, replacing {previous}: {decision.reason}"


@click.group(invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--deleted", is_flag=True, help="Also list deleted versions (with when they were deleted).")
@click.pass_context
def models(ctx: click.Context, fmt: str, deleted: bool) -> None:
    """List model versions with their metrics, newest first; or activate, roll back, or delete one."""
    if ctx.invoked_subcommand is not None:
        return
    row_of = _table_version_row if fmt == "table" else _version_row
    with command_database().transaction() as session:
        rows = [
            row_of(v) | _estimate_columns(estimate(*audit_outcomes(session, v.id)), fmt) | {"deleted_at": v.deleted_at}
            for v in stored.list_versions(session, include_deleted=deleted)
        ]
    columns = TABLE_VERSION_COLUMNS if fmt == "table" else VERSION_COLUMNS
    if deleted:
        columns = (*columns, "deleted_at")
    print_rows(Console(), columns, rows, fmt, title="model versions", drop_first=VERSION_DROP_FIRST)


def _estimate_columns(found: Estimate, fmt: str) -> dict[str, Any]:
    if fmt == "table":
        return {"est_accuracy": found.text()}
    return {"est_accuracy": found.accuracy, "est_low": found.low, "est_high": found.high, "audit_answers": found.answers}


def _version_row(version: ModelVersion) -> dict[str, Any]:
    row = {c: getattr(version, c) for c in STORED_COLUMNS}
    row.update({c: version.metrics.get(c) for c in METRIC_COLUMNS}, metrics=version.metrics)
    if len(version.classes) > 10:
        row["classes"] = [*version.classes[:3], f"... {counted(len(version.classes), 'class', 'classes')}"]
    return row


def _table_version_row(version: ModelVersion) -> dict[str, Any]:
    """A version as the table shows it: a long list of classes as its count, to keep the table narrow."""
    row = _version_row(version)
    if len(version.classes) > 5:
        row["classes"] = counted(len(version.classes), "class", "classes")
    return row


@models.command()
@click.argument("version_id")
def activate(version_id: str) -> None:
    """Make VERSION_ID the active model version (workers switch to it between batches)."""
    with command_database().transaction() as session:
        version_id = lifecycle.activate(session, version_id)
    click.echo(f"model version {version_id} is active")


@models.command("delete")
@click.argument("version_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete_version_command(settings: Settings, version_id: str, yes: bool) -> None:
    """Delete model version VERSION_ID (not the active one): its checkpoint and every result it gave.

    Its activation history stays, marked deleted; `models rollback` steps over it.
    """
    database = command_database()
    with database.transaction() as session:
        version_id = stored.resolve_version(session, version_id)
        use = stored.version_use(session, version_id)
    if not yes:
        click.confirm(
            f"delete model version {version_id}, its checkpoint and its {counted(use.results, 'result row')}?", abort=True
        )
    lifecycle.delete(database, settings, version_id)
    click.echo(f"deleted model version {version_id} and {counted(use.results, 'result row')}")


models.add_command(export_version)
models.add_command(import_version)


@models.command()
def rollback() -> None:
    """Re-activate the version that was active before the current one."""
    with command_database().transaction() as session:
        previous = stored.active_version_id(session)
        version_id = stored.rollback(session)
    click.echo(f"rolled back from {previous} to model version {version_id}")


CORRECTION_COLUMNS = ("image_path", "label", "state", "content_hash", "made_on", "updated_at", "reviewer", "audit")
# A table shows a prefix of the hash, which --delete accepts; csv and json give it whole.
TABLE_CORRECTION_COLUMNS = ("image_path", "label", "state", "hash", "made_on")
CORRECTION_DROP_FIRST = ("made_on", "hash", "state")  # where a table is too narrow; the image and its label stay
_HASH_SHOWN = 12


@click.command()
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.argument("label", required=False)
@click.option(
    "--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Import a CSV with columns image_path,label."
)
@click.option(
    "--labelstudio",
    "labelstudio_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import the answers of a Label Studio JSON export (Export > JSON), matched by path, else by content hash.",
)
@click.option(
    "--document-root",
    default="/",
    show_default=True,
    help="With --labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT, for tasks that name their image only by reference.",
)
@click.option("--new-class", is_flag=True, help="Create a label that is no class yet as a class (as `classes add`).")
@click.option("--reviewer", help="Who answers (default: MOBILABEL_REVIEWER, else the OS user); kept with the answer.")
@click.option("--list", "list_them", is_flag=True, help="List the verified labels (current or stale); --format csv exports them.")
@click.option(
    "--delete", "delete_target", metavar="IMAGE|HASH", help="Delete the verified label of a file, or of a content hash prefix."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="With --list.")
@click.pass_obj
def correct(
    settings: Settings,
    image: Path | None,
    label: str | None,
    csv_file: Path | None,
    labelstudio_file: Path | None,
    document_root: str,
    new_class: bool,
    reviewer: str | None,
    list_them: bool,
    delete_target: str | None,
    fmt: str,
) -> None:
    """Answer: store the LABEL of IMAGE (or of every row of --csv, or every answer of --labelstudio) for training to learn from.

    LABEL is one of your classes (`mobilabel classes`), `other` (none of them: trained on as its own
    outcome) or `skip` (not sure: not trained on, not offered again until a new version is active or
    7 days have passed). An answer belongs to the file's content (its content hash): it follows a
    rename, and a file edited since is stale (listed, not trained on). The same content answered
    again keeps its newest label; the earlier ones stay in the answer history. A --csv row with no
    label (as `review next --format csv` leaves them) is not answered.
    """
    if list_them or delete_target is not None:
        if image is not None or csv_file is not None or labelstudio_file is not None or (list_them and delete_target is not None):
            raise click.UsageError("--list and --delete take no IMAGE LABEL, --csv or --labelstudio, and not each other")
        _list_or_delete(delete_target, fmt)
        return
    if labelstudio_file is not None:
        if image is not None or csv_file is not None:
            raise click.UsageError("give either IMAGE LABEL, --csv FILE or --labelstudio FILE, not two of them")
        _import_labelstudio(settings, labelstudio_file, document_root, new_class, reviewer_name(settings, reviewer))
        return
    if csv_file is not None:
        if image is not None:
            raise click.UsageError("give either IMAGE LABEL or --csv FILE, not both")
        unanswered: list[int] = []
        records = read_corrections_csv(csv_file, unanswered)
        if unanswered:
            click.echo(f"{counted(len(unanswered), 'row')} without a label left unanswered", err=True)
    elif image is None or label is None or not label.strip():
        raise click.UsageError("give IMAGE LABEL, or --csv FILE, or --list, or --delete IMAGE")
    else:
        records = [CorrectionRecord(str(check_image(image)), label.strip())]
    with command_database().transaction() as session:
        count = save_corrections(
            session, records, new_classes=new_class, new_class_hint="add --new-class", reviewer=reviewer_name(settings, reviewer)
        )
    click.echo(f"stored {counted(count, 'verified label')}; training uses them, check answers aside (unless --no-corrections)")
    refresh_if_due(settings)


def refresh_if_due(settings: Settings) -> None:
    """After answers: the quick head when it is due (``training.refresh``), said on stderr."""
    from ..training.refresh import refresh_if_due as refresh

    def starting() -> None:
        click.echo(f"at least {settings.refresh_every} answers since the last quick head: updating the suggestions", err=True)

    try:
        report = refresh(command_database(), settings, starting)
    except TrainingError as exc:  # QuickHeadError: nothing to fit yet (its class would load torch to name)
        click.echo(f"no quick head: {exc}", err=True)
        return
    if report is not None:
        click.echo(quick_summary(report), err=True)


def run_quick(settings: Settings, force: bool) -> QuickReport | None:
    """A quick head (training.quick); None, with its one line said, when there is nothing to fit yet."""
    from ..training.quick import QuickHeadError, quick_refresh  # torch: only a fit needs it

    try:
        return quick_refresh(command_database(), settings, force=force)
    except QuickHeadError as exc:
        click.echo(f"no quick head: {exc}", err=True)
        return None


def quick_summary(report: QuickReport) -> str:
    """One paragraph: the version, the gate's verdict and what changed."""
    verdict = "promoted" if report.promoted else "not promoted"
    lines = [
        f"quick head {report.version_id} ({len(report.classes)} classes, {report.trained} answers): {verdict}: {report.reason}"
    ]
    if report.promoted:
        lines.append(
            f"relabelled {report.relabelled} images from their embeddings in {report.seconds:.1f} s; "
            f"pruned {report.pruned} results of older quick heads"
        )
    if report.without_embedding:
        lines.append(f"{report.without_embedding} answers have no stored embedding yet: `mobilabel label` their folder")
    return "\n".join(lines)


def _import_labelstudio(settings: Settings, file: Path, document_root: str, new_class: bool, reviewer: str) -> None:
    answers, problems = read_answers(file, document_root)
    with command_database().transaction() as session:
        records, unmatched = corrections_from(session, answers)
        count = (
            save_corrections(session, records, new_classes=new_class, new_class_hint="add --new-class", reviewer=reviewer)
            if records
            else 0
        )
    problems += unmatched
    for task, reason in problems[:20]:
        click.echo(f"task {task}: {reason}", err=True)
    left_out = f"; left out {counted(len(problems), 'task')} (above)" if problems else ""
    click.echo(f"stored {counted(count, 'verified label')} from {counted(len(answers), 'answer')} in {file}{left_out}")
    refresh_if_due(settings)


def _list_or_delete(delete_target: str | None, fmt: str) -> None:
    with command_database().transaction() as session:
        if delete_target is not None:
            deleted = delete_corrections(session, delete_target)
        else:
            rows = [
                {c: getattr(v, c) for c in CORRECTION_COLUMNS} | {"hash": (v.content_hash or "")[:_HASH_SHOWN]}
                for v in list_corrections(session)
            ]
    if delete_target is not None:
        click.echo(f"deleted {counted(deleted, 'verified label')}")
    else:
        print_rows(
            Console(),
            TABLE_CORRECTION_COLUMNS if fmt == "table" else CORRECTION_COLUMNS,
            rows,
            fmt,
            title="verified labels",
            drop_first=CORRECTION_DROP_FIRST,
        )


COMMANDS = (train_command, runs, models, correct)
