"""Label Studio's JSON, both ways: tasks with our labels as predictions, and its exported annotations as answers.

A task (Label Studio's "Basic JSON format", labelstud.io/guide/task_format) carries the image
reference in ``data.image`` and our label as a ``choices`` prediction of the control named
``label`` on the image named ``image`` (``labeling_config`` writes the matching labelling
configuration). ``data`` also keeps the image's stored path, content hash and review state, which
Label Studio passes through its export, so answers come back to the right image even when the
reference does not resolve here.

Image references are Label Studio's local-files URLs by default,
``/data/local-files/?d=<path relative to LOCAL_FILES_DOCUMENT_ROOT>``; another prefix (a bucket's
``s3://bucket/``, as its cloud storage names objects) replaces ``/data/local-files/?d=``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit
from xml.sax.saxutils import quoteattr

from sqlalchemy.orm import Session

from ..errors import MobilabelError
from ..storage.corrections import CorrectionRecord
from ..storage.export_rows import ExportRow, paths_with_content
from ..storage.pathcodec import from_stored, printable, to_stored

LOCAL_FILES_URL = "/data/local-files/?d="
IMAGE_KEY = "image"  # the Image tag's name and the task's data key ($image)
CONTROL = "label"  # the Choices tag's name
_LOCAL_FILES_PATH = "/data/local-files/"


class LabelStudioError(MobilabelError):
    """A file that is not a Label Studio JSON export, or an image it cannot refer to."""


def image_reference(path: str, document_root: str = "/", url_prefix: str = LOCAL_FILES_URL) -> str:
    """The reference Label Studio loads ``path`` by: ``url_prefix`` and the path relative to
    ``document_root``, percent-encoded (its bytes: a name that is not UTF-8 survives).

    Raises ``LabelStudioError`` for a path outside ``document_root``.
    """
    root = document_root.rstrip("/") + "/"
    if not path.startswith(root):
        raise LabelStudioError(f"outside the document root {document_root}")
    return url_prefix + quote(os.fsencode(path[len(root) :]), safe="/")


def task(row: ExportRow, reference: str) -> dict[str, Any]:
    """The Label Studio task of one exported image: its label as the prediction of its version."""
    prediction: dict[str, Any] = {
        "model_version": row.model_version_id,
        "result": [{"from_name": CONTROL, "to_name": IMAGE_KEY, "type": "choices", "value": {"choices": [row.label]}}],
    }
    if row.confidence is not None:
        prediction["score"] = row.confidence
    data = {
        IMAGE_KEY: reference,
        "source_path": to_stored(row.image_path),
        "content_hash": row.content_hash,
        "review_state": row.review_state,
    }
    return {"data": data, "predictions": [prediction]}


def labeling_config(labels: Iterable[str]) -> str:
    """The labelling configuration the tasks fit: one image, one single choice among ``labels``."""
    choices = "".join(f"    <Choice value={quoteattr(label)}/>\n" for label in sorted(labels))
    return (
        f'<View>\n  <Image name="{IMAGE_KEY}" value="${IMAGE_KEY}"/>\n'
        f'  <Choices name="{CONTROL}" toName="{IMAGE_KEY}" choice="single" showInLine="true">\n{choices}  </Choices>\n</View>\n'
    )


@dataclass(frozen=True)
class Answer:
    """A label a person gave in Label Studio, and what identifies its image: ``path`` (the OS
    path, when the task names one) and ``content_hash`` (when the task carries ours)."""

    task: str  # the task's id (or position) for messages
    label: str
    path: str | None
    content_hash: str | None


def read_answers(
    file: Path, document_root: str = "/", url_prefix: str = LOCAL_FILES_URL
) -> tuple[list[Answer], list[tuple[str, str]]]:
    """The answers in a Label Studio JSON export (Export > JSON): per task, the choice of its
    newest annotation that was not cancelled. Tasks without one are left out; tasks whose
    annotation is not a single choice come back in the second list as (task, reason).

    Raises ``LabelStudioError`` for a file that is not such an export.
    """
    try:
        with file.open(encoding="utf-8") as f:
            tasks = json.load(f)
    except (OSError, ValueError) as exc:
        raise LabelStudioError(f"cannot read {file} as JSON: {exc}") from exc
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and isinstance(t.get("data"), dict) for t in tasks):
        raise LabelStudioError(
            f"{file} is not a Label Studio JSON export: expected a list of tasks, each with data (Export > JSON)"
        )
    answers: list[Answer] = []
    problems: list[tuple[str, str]] = []
    for position, item in enumerate(tasks):
        name = str(item.get("id", f"#{position + 1}"))
        done = [a for a in item.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            continue
        newest = max(done, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
        choices = [
            c
            for r in newest.get("result") or []
            if r.get("type") == "choices"
            for c in (r.get("value") or {}).get("choices") or []
        ]
        if len(choices) != 1 or not isinstance(choices[0], str) or not choices[0].strip():
            problems.append((name, f"its annotation has {len(choices)} choices, not one"))
            continue
        data = item["data"]
        path = _path_of(data, document_root, url_prefix)
        content_hash = data.get("content_hash") if isinstance(data.get("content_hash"), str) else None
        answers.append(Answer(name, choices[0].strip(), path, content_hash))
    return answers, problems


def _path_of(data: dict[str, Any], document_root: str, url_prefix: str) -> str | None:
    """The OS path a task names: our ``source_path``, else its image reference resolved against the document root."""
    stored = data.get("source_path")
    if isinstance(stored, str) and stored:
        try:
            return from_stored(stored)
        except ValueError:
            pass
    reference = data.get(IMAGE_KEY)
    if not isinstance(reference, str):
        return None
    if reference.startswith(url_prefix):
        encoded = reference[len(url_prefix) :]
    elif _LOCAL_FILES_PATH in reference:  # the same URL with the host, as Label Studio may write it
        encoded = next((p[2:] for p in urlsplit(reference).query.split("&") if p.startswith("d=")), "")
    else:
        return None
    relative = os.fsdecode(unquote_to_bytes(encoded))
    return os.path.join(document_root, relative) if relative else None


def corrections_from(session: Session, answers: list[Answer]) -> tuple[list[CorrectionRecord], list[tuple[str, str]]]:
    """The answers as verified labels: each matched to an image by its path (a file there now),
    else by its content hash (an image the library labels with that content). Answers matching
    neither come back in the second list as (task, reason)."""
    records: list[CorrectionRecord] = []
    unmatched: list[Answer] = []
    for answer in answers:
        if answer.path is not None and os.path.isfile(answer.path):
            records.append(CorrectionRecord(answer.path, answer.label))
        else:
            unmatched.append(answer)
    known = paths_with_content(session, (a.content_hash for a in unmatched if a.content_hash))
    problems: list[tuple[str, str]] = []
    for answer in unmatched:
        path = known.get(answer.content_hash or "")
        if path is not None:
            records.append(CorrectionRecord(path, answer.label, answer.content_hash))
        else:
            where = printable(answer.path) if answer.path else "its image reference"
            problems.append((answer.task, f"no file at {where}, and no labelled image with its content hash"))
    return records, problems
