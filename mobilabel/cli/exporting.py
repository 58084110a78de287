"""`mobilabel export`: the library as class folders or Label Studio tasks. Light: no torch."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ..exchange.folders import MODES, SYMLINK
from ..exchange.labelstudio import LOCAL_FILES_URL
from ..exchange.library import FORMATS, IMAGEFOLDER, ExportOptions, ExportSummary, export_library
from ..plurals import counted
from ..storage.export_rows import ExportFilter, check_export_filter
from ..storage.review_state import DEFAULT_EXPORTED, REVIEW_STATES, parse_review_states
from .context import command_database
from .output import messages
from .progress import image_progress


@click.command("export")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=IMAGEFOLDER,
    show_default=True,
    help="imagefolder: DESTINATION/<label>/ per class; labelstudio: tasks.json with our labels as predictions.",
)
@click.option("--mode", type=click.Choice(MODES), default=SYMLINK, show_default=True, help="How imagefolder places each image.")
@click.option(
    "--review-state",
    "review_states",
    default=",".join(DEFAULT_EXPORTED),
    show_default=True,
    help=f"Which labels: some of {', '.join(REVIEW_STATES)}, comma-separated.",
)
@click.option("--label", "label_name", help="Only images with this (reviewed) label.")
@click.option("--job", "job_id", type=int, help="Only the images this job covered.")
@click.option("--path", "path_pattern", help="Only paths matching this pattern, as `mobilabel results --path`.")
@click.option(
    "--document-root",
    default="/",
    show_default=True,
    help="labelstudio: Label Studio's LOCAL_FILES_DOCUMENT_ROOT; image references are relative to it.",
)
@click.option(
    "--image-url",
    default=LOCAL_FILES_URL,
    show_default=True,
    help="labelstudio: what goes before the relative path (e.g. s3://bucket/ for a bucket Label Studio syncs).",
)
def export(
    destination: Path,
    fmt: str,
    mode: str,
    review_states: str,
    label_name: str | None,
    job_id: int | None,
    path_pattern: str | None,
    document_root: str,
    image_url: str,
) -> None:
    """Export each image's reviewed label (a person's answer, else the model's) into DESTINATION, with manifest.csv.

    Streams the images in constant memory; exporting again into the same DESTINATION reuses what is there
    and removes the files the earlier export placed that this one does not.
    """
    where = ExportFilter(parse_review_states(review_states), label_name, job_id, path_pattern)
    options = ExportOptions(fmt, mode, document_root, image_url)
    database = command_database()
    with database.transaction() as session:
        check_export_filter(session, where)  # a name that matches nothing is one error line, before any bar or folder
    console = messages()
    with image_progress(console) as bar:
        task = bar.add_task("exporting", total=None)
        summary = export_library(
            database, destination, where, options, lambda s: bar.update(task, completed=s.images + s.skipped)
        )
    report(console, summary, destination)


def report(console: Console, summary: ExportSummary, destination: Path) -> None:
    """The summary's lines: images per label, what was made, what was skipped and why."""
    for label, count in sorted(summary.labels.items()):
        console.print(f"  {label:20s} {count}", markup=False, highlight=False)
    console.print(
        f"exported {counted(summary.images, 'image')} to {destination} ({summary.made} new, {summary.images - summary.made} there already)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if summary.removed:
        console.print(
            f"removed {counted(summary.removed, 'file')} an earlier export into {destination} placed and this one does not",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if summary.skipped:
        console.print(f"skipped {counted(summary.skipped, 'image')}:", markup=False, highlight=False)
        for path, reason in summary.examples:
            console.print(f"  {path}: {reason}", markup=False, highlight=False, soft_wrap=True)
