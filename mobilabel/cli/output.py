"""Printing rows as a table, CSV or JSON."""

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
        table = Table(title=title or None)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_table_value(row.get(k)) for k in columns))
        console.print(table)


def _csv_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _table_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ", ".join(f"{v['label']} {v['confidence']:.3f}" if isinstance(v, dict) else str(v) for v in value)
    return str(value)
