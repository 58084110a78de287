"""`mobilabel results | jobs`: querying what was labelled. Light: no torch."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from ..config import Settings
from ..export import EXPORT_FORMATS, RESULT_COLUMNS, export_text
from ..storage import jobs as stored_jobs
from ..storage import open_database
from ..storage.results import SORT_KEYS, ResultFilter, query_results, results_statement
from .output import FORMATS, print_rows

TABLE_RESULT_COLUMNS = ("image_path", "label", "confidence", "status", "error", "job_id")
JOB_COLUMNS = ("id", "status", "root", "total", "done", "failed", "model_version_id", "created_at", "finished_at", "error")
_TABLE_LIMIT = 100


@click.command()
@click.option("--job", "job_id", type=int, help="Only this job's results.")
@click.option("--label", "label_name", help="Only this label.")
@click.option("--min-confidence", type=click.FloatRange(0, 1))
@click.option("--max-confidence", type=click.FloatRange(0, 1))
@click.option("--path", "path_pattern", help="Only paths matching this pattern (* and ? wildcards).")
@click.option("--status", type=click.Choice(["ok", "failed"]))
@click.option("--version", "model_version_id", help="Only this model version's results.")
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="path", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), help=f"At most this many rows (table default {_TABLE_LIMIT}; 0: all).")
@click.option("--format", "fmt", type=click.Choice(("table", *EXPORT_FORMATS)), default="table", show_default=True,
              help="csv, jsonl and json stream every row in constant memory.")
@click.pass_obj
def results(
    settings: Settings,
    job_id: int | None,
    label_name: str | None,
    min_confidence: float | None,
    max_confidence: float | None,
    path_pattern: str | None,
    status: str | None,
    model_version_id: str | None,
    sort: str,
    limit: int | None,
    fmt: str,
) -> None:
    """Query stored results."""
    if limit is None and fmt == "table":
        limit = _TABLE_LIMIT
    where = ResultFilter(
        job_id, label_name, min_confidence, max_confidence, path_pattern, status, model_version_id, sort, limit or None
    )
    database = open_database(settings.database_url)
    if fmt != "table":
        for chunk in export_text(database, results_statement(where), fmt):
            sys.stdout.write(chunk)
        database.dispose()
        return
    with database.transaction() as session:
        rows = [{c: getattr(r, c) for c in RESULT_COLUMNS} for r in query_results(session, where)]
    database.dispose()
    console = Console()
    print_rows(console, TABLE_RESULT_COLUMNS, rows, fmt, title="results")
    if limit and len(rows) == limit:
        Console(stderr=True).print(f"(first {limit} rows; --limit 0 for all, or --format csv)")


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_obj
def jobs(settings: Settings, limit: int, fmt: str) -> None:
    """List labelling jobs, newest first."""
    database = open_database(settings.database_url)
    with database.transaction() as session:
        rows = [{c: getattr(j, c) for c in JOB_COLUMNS} for j in stored_jobs.list_jobs(session, limit)]
    database.dispose()
    print_rows(Console(), JOB_COLUMNS, rows, fmt, title="jobs")
