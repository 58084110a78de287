"""How paths are stored: absolute, as the user named them."""

from __future__ import annotations

import os
from pathlib import Path

from ..object_paths import is_uri


def absolute_path(path: str | Path) -> str:
    """``path`` made absolute with ``..`` folded, symlinks not resolved: the name the user gave, from anywhere.
    An object's URI (``s3://...``) is kept as it is: it is absolute already."""
    text = os.fspath(path)
    return text if is_uri(text) else os.path.abspath(text)
