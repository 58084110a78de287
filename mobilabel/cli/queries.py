"""`mobilabel results | jobs`: querying what was labelled, and pruning it. Light: no torch."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from ..export import EXPORT_FORMATS, RESULT_COLUMNS, REVIEW_COLUMNS, export_text
from ..plurals import counted
from ..storage import jobs as stored_jobs
from ..storage.filters import check_filter
from ..storage.pathcodec import to_stored
from ..storage.pruning import delete_job, delete_paths, job_deletion, missing_paths
from ..storage.result_queries import SORT_KEYS, ResultFilter, query_results, results_statement
from ..storage.review_state import REVIEW_STATES, parse_review_states, reviews, row_review
from ..storage.states import ResultStatus
from .context import command_database, reap_orphans_now
from .output import FORMATS, messages, print_rows

STORED_RESULT_COLUMNS = tuple(c for c in RESULT_COLUMNS if c not in REVIEW_COLUMNS)
TABLE_RESULT_COLUMNS = (
    "image_path", "label", "confidence", "status", "review_state", "version", "verified_label", "error", "warning"
)  # fmt: skip
# Where a table is too narrow.
RESULT_DROP_FIRST = ("warning", "version", "verified_label", "review_state", "confidence", "status", "error")
JOB_COLUMNS = (
    "id",
    "status",
    "root",
    "total",
    "done",
    "failed",
    "skipped",
    "model_version_id",
    "created_at",
    "finished_at",
    "error",
    "passed_over",
)
TABLE_JOB_COLUMNS = ("id", "status", "done", "failed", "skipped", "total", "created_at", "root", "error")
JOB_DROP_FIRST = ("skipped", "done", "failed", "created_at", "total", "error")  # where a table is too narrow
_TABLE_LIMIT = 100
_PATHS_SHOWN = 20


@click.group(invoke_without_command=True)
@click.option("--job", "job_id", type=int, help="Only the images this job covered.")
@click.option("--label", "label_name", help="Only this label (case-sensitive).")
@click.option("--min-confidence", type=click.FloatRange(0, 1))
@click.option("--max-confidence", type=click.FloatRange(0, 1))
@click.option(
    "--path",
    "path_pattern",
    help="Only paths matching this pattern (* and ? wildcards): from the root if it starts with / (under that folder), else anywhere.",
)
@click.option("--status", type=click.Choice([status.value for status in ResultStatus]))
@click.option("--version", "model_version_id", help="Only this model version's rows: an id, a unique prefix, or 'active'.")
@click.option("--all-versions", is_flag=True, help="Every model version's row for each image, not only its current label.")
@click.option(
    "--review-state",
    "review_states",
    help=f"Only images in these review states: some of {', '.join(REVIEW_STATES)}, comma-separated.",
)
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="path", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), help=f"At most this many rows (table default {_TABLE_LIMIT}; 0: all).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", *EXPORT_FORMATS)),
    default="table",
    show_default=True,
    help="csv, jsonl and json stream every row in constant memory.",
)
@click.pass_context
def results(
    ctx: click.Context,
    job_id: int | None,
    label_name: str | None,
    min_confidence: float | None,
    max_confidence: float | None,
    path_pattern: str | None,
    status: str | None,
    model_version_id: str | None,
    all_versions: bool,
    review_states: str | None,
    sort: str,
    limit: int | None,
    fmt: str,
) -> None:
    """Query stored results: one row per image, its current label (docs/embedded.md), with who stands behind it:
    its review state (verified by a person, accepted at a stated precision, or suggested) and the verified label."""
    if ctx.invoked_subcommand is not None:
        return
    if limit is None and fmt == "table":
        limit = _TABLE_LIMIT
    where = ResultFilter(
        job_id,
        label_name,
        min_confidence,
        max_confidence,
        path_pattern,
        status,
        model_version_id,
        sort,
        limit or None,
        all_versions,
        review_states=None if review_states is None else parse_review_states(review_states),
    )
    database = command_database()
    if fmt != "table":
        with database.transaction() as session:
            where = check_filter(session, where)
        for chunk in export_text(database, results_statement(where), fmt):
            sys.stdout.write(chunk)
        return
    with database.transaction() as session:
        found = query_results(session, check_filter(session, where))
        found_reviews = reviews(session, (r.content_hash for r in found))
    # Paths as stored: a name that is not UTF-8 shows as bytes:/...\xNN..., exact and printable.
    rows = []
    for r in found:
        review = row_review(found_reviews, r.content_hash, r.status)
        rows.append(
            {c: getattr(r, c) for c in STORED_RESULT_COLUMNS}
            | {
                "image_path": to_stored(r.image_path),
                "verified_label": review.verified_label,
                "review_state": review.state,
                "version": r.model_version_id,
            }
        )
    console = Console()
    print_rows(console, TABLE_RESULT_COLUMNS, rows, fmt, title="results", drop_first=RESULT_DROP_FIRST)
    if not rows:
        messages().print("no results match" if where.narrows else "no results stored yet: mobilabel label FOLDER labels one")
    elif limit and len(rows) == limit:
        messages().print(f"(first {limit} rows; --limit 0 for all, or --format csv)")


@results.command()
@click.option("--missing", is_flag=True, required=True, help="Delete the rows of image files no longer on disk.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def prune(missing: bool, dry_run: bool) -> None:
    """Delete the result rows (every version's) of files that are gone from disk."""
    with command_database().transaction() as session:
        gone = list(missing_paths(session))
        deleted = 0 if dry_run else delete_paths(session, gone)
    for path in gone[:_PATHS_SHOWN]:
        click.echo(to_stored(path))
    if len(gone) > _PATHS_SHOWN:
        click.echo(f"... and {len(gone) - _PATHS_SHOWN} more")
    if dry_run:
        click.echo(f"{len(gone)} image files are gone; nothing deleted (--dry-run)", err=True)
    else:
        click.echo(
            f"{counted(len(gone), 'image file')} {'is' if len(gone) == 1 else 'are'} gone; deleted {counted(deleted, 'result row')}",
            err=True,
        )


@click.group(invoke_without_command=True)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def jobs(ctx: click.Context, limit: int, fmt: str) -> None:
    """List labelling jobs, newest first; or delete one."""
    if ctx.invoked_subcommand is not None:
        return
    database = command_database()
    reap_orphans_now(database)
    with database.transaction() as session:
        rows = [
            {c: getattr(j, c) for c in JOB_COLUMNS} | {"root": to_stored(j.root)} for j in stored_jobs.list_jobs(session, limit)
        ]
    print_rows(
        Console(), TABLE_JOB_COLUMNS if fmt == "table" else JOB_COLUMNS, rows, fmt, title="jobs", drop_first=JOB_DROP_FIRST
    )


@jobs.command("delete")
@click.argument("job_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_job_command(job_id: int, yes: bool) -> None:
    """Delete job JOB_ID with its chunks, and the result rows no other job covered."""
    database = command_database()
    with database.transaction() as session:
        planned = job_deletion(session, job_id)
    if not yes:
        click.confirm(
            f"delete job {job_id}: {counted(planned.images, 'image')}, {counted(planned.results, 'result row')} no other job covered?",
            abort=True,
        )
    with database.transaction() as session:
        done = delete_job(session, job_id)
    click.echo(f"deleted job {job_id} and {counted(done.results, 'result row')}")
