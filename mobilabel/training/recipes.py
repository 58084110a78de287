"""Presets: named bundles of training options (``mobilabel train --preset NAME``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .errors import TrainingError

# Measured by bench/recipes.py (docs/benchmarks/recipes.md, `finetune_ema`): with today's defaults
# under it (the moving average, which it does not name, comes from them) it is no better than the
# defaults; it was the most accurate recipe of the first round, and stays as the
# longer recipe: MobileNetV2's last 4 inverted-residual blocks at a tenth of the head's learning
# rate, a cosine schedule, label smoothing 0.1 and TrivialAugment, up to 20 epochs with early
# stopping after 5 without a better validation accuracy.
PRESETS: dict[str, dict[str, Any]] = {
    "finetune": {
        "unfreeze_last": 4,
        "lr": 1e-3,
        "backbone_lr": 1e-4,
        "schedule": "cosine",
        "label_smoothing": 0.1,
        "augment": "trivial",
        "epochs": 20,
        "patience": 5,
    },
}


def apply_preset(name: str, options: dict[str, Any], given: Collection[str] = ()) -> dict[str, Any]:
    """``options`` with preset ``name``'s values, except for the options named in ``given`` (set
    explicitly, so they win). Raises ``TrainingError`` for an unknown preset."""
    if name not in PRESETS:
        raise TrainingError(f"unknown --preset {name!r}; choose one of {', '.join(PRESETS)}")
    return options | {key: value for key, value in PRESETS[name].items() if key not in given}
