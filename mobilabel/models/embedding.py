"""Embeddings: a network's pooled features (the input of its classifier head), from the same forward pass
as its logits, and the fingerprint of the backbone that computed them.

Both architectures end in ``classifier(flatten(adaptive_avg_pool(features(x))))``, so the pooled
features are what a new head over the same backbone reads: a head fitted on stored embeddings labels
an image as the whole network with that head would (mobilabel.training.quick).
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn
from torch.nn import functional


class WithEmbedding(nn.Module):
    """``network`` (an architecture of ``architectures.build_model``) returning (logits (N, classes),
    pooled features (N, D)) from one pass; D is 1280 for MobileNetV2 at any width up to 1."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = torch.flatten(functional.adaptive_avg_pool2d(self.network.get_submodule("features")(x), 1), 1)
        logits: torch.Tensor = self.network.get_submodule("classifier")(pooled)
        return logits, pooled


def backbone_fingerprint(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex, 64 characters) of the feature layers' tensors (``features.*``: weights and batch-norm
    statistics), names and bytes in name order: equal exactly when the backbone computes the same embeddings."""
    digest = hashlib.sha256()
    for name in sorted(k for k in state_dict if k.startswith("features.")):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()
