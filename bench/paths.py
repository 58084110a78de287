"""Where the benchmark finds the shared data and keeps its own."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MOBILABEL_SHARED", REPO.parent / "shared"))
FLOWERS = SHARED / "datasets" / "flowers"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_imagenet.pth"
DATA = REPO / "bench" / "data"
RESULTS = REPO / "bench" / "results"
