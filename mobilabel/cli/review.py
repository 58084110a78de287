"""`mobilabel review next`: the images to answer next, chosen by the model and leased to you."""

from __future__ import annotations

import click
from rich.console import Console

from ..config import Settings
from ..plurals import counted
from ..review_queue import next_batch
from ..storage.pathcodec import to_stored
from .context import command_database, reviewer_name
from .curation import duplicates_command, group_command, mistakes_command, similar_command
from .output import FORMATS, print_rows

COLUMNS = ("result_id", "image_path", "suggested_label", "confidence", "reason")
CSV_COLUMNS = (*COLUMNS, "label")  # the label column left empty, to fill in and import with `correct --csv`
DROP_FIRST = ("reason", "confidence")  # where a table is too narrow


@click.group()
def review() -> None:
    """The review queue: what to answer next."""


@review.command("next")
@click.option("--count", type=click.IntRange(min=1, max=1000), default=20, show_default=True, help="How many images to lease.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="csv adds an empty label column for `correct --csv`.",
)
@click.option("--reviewer", help="Who answers (default: MOBILABEL_REVIEWER, else the OS user).")
@click.pass_obj
def next_command(settings: Settings, count: int, fmt: str, reviewer: str | None) -> None:
    """Lease the next COUNT images to you for MOBILABEL_REVIEW_LEASE_S seconds (no other reviewer gets them meanwhile).

    Chosen by the model: those it is least sure of (uncertain), spread over the library (diverse), and a
    random share (audit) whose answers measure its accuracy on the rest; first, while `accept` waits for them, a
    random draw of what it would accept (check), whose answers certify it. Answer each with
    `mobilabel correct IMAGE LABEL` (a class, other or skip), or fill in the label column of
    `--format csv` and import it with `mobilabel correct --csv FILE`.
    """
    name = reviewer_name(settings, reviewer)
    batch = next_batch(command_database(), name, count, settings.review_lease_s)
    rows = [
        {"result_id": i.result_id, "image_path": to_stored(i.image_path), "suggested_label": i.suggested_label,
         "confidence": i.confidence, "reason": i.reason, "label": ""}
        for i in batch.items
    ]  # fmt: skip
    print_rows(Console(), CSV_COLUMNS if fmt == "csv" else COLUMNS, rows, fmt, title="to review", drop_first=DROP_FIRST)
    click.echo(
        f"leased {counted(len(rows), 'image')} to {name} for {batch.expires_in_s:g} s; {batch.left} more to review",
        err=True,
    )
    if batch.refusal is not None:
        click.echo(f"the suggestions were not updated: {batch.refusal}", err=True)


for _command in (mistakes_command, duplicates_command, similar_command, group_command):
    review.add_command(_command)
