"""Where a model version's files lie on this machine: its checkpoint (``{id}.pt``, a cache of the
database's copy, checked by sha256 when loaded), its training report (``{id}.png``) and its ONNX file
(``{id}.onnx``, what a CPU process labels with without torch), all under MOBILABEL_HOME's model cache,
beside the remembered sha256 of the ImageNet weights file (``versions.weights_hash``).
The one place these names are made."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from ..models.onnx_file import onnx_path


def checkpoint_file(settings: Settings, version_id: str) -> Path:
    """This machine's copy of the version's checkpoint (it may not exist yet)."""
    return settings.model_cache_dir / f"{version_id}.pt"


def report_file(settings: Settings, version_id: str) -> Path:
    """The training report PNG `mobilabel train` drew for the version (only where it trained or was imported)."""
    return settings.model_cache_dir / f"{version_id}.png"


def onnx_file(settings: Settings, version_id: str) -> Path:
    """This machine's copy of the version's ONNX file (``models.onnx_file``; it may not exist yet)."""
    return onnx_path(settings.model_cache_dir, version_id)


def weights_hash_file(settings: Settings) -> Path:
    """Where ``versions.weights_hash`` remembers the sha256 of the weights file it hashed last (it may not exist)."""
    return settings.model_cache_dir / "weights-sha256.json"


def remove_files(settings: Settings, version_id: str) -> None:
    """Remove the version's checkpoint, report and ONNX file from this machine, if there."""
    for cached in (checkpoint_file(settings, version_id), report_file(settings, version_id), onnx_file(settings, version_id)):
        cached.unlink(missing_ok=True)
