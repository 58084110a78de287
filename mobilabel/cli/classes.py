"""`mobilabel classes`: the user's own classes, listed with their answers, added, renamed, merged, retired, restored."""

from __future__ import annotations

import click
from rich.console import Console

from ..estimates import estimate
from ..plurals import counted
from ..storage import classes as stored
from ..storage.accuracy_queries import audit_outcomes
from ..storage.class_queries import list_classes
from ..storage.versions import active_version_id
from .context import command_database
from .output import FORMATS, print_rows

COLUMNS = ("name", "state", "answers", "audit_answers", "check_answers", "created_at", "retired_at")
TABLE_COLUMNS = ("name", "state", "answers", "audit_answers", "check_answers")


@click.group(invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def classes(ctx: click.Context, fmt: str) -> None:
    """List your classes with their answers (then the reserved answers: other, skip); or add, rename, merge, retire, restore one.

    Answers (`mobilabel correct IMAGE LABEL`) name a class; training learns the active classes and `other`, from
    the answers less the audit and check answers, which are held out (counted apart, of the answers).
    """
    if ctx.invoked_subcommand is not None:
        return
    with command_database().transaction() as session:
        rows = [vars(summary) for summary in list_classes(session)]
        active = active_version_id(session)
        found = estimate(*audit_outcomes(session, active)) if active else None
    print_rows(Console(), TABLE_COLUMNS if fmt == "table" else COLUMNS, rows, fmt, title="classes")
    if fmt == "table" and any(row["audit_answers"] or row["check_answers"] for row in rows):
        click.echo("answers counts them all: the audit and check answers are among them, held out of training", err=True)
    if found is not None:
        click.echo(f"active version {active}: estimated accuracy on the unreviewed rest {found.text()}", err=True)


@classes.command("add")
@click.argument("name")
def add(name: str) -> None:
    """Create class NAME (answers may use it at once)."""
    with command_database().transaction() as session:
        name = stored.add_class(session, name)
    click.echo(f"added class {name}")


@classes.command("rename")
@click.argument("old")
@click.argument("new")
def rename(old: str, new: str) -> None:
    """Rename class OLD to NEW; every answer that used OLD now says NEW."""
    with command_database().transaction() as session:
        moved = stored.rename_class(session, old, new)
    click.echo(f"renamed class {old} to {new.strip()} ({_answers(moved)} kept)")


@classes.command("merge")
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", "target", required=True, help="The class that receives the answers (it must exist).")
def merge(sources: tuple[str, ...], target: str) -> None:
    """Move every answer of the classes SOURCES into the class --into, then remove SOURCES."""
    with command_database().transaction() as session:
        moved = stored.merge_classes(session, list(dict.fromkeys(sources)), target)
    click.echo(f"merged {', '.join(dict.fromkeys(sources))} into {target} ({_answers(moved)} moved)")


@classes.command("retire")
@click.argument("name")
def retire(name: str) -> None:
    """Retire class NAME: its answers are kept, but neither trained on nor offered."""
    with command_database().transaction() as session:
        stored.retire_class(session, name)
    click.echo(f"retired class {name}; `mobilabel classes restore {name}` brings it back")


@classes.command("restore")
@click.argument("name")
def restore(name: str) -> None:
    """Bring back retired class NAME (its answers are trained on again)."""
    with command_database().transaction() as session:
        stored.restore_class(session, name)
    click.echo(f"restored class {name}")


def _answers(count: int) -> str:
    return counted(count, "answer")
