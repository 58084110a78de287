"""Verified labels as a user gives them: one image and label, or a CSV of them."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..plurals import counted
from ..storage.corrections import CorrectionError, CorrectionRecord

CSV_COLUMNS = ("image_path", "label")
_PROBLEMS_SHOWN = 10


def check_image(path: Path) -> Path:
    """The absolute path of an existing file, as labelling and training name images."""
    if not path.is_file():
        raise CorrectionError(f"not a file: {path}")
    return Path(os.path.abspath(path))


def read_corrections_csv(path: Path, unanswered: list[int] | None = None) -> list[CorrectionRecord]:
    """Every row of a CSV with columns image_path,label (other columns ignored, as `review next --format
    csv` writes them); relative paths are relative to the CSV's folder.

    A row with an image but no label is not answered yet: left out, its line number appended to
    ``unanswered`` if given. All rows are checked first: one bad row stores none, and every problem is listed.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
            reader = csv.DictReader(f)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CorrectionError(
                    f"{path}: the header must name the columns {','.join(CSV_COLUMNS)}; missing {', '.join(missing)}"
                )
            rows = [(reader.line_num, row) for row in reader]
    except OSError as exc:
        raise CorrectionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CorrectionError(f"{path} is not a UTF-8 CSV file: {exc}") from exc
    records, problems = [], []
    for line, row in rows:
        image, label = (row.get("image_path") or "").strip(), (row.get("label") or "").strip()
        if not image:
            problems.append(f"line {line}: empty image_path")
            continue
        if not label:
            if unanswered is not None:
                unanswered.append(line)
            continue
        image_path = path.parent / image
        if not image_path.is_file():
            problems.append(f"line {line}: not a file: {image}")
            continue
        records.append(CorrectionRecord(os.path.abspath(image_path), label))
    if problems:
        shown = "; ".join(problems[:_PROBLEMS_SHOWN])
        more = f"; and {len(problems) - _PROBLEMS_SHOWN} more" if len(problems) > _PROBLEMS_SHOWN else ""
        raise CorrectionError(f"{path}: {counted(len(problems), 'row')} cannot be stored, none were: {shown}{more}")
    if not records:
        raise CorrectionError(f"{path} has no answered rows (fill in the label column)" if rows else f"{path} has no rows")
    return records
