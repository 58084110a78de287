"""Training folders made from the shared flowers, for the confinement tests (unit and integration)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import FLOWERS


def copied_training_folder(root: Path, per_class: int = 2) -> Path:
    """train/ and val/ of two classes (daisy, roses), ``per_class`` photos each, copied: a link would lead
    out of ``root``, which is what confinement tests must not do by accident."""
    for split in ("train", "val"):
        for name in ("daisy", "roses"):
            (root / split / name).mkdir(parents=True)
            for photo in sorted((FLOWERS / split / name).glob("*.jpg"))[:per_class]:
                shutil.copy(photo, root / split / name / photo.name)
    return root
