"""`mobilabel accept --precision P`: accept the suggestions the active version is sure of, at a stated precision."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from ..acceptance import CONFIDENCE
from ..accepting import AcceptReport, accept
from ..plurals import counted
from ..verification import least_checks
from .context import command_database
from .output import FORMATS, print_rows

COLUMNS = (
    "class", "threshold", "accepted", "held_out", "right", "estimate", "bound", "needs", "checks", "checks_right",
    "kept", "newly_accepted", "withdrawn", "changed",
)  # fmt: skip


# The table: the held-out answers right at the threshold as "right/held_out", the check answers as "right/checks"
# (counts only: the check sample's bound is pooled, in the line below); the re-check's four counts.
TABLE_COLUMNS = (
    "class", "accepted", "threshold", "evidence", "bound", "needs", "checked", "kept", "newly_accepted", "withdrawn", "changed",
)  # fmt: skip
TABLE_DROP_FIRST = ("threshold", "evidence", "checked")


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

    When the held-out answers cannot certify P, a random draw of the labels it would accept can: it says how many
    check answers it needs and `mobilabel review next` asks for them (reason check); run it again once answered.

    Images a person answered are never touched. Running it again re-checks every accepted label under the
    active version: kept, newly accepted, withdrawn (back to suggested) or changed, per class.
    """
    report = accept(command_database(), precision, dry_run)
    table = [
        row
        | {
            "evidence": f"{row['right']}/{row['held_out']}",
            "checked": f"{row['checks_right']}/{row['checks']}" if row["checks"] else "",
        }
        for row in rows(report)
    ]
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
            "needs": needs(row["more_needed"], report.suggested),
        }
        for row in report.class_rows()
    ]  # fmt: skip


def needs(more: int, left: int) -> str:
    """``more`` held-out answers needed, said plainly when they outnumber the ``left`` suggestions nobody answered."""
    if not more:
        return ""
    return f"{more} more answers" if more <= left else f"more answers than the {left} unanswered"


def summary(report: AcceptReport) -> list[str]:
    """The lines after the table: the pooled rule, the coverage, what a class short of answers needs."""
    rule = report.rule
    lines = []
    if rule.threshold is None:
        lines.append(
            f"the held-out answers cannot certify precision {rule.precision}: {rule.right} of {rule.answers} right at the "
            f"highest confidences, too few to bound it with {CONFIDENCE:.0%} confidence; needs "
            f"{needs(rule.more_needed, report.suggested) or 'more answers'} (all right)"
        )
        lines.append(checked_line(report))
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
                f"needs {needs(r.more_needed, report.suggested)} (all right)"
            )
    if report.check is not None and report.check.certified and report.checked:
        short = [label for label, (checks, right) in report.checked.items() if right < rule.precision * checks]
        if short:
            lines.append(
                f"check answers of {', '.join(short)} agree less often than {rule.precision}: the bound is for all the "
                "accepted labels together, not for each class (docs/accepting.md)"
            )
    if withdrawn := sum(c.withdrawn for c in report.changes.values()):
        verb = "would go" if report.dry_run else "went"
        lines.append(
            f"{counted(withdrawn, 'accepted label')} {verb} back to suggested: they do not clear the rule at precision "
            f"{rule.precision} (accept keeps only what the precision asked now certifies)"
        )
    if report.answered:
        lines.append(f"{report.answered} accepted labels dropped: a person answered them since")
    if report.dry_run:
        lines.append("nothing stored (--dry-run)")
    return lines


def checked_line(report: AcceptReport) -> str:
    """What the check sample did, when the held-out answers could not certify: accepted, or how many more it needs."""
    check = report.check
    if check is None:
        return (
            f"nothing accepted: no suggestion's calibrated confidence promises precision {report.rule.precision}, "
            "so there is no set to check: answer more (`mobilabel review next`) and train again"
        )
    where = f"the {check.size} suggestions at calibrated confidence >= {check.threshold}"
    so_far = f"{check.checked - check.wrong} of {check.checked} check answers agree"
    if check.certified:
        return (
            f"accepted {report.total} of {report.suggested} suggestions ({report.coverage:.1%}) of version {report.version_id}: "
            f"{where} less the {check.checked} checked; {so_far}, precision of the accepted at least {check.bound:.4f} "
            f"with {CONFIDENCE:.0%} confidence (a uniform draw of that set, docs/accepting.md)"
        )
    if check.more_needed is None and check.wrong:
        return (
            f"nothing accepted: {so_far} for {where}: too many disagree for any number of check answers to certify "
            f"{check.precision} for this set: answer more and train again"
        )
    if check.more_needed is None:
        return (
            f"nothing accepted: {where} are too few for a check sample: even with every check answer right, no number of "
            f"checks short of all {check.size} certifies {check.precision}, so none would be left to accept; a large set "
            f"needs about {least_checks(check.precision)} checks, so it takes well over that many sure suggestions: "
            "label more photos or answer more and train again (docs/accepting.md)"
        )
    return (
        f"nothing accepted yet: {where} can be certified by check answers; {so_far} so far; at least {check.more_needed} "
        f"more check answers (all agreeing) are needed, then accept takes the {check.taken - check.more_needed} suggestions "
        "not checked: "
        "`mobilabel review next` asks for them (reason check), then run accept again"
        + (" (nothing stored: --dry-run does not ask the queue)" if report.dry_run else "")
    )
