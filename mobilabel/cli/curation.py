"""`mobilabel review mistakes | duplicates | similar | group`: likely mistakes, near-duplicate groups,
"more like this", and one answer for a group (issue 29; docs/mistakes.md)."""

from __future__ import annotations

import click
from rich.console import Console

from ..config import Settings
from ..curation.duplicates import DEFAULT_THRESHOLD
from ..library_curation import answer_group, duplicate_groups, likely_mistakes, more_like_this
from ..storage.pathcodec import to_stored
from .context import command_database, reviewer_name
from .output import FORMATS, print_rows

MISTAKE_COLUMNS = ("result_id", "image_path", "given_label", "source", "model_label", "given_p", "model_p", "flagged", "why")
# The table shows why a row is listed in a word (its why, a sentence, would wrap to many lines per row): flagged,
# or only ranked low by given_p, as a row whose given label is the model's own can be.
TABLE_MISTAKE_COLUMNS = (*MISTAKE_COLUMNS[:-2], "listed")
MEMBER_COLUMNS = ("group", "result_id", "image_path", "label", "answered")
NEIGHBOUR_COLUMNS = ("result_id", "image_path", "label", "answered", "similarity")
_FORMAT = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)


@click.command("mistakes")
@click.option("--count", type=click.IntRange(min=1, max=10_000), default=20, show_default=True, help="How many to list.")
@_FORMAT
def mistakes_command(count: int, fmt: str) -> None:
    """Labels a model trained without them disagrees with, likeliest mistake first (confident learning).

    Checked: answers, accepted labels and folder labels (an image in a folder named after a class). Each row:
    the given label and where it comes from, the model's label, their probabilities and why it is listed
    (flagged, or only a low probability of the given label; --format json/csv: why in words).
    Fix one with `mobilabel correct IMAGE LABEL`.
    """
    found, checked = likely_mistakes(command_database(), count)
    rows = [
        {"result_id": m.result_id, "image_path": to_stored(m.image_path), "given_label": m.given_label,
         "source": m.source, "model_label": m.model_label, "given_p": round(m.given_probability, 3), "model_p": round(m.model_probability, 3),
         "flagged": m.flagged, "why": m.why, "listed": "flagged" if m.flagged else "low given_p"}
        for m in found
    ]  # fmt: skip
    columns = TABLE_MISTAKE_COLUMNS if fmt == "table" else MISTAKE_COLUMNS
    print_rows(Console(), columns, rows, fmt, title="likely mistakes")
    flagged = sum(m.flagged for m in found)
    click.echo(f"{flagged} of the {len(found)} listed flagged, out of {checked} labels checked", err=True)
    if fmt == "table" and found:
        click.echo(
            "flagged: the model's label is another class, as sure as it is of its own labels of that class on average; "
            "low given_p: not flagged, listed for how little the model believes the given label "
            "(--format json gives each row's why in words)",
            err=True,
        )


@click.command("duplicates")
@click.option(
    "--threshold",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Centred cosine similarity that links two photos (higher: fewer, tighter groups).",
)
@_FORMAT
def duplicates_command(threshold: float, fmt: str) -> None:
    """Groups of near-identical photos (bursts, crops, resizes, recompressions, colour edits), largest first.

    Answer a whole group at once with `mobilabel review group LABEL RESULT_ID...`.
    """
    groups = duplicate_groups(command_database(), threshold)
    rows = [
        {
            "group": number,
            "result_id": m.result_id,
            "image_path": to_stored(m.image_path),
            "label": m.label,
            "answered": m.answered,
        }
        for number, members in enumerate(groups, start=1)
        for m in members
    ]
    print_rows(Console(), MEMBER_COLUMNS, rows, fmt, title="near-duplicate groups", drop_first=("answered",))
    click.echo(f"{len(groups)} group{'s' if len(groups) != 1 else ''} of {len(rows)} photos", err=True)


@click.command("similar")
@click.argument("result_id", type=click.IntRange(min=1))
@click.option("--count", type=click.IntRange(min=1, max=1000), default=20, show_default=True, help="How many neighbours.")
@_FORMAT
def similar_command(result_id: int, count: int, fmt: str) -> None:
    """More like this: the images most like RESULT_ID (a result id from `results` or `review`), with their labels."""
    rows = [
        {"result_id": m.result_id, "image_path": to_stored(m.image_path), "label": m.label, "answered": m.answered,
         "similarity": round(m.similarity or 0.0, 3)}
        for m in more_like_this(command_database(), result_id, count)
    ]  # fmt: skip
    print_rows(Console(), NEIGHBOUR_COLUMNS, rows, fmt, title=f"like {result_id}", drop_first=("answered",))


@click.command("group")
@click.argument("label")
@click.argument("result_ids", nargs=-1, required=True, type=click.IntRange(min=1))
@click.option("--new-class", is_flag=True, help="Create LABEL as a class if it is none yet.")
@click.option("--reviewer", help="Who answers (default: MOBILABEL_REVIEWER, else the OS user).")
@click.pass_obj
def group_command(settings: Settings, label: str, result_ids: tuple[int, ...], new_class: bool, reviewer: str | None) -> None:
    """Answer LABEL once for a group of results (a near-duplicate group, a "more like this" selection):
    each image gets its own answer, all noting the same group."""
    group, written = answer_group(
        command_database(), list(result_ids), label, reviewer_name(settings, reviewer), new_class, "add --new-class"
    )
    click.echo(f"answered {label} for {written} image{'s' if written != 1 else ''} (group {group})")
