"""Printing rows as a table, CSV or JSON.

Tables fit the terminal (80 columns in a pipe): ids, numbers, dates and states are never
wrapped, model version ids are shown as their first characters (CSV and JSON keep them
whole), long paths lose their beginning ("…/val/roses/a.jpg"), and only free text wraps.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

FORMATS = ("table", "csv", "json")
# Columns holding paths: shortened from the left to the width left over.
PATH_COLUMNS = frozenset({"image_path", "root", "data_dir", "path"})
# Columns of free text: the only ones that wrap.
TEXT_COLUMNS = frozenset({"label", "verified_label", "error", "warning", "classes", "progress", "source", "top_k", "reason", "metrics"})
# Columns holding a model version id, shown in tables by a prefix (which --version and --model accept):
# ImageNet ids carry a whole sha256.
VERSION_COLUMNS = frozenset({"model_version_id", "version_id"})
SHORT_ID_CHARS = 17
_TEXT_BUDGET = 16  # characters a text column is given before paths take the rest
_MIN_PATH = 16
ELLIPSIS = "…"


def print_rows(console: Console, columns: Sequence[str], rows: Sequence[dict[str, Any]], fmt: str, title: str = "") -> None:
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    elif fmt == "json":
        json.dump([{k: row.get(k) for k in columns} for row in rows], sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        console.print(table_of(columns, rows, console.width, title))


def table_of(columns: Sequence[str], rows: Sequence[dict[str, Any]], width: int, title: str = "") -> Table:
    """A table that fits ``width`` characters wherever its fixed columns alone fit."""
    cells = [{k: _table_value(k, row.get(k)) for k in columns} for row in rows]
    # A text column empty in every row (no errors, say) gives its width to the others.
    columns = [c for c in columns if c not in TEXT_COLUMNS or any(cell[c] for cell in cells)]
    headers = {k: k.replace("_", " ") for k in columns}

    def natural(column: str) -> int:
        longest_header_word = max(len(word) for word in headers[column].split())
        return max([longest_header_word, *(len(cell[column]) for cell in cells)])

    fixed = [c for c in columns if c not in PATH_COLUMNS and c not in TEXT_COLUMNS]
    text = [c for c in columns if c in TEXT_COLUMNS]
    paths = [c for c in columns if c in PATH_COLUMNS]
    # Each column is followed by one space of padding.
    used = sum(natural(c) for c in fixed) + sum(min(natural(c), _TEXT_BUDGET) for c in text) + len(columns)
    path_width = max(_MIN_PATH, (width - used) // max(1, len(paths)))
    for cell in cells:
        for column in paths:
            cell[column] = shorten_left(cell[column], path_width)
    table = Table(title=title or None, box=None, padding=(0, 1, 0, 0), pad_edge=False, header_style="bold")
    for column in columns:
        if column in TEXT_COLUMNS:
            table.add_column(headers[column], overflow="fold")
        else:
            # Exactly as wide as its longest value (or path budget), so values never wrap; a long header
            # wraps between its words.
            table.add_column(headers[column], width=natural(column) if column not in PATH_COLUMNS else min(natural(column), path_width))
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
    if column in VERSION_COLUMNS:
        return str(value)[:SHORT_ID_CHARS]
    return str(value)
