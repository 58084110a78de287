"""The checkpoint: one file that is enough to label with.

It holds plain tensors, strings and numbers only, so it loads with
``torch.load(..., weights_only=True)``. A bare torchvision ``mobilenet_v2``
state_dict (torchvision's ImageNet file, or the shared one) loads too.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import MobileNet_V2_Weights

from ..calibration import temperature_of
from ..errors import MobilabelError
from ..files import write_atomically
from .architectures import ARCHITECTURES, build_model
from .embedding import backbone_fingerprint
from .preprocessing import Preprocessing

FORMAT = "mobilabel.checkpoint/1"
IMAGENET_CATEGORIES: list[str] = list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
# Width multipliers torchvision publishes weights for; a bare state_dict is matched against them.
_KNOWN_ALPHAS = (1.0, 0.75, 0.5, 0.35, 1.3, 1.4)


class CheckpointError(MobilabelError, ValueError):
    """A file that is not a checkpoint mobilabel can use."""


def new_version_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Checkpoint:
    arch: str
    alpha: float
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    metrics: dict[str, Any] = field(default_factory=dict)
    version_id: str = field(default_factory=new_version_id)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    source: str = ""

    @property
    def temperature(self) -> float:
        """The version's calibration temperature (``calibration``; 1.0 if never fitted): logits / T before the softmax."""
        return temperature_of(self.metrics)

    @property
    def backbone(self) -> str:
        """The fingerprint of its feature layers (``embedding.backbone_fingerprint``): which stored embeddings
        are this network's. Computed on each read (SHA-256 over about 9 MB), as training may change the weights."""
        return backbone_fingerprint(self.state_dict)

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        arch: str,
        alpha: float,
        classes: list[str],
        preprocessing: Preprocessing,
        metrics: dict[str, Any] | None = None,
        source: str = "",
    ) -> Checkpoint:
        state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
        return cls(arch, alpha, list(classes), state, preprocessing, dict(metrics or {}), source=source)

    def build(self) -> nn.Module:
        """The network with these weights, in eval mode, on the CPU."""
        model = build_model(self.arch, len(self.classes), self.alpha)
        model.load_state_dict(self.state_dict)
        return model.eval()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "arch": self.arch,
            "alpha": self.alpha,
            "classes": list(self.classes),
            "class_indices": {str(i): name for i, name in enumerate(self.classes)},
            "preprocessing": self.preprocessing.to_dict(),
            "metrics": self.metrics,
            "version_id": self.version_id,
            "created_at": self.created_at,
            "source": self.source,
            "state_dict": self.state_dict,
        }

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(self.to_dict(), buffer)
        return buffer.getvalue()

    def save(self, path: Path) -> None:
        write_atomically(path, self.to_bytes())  # never leave a half-written checkpoint behind

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "") -> Checkpoint:
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for foreign files
            raise CheckpointError(f"{source or 'checkpoint'}: not a PyTorch weights file ({exc.__class__.__name__})") from exc
        if isinstance(obj, dict) and obj.get("format") == FORMAT:
            return cls._from_dict(obj, source)
        if isinstance(obj, dict) and "features.0.0.weight" in obj and "classifier.1.weight" in obj:
            return cls._from_torchvision_state_dict(obj, hashlib.sha256(data).hexdigest(), source)
        raise CheckpointError(
            f"{source or 'checkpoint'}: neither a mobilabel checkpoint nor a torchvision mobilenet_v2 state_dict"
        )

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, source=str(path))

    @classmethod
    def _from_dict(cls, obj: dict[str, Any], source: str) -> Checkpoint:
        if obj["arch"] not in ARCHITECTURES:
            raise CheckpointError(f"{source}: unknown architecture {obj['arch']!r}")
        return cls(
            arch=obj["arch"],
            alpha=float(obj["alpha"]),
            classes=list(obj["classes"]),
            state_dict=obj["state_dict"],
            preprocessing=Preprocessing.from_dict(obj["preprocessing"]),
            metrics=dict(obj.get("metrics") or {}),
            version_id=str(obj["version_id"]),
            created_at=str(obj["created_at"]),
            source=str(obj.get("source") or source),
        )

    @classmethod
    def _from_torchvision_state_dict(cls, state: dict[str, torch.Tensor], sha256: str, source: str) -> Checkpoint:
        num_classes = state["classifier.1.weight"].shape[0]
        for alpha in _KNOWN_ALPHAS:
            expected = build_model("mobilenet_v2", num_classes, alpha).state_dict()
            if expected.keys() == state.keys() and all(expected[k].shape == state[k].shape for k in state):
                break
        else:
            raise CheckpointError(f"{source}: a state_dict whose shapes match no mobilenet_v2 width")
        imagenet = num_classes == len(IMAGENET_CATEGORIES)
        classes = IMAGENET_CATEGORIES if imagenet else [f"class_{i}" for i in range(num_classes)]
        return cls(
            arch="mobilenet_v2",
            alpha=alpha,
            classes=list(classes),
            state_dict=state,
            # A content hash: the same weights file always registers as the same version.
            version_id=f"{'imagenet' if imagenet else 'import'}-{sha256[:12]}",
            source=source,
        )
