"""A model version's stored ONNX file: what a CPU process labels with, without torch.

Written once per version beside its checkpoint in the model cache (``{id}.onnx`` next to ``{id}.pt``)
by a process that has torch (``versions.checkpoints.save_onnx_file``). The graph takes uint8 pixels
(N, H, W, 3) and normalises them itself; it gives ``logits`` (N, classes) and ``features`` (N, D), the
pooled features the classifier head reads (``models.embedding``); its metadata record the version id,
the classes, the preprocessing (resize, crop, mean, std) and the backbone's fingerprint, so labelling
from it (and keeping embeddings) needs neither the checkpoint nor torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import MobilabelError
from .preprocessing import Preprocessing

if TYPE_CHECKING:
    import onnxruntime

# Metadata keys in the ONNX file (its ``metadata_props``), each a JSON value.
_VERSION_ID, _CLASSES, _PREPROCESSING = "mobilabel.version_id", "mobilabel.classes", "mobilabel.preprocessing"
_BACKBONE, _TEMPERATURE = "mobilabel.backbone", "mobilabel.temperature"


class OnnxFileError(MobilabelError):
    """A stored ONNX file that ONNX Runtime cannot open, or that is not the version it is named after."""


@dataclass(frozen=True)
class OnnxCard:
    """What labelling needs to know of a version besides its graph: its id, classes (in the order of the
    graph's outputs), preprocessing and the backbone's fingerprint (``embedding.backbone_fingerprint``; None
    in a file written before embeddings were kept, which then labels without keeping them)."""

    version_id: str
    classes: list[str]
    preprocessing: Preprocessing
    backbone: str | None = None
    temperature: float = 1.0  # the version's calibration (``calibration.temperature_of``)

    def metadata(self) -> dict[str, str]:
        """The ONNX ``metadata_props`` that record this card."""
        return {
            _VERSION_ID: json.dumps(self.version_id),
            _CLASSES: json.dumps(self.classes),
            _PREPROCESSING: json.dumps(self.preprocessing.to_dict()),
            _BACKBONE: json.dumps(self.backbone),
            _TEMPERATURE: json.dumps(self.temperature),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> OnnxCard:
        """Raises KeyError or ValueError for metadata ``metadata`` did not write."""
        return cls(
            version_id=str(json.loads(metadata[_VERSION_ID])),
            classes=[str(name) for name in json.loads(metadata[_CLASSES])],
            preprocessing=Preprocessing.from_dict(json.loads(metadata[_PREPROCESSING])),
            backbone=json.loads(metadata[_BACKBONE]) if _BACKBONE in metadata else None,
            temperature=float(json.loads(metadata[_TEMPERATURE])) if _TEMPERATURE in metadata else 1.0,
        )


def onnx_path(cache_dir: Path, version_id: str) -> Path:
    """Where a version's ONNX file lives in the model cache (``MOBILABEL_HOME/models``)."""
    return cache_dir / f"{version_id}.onnx"


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """ONNX Runtime's options for a CPU session running on ``threads`` threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning, leaving the cores to the image decoders beside
    # the engine: measurably faster training and labelling (docs/benchmarks/recorded.md, Training speed).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxRuntime:
    """An ONNX graph (bytes, or a file) run by ONNX Runtime on the CPU: numpy in, numpy outputs out."""

    name = "onnx"
    device = "cpu"

    def __init__(self, graph: bytes | Path, threads: int) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(
            graph if isinstance(graph, bytes) else str(graph), session_options(threads), providers=["CPUExecutionProvider"]
        )
        # On one thread, MobileNetV2 runs fastest an image at a time: its activations stay in
        # cache (measured: docs/design/cpu-engine.md). Several threads need a batch to share.
        self._images_per_run = 1 if threads == 1 else None

    def forward(self, batch: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
        """Logits (N, classes) for a batch shaped like the graph's input."""
        return self.outputs(batch)[0]

    def outputs(self, batch: npt.NDArray[np.generic]) -> list[npt.NDArray[np.float32]]:
        """Every output of the graph for a batch shaped like its input: logits (N, classes), then features
        (N, D) where the graph gives them (``engines.output_names``), float32."""
        inputs = np.ascontiguousarray(batch)
        step = self._images_per_run or len(inputs)
        runs = [self.session.run(None, {"images": inputs[i : i + step]}) for i in range(0, len(inputs), step)]
        return [np.concatenate([run[k] for run in runs]).astype(np.float32, copy=False) for k in range(len(runs[0]))]


def open_onnx_file(path: Path, version_id: str, threads: int) -> tuple[OnnxCard, OnnxRuntime]:
    """The card and a runtime of the ONNX file at ``path``, which must be ``version_id``'s.

    Raises OnnxFileError for a file ONNX Runtime cannot load, one without mobilabel's metadata,
    or another version's.
    """
    try:
        runtime = OnnxRuntime(path, threads)
        card = OnnxCard.from_metadata(runtime.session.get_modelmeta().custom_metadata_map)
    except (KeyError, ValueError) as exc:
        raise OnnxFileError(f"{path}: no mobilabel metadata in this ONNX file ({exc.__class__.__name__}: {exc})") from exc
    except Exception as exc:  # onnxruntime raises its own exception types for a damaged file
        raise OnnxFileError(f"{path}: ONNX Runtime cannot load it ({exc.__class__.__name__})") from exc
    if card.version_id != version_id:
        raise OnnxFileError(f"{path}: holds model version {card.version_id}, not {version_id}")
    return card, runtime
