"""Printing rows as a table, CSV or JSON.

Tables fit the terminal (80 columns in a pipe): ids, numbers, dates and states are never
wrapped nor cut (an odd value longer than 24 characters folds onto a second line, whole), long
paths lose their beginning ("…/val/roses/a.jpg"), and free text wraps. When even that does not fit, columns are left out
in the order the command gives (never the ones it is about, nor an id), and a caption names them.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json")


def messages() -> Console:
    """The console the CLI's messages go to (stderr): a long line wraps at a terminal's width, and not at all
    where stderr is no terminal (a pipe, a log), whose reader would find a path or a summary cut by a newline."""
    console = Console(stderr=True)
    console.soft_wrap = not console.is_terminal
    return console


# Ids a user copies into other commands (promote, review similar, review group): never left out.
KEY_COLUMNS = frozenset({"id", "version_id", "result_id"})
# Columns holding paths: shortened from the left to the width left over.
PATH_COLUMNS = frozenset({"image_path", "root", "data_dir", "path", "made_on"})
# Columns of free text: the only ones that wrap.
TEXT_COLUMNS = frozenset(
    {
        "label",
        "verified_label",
        "error",
        "warning",
        "classes",
        "progress",
        "source",
        "top_k",
        "reason",
        "metrics",
        "est_accuracy",
        "why",
        "needs",
    }
)
_TEXT_BUDGET = 16  # the narrowest a text column is made (it wraps to it)
_MIN_PATH = 16  # the narrowest a path is made (its end kept)
_MAX_FIXED = 24  # a value of a column that never wraps folds beyond this (version ids are at most 21)
ELLIPSIS = "…"


def passed_over_text(passed_over: Mapping[str, int] | None) -> str:
    """What a folder walk passed over, for a job's summary line: ", 2 skipped: not an image" per reason."""
    return "".join(f", {count} skipped: {reason}" for reason, count in (passed_over or {}).items())


def print_rows(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    fmt: str,
    title: str = "",
    drop_first: Sequence[str] = (),
) -> None:
    """``rows`` as ``fmt`` (table, csv or json) with ``columns``; a table fits ``console.width``, leaving out
    columns of ``drop_first`` in that order where it must (the other columns and KEY_COLUMNS always stay)."""
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    elif fmt == "json":
        json.dump([{k: row.get(k) for k in columns} for row in rows], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        console.print(table_of(columns, rows, console.width, title, drop_first))


def table_of(
    columns: Sequence[str], rows: Sequence[dict[str, Any]], width: int, title: str = "", drop_first: Sequence[str] = ()
) -> Table:
    """A table of at most ``width`` characters wherever the columns not in ``drop_first`` fit at their narrowest:
    paths shortened from the left and text wrapped to their narrowest first, then ``drop_first``'s columns
    left out in order (never one of KEY_COLUMNS); the width left over goes to paths and text, up to what they need."""
    cells = [{k: _table_value(k, row.get(k)) for k in columns} for row in rows]
    # A text column empty in every row (no errors, say) gives its width to the others where the command may leave
    # it out: the header of a table without rows names the same columns as one with them.
    columns = [c for c in columns if c not in TEXT_COLUMNS or c not in drop_first or any(cell[c] for cell in cells)]
    headers = {k: k.replace("_", " ") for k in columns}

    def natural(column: str) -> int:
        if not cells:  # a header alone is not wrapped between its words
            return len(headers[column])
        longest_header_word = max(len(word) for word in headers[column].split())
        return max([longest_header_word, *(len(cell[column]) for cell in cells)])

    def narrowest(column: str) -> int:
        if column in PATH_COLUMNS:
            return min(natural(column), _MIN_PATH)
        return min(natural(column), _TEXT_BUDGET if column in TEXT_COLUMNS else _MAX_FIXED)

    def needed(shown: Sequence[str]) -> int:
        return sum(narrowest(c) for c in shown) + len(shown) - 1  # one space between columns

    dropped = []
    for column in drop_first:
        if needed(columns) <= width:
            break
        if column in columns and column not in KEY_COLUMNS:
            columns.remove(column)
            dropped.append(headers[column])
    widths = {c: narrowest(c) for c in columns}
    flexible = [c for c in columns if (c in PATH_COLUMNS or c in TEXT_COLUMNS)]
    spare = width - needed(columns)
    while spare > 0:  # one more character to each flexible column that wants one, in turn
        wanting = [c for c in flexible if widths[c] < natural(c)]
        for column in wanting[:spare]:
            widths[column] += 1
        spare -= len(wanting[:spare])
        if not wanting:
            break
    for cell in cells:
        for column in columns:
            if column in PATH_COLUMNS:
                cell[column] = shorten_left(cell[column], widths[column])
    caption = f"left out to fit {width} columns: {', '.join(dropped)} (--format csv gives every column)" if dropped else None
    table = Table(title=title or None, caption=caption, box=None, padding=(0, 1, 0, 0), pad_edge=False, header_style="bold")
    for column in columns:
        # Exactly as wide as computed, so rich never squeezes a column out; text wraps, a long header wraps
        # between its words, and a value wider than its column folds (never cut: an id must stay whole).
        table.add_column(headers[column], width=widths[column], overflow="fold")
    for cell in cells:
        table.add_row(*(cell[k] for k in columns))
    return table


def shorten_left(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, its beginning replaced by "…" if it is longer."""
    return text if len(text) <= width else ELLIPSIS + text[len(text) - width + 1 :]


def _csv_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _table_value(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ", ".join(f"{v['label']} {v['confidence']:.3f}" if isinstance(v, dict) else str(v) for v in value)
    return str(value)
