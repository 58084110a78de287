"""`mobilabel accept --precision P`: accept the suggestions the active version is sure of, at a stated precision."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from ..acceptance import CONFIDENCE
from ..accepting import AcceptReport, accept
from .context import command_database
from .output import FORMATS, print_rows

COLUMNS = (
    "class", "threshold", "accepted", "held_out", "right", "estimate", "bound", "needs",
    "kept", "newly_accepted", "withdrawn", "changed",
)  # fmt: skip


# The table: the held-out answers right at the threshold as "right/held_out"; the re-check's four counts.
TABLE_COLUMNS = ("class", "accepted", "threshold", "evidence", "bound", "needs", "kept", "newly_accepted", "withdrawn", "changed")
TABLE_DROP_FIRST = ("threshold", "evidence")


@click.command()
@click.option(
    "--precision",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    required=True,
    help=f"The precision the accepted labels must have, with {CONFIDENCE:.0%} confidence (e.g. 0.98).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be accepted and withdrawn; store nothing.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def accept_command(precision: float, dry_run: bool, fmt: str) -> None:
    """Accept every suggested label of the active version that clears a threshold chosen so that the accepted
    labels' precision is at least P with 95% confidence (Clopper-Pearson on the held-out answers; docs/accepting.md).

    Images a person answered are never touched. Running it again re-checks every accepted label under the
    active version: kept, newly accepted, withdrawn (back to suggested) or changed, per class.
    """
    report = accept(command_database(), precision, dry_run)
    table = [row | {"evidence": f"{row['right']}/{row['held_out']}"} for row in rows(report)]
    print_rows(
        Console(), TABLE_COLUMNS if fmt == "table" else COLUMNS, table if fmt == "table" else rows(report), fmt,
        title=f"accept at precision {precision}", drop_first=TABLE_DROP_FIRST,
    )  # fmt: skip
    for line in summary(report):
        click.echo(line, err=True)


def rows(report: AcceptReport) -> list[dict[str, Any]]:
    """The report's class rows as the table prints them."""
    return [
        {
            "class": row["label"], **{k: v for k, v in row.items() if k not in ("label", "more_needed")},
            "estimate": None if row["estimate"] is None else round(row["estimate"], 4),
            "bound": None if row["bound"] is None else round(row["bound"], 4),
            "needs": f"{row['more_needed']} more answers" if row["more_needed"] else "",
        }
        for row in report.class_rows()
    ]  # fmt: skip


def summary(report: AcceptReport) -> list[str]:
    """The lines after the table: the pooled rule, the coverage, what a class short of answers needs."""
    rule = report.rule
    lines = []
    if rule.threshold is None:
        lines.append(
            f"nothing accepted: {rule.right} of {rule.answers} held-out answers right at the highest confidences, "
            f"too few to bound the precision at {rule.precision} with {CONFIDENCE:.0%} confidence; at least "
            f"{rule.more_needed} more held-out answers (all right) are needed (`mobilabel review next`)"
        )
    else:
        lines.append(
            f"accepted {report.total} of {report.suggested} suggestions ({report.coverage:.1%}) of version {report.version_id} "
            f"at calibrated confidence >= {rule.threshold}: {rule.right} of {rule.answers} held-out answers right there, "
            f"precision at least {rule.bound:.4f} with {CONFIDENCE:.0%} confidence (Clopper-Pearson)"
        )
        short = [label for label, r in rule.classes.items() if r.threshold is None]
        for label in short:
            r = rule.classes[label]
            lines.append(
                f"{label}: accepts nothing: {r.right} of {r.answers} of its held-out answers right at that confidence; "
                f"at least {r.more_needed} more (all right) needed"
            )
    if report.answered:
        lines.append(f"{report.answered} accepted labels dropped: a person answered them since")
    if report.dry_run:
        lines.append("nothing stored (--dry-run)")
    return lines
