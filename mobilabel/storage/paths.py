"""How paths are stored: absolute, as the user named them."""

from __future__ import annotations

import os
from pathlib import Path


def absolute_path(path: str | Path) -> str:
    """``path`` made absolute with ``..`` folded, symlinks not resolved: the name the user gave, from anywhere."""
    return os.path.abspath(path)
