"""An exponential moving average of the weights being trained (``--ema-decay``).

Validating, and keeping, an average of the last few dozen steps' weights rather than the last
step's smooths out the noise of small batches from a few hundred photos (Polyak averaging; timm's
``ModelEmaV3`` and torch's ``swa_utils.get_ema_multi_avg_fn`` do the same). The average is
bias-corrected as Adam's moments are (Kingma & Ba, 2015, section 3): it starts from zeros and is
divided by ``1 - decay ** steps``, so it is a weighted mean of the steps taken so far, with no weight
left on the untrained head's random start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``parameters`` (the ones that train), updated after each optimiser step."""

    def __init__(self, parameters: Sequence[nn.Parameter], decay: float) -> None:
        """``decay``: the share of the average kept at each step, in [0, 1); 0.97 weighs roughly the
        last 1 / (1 - 0.97) = 33 steps."""
        self.parameters = list(parameters)
        self.decay = decay
        self.steps = 0
        self._sums = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.parameters]

    @torch.no_grad()
    def update(self) -> None:
        """Folds the parameters' current values into the average."""
        self.steps += 1
        for total, parameter in zip(self._sums, self.parameters, strict=True):
            total.mul_(self.decay).add_(parameter.detach(), alpha=1 - self.decay)

    @torch.no_grad()
    def averages(self) -> list[torch.Tensor]:
        """The bias-corrected averages, one per parameter (the parameters themselves before any update)."""
        if not self.steps:
            return [p.detach().clone() for p in self.parameters]
        correction = 1 - self.decay**self.steps
        return [total / correction for total in self._sums]

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """Within the block the parameters hold the averages (to validate them, or to copy them as the
        kept state); afterwards, the trained values again, so that training goes on from them."""
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.parameters]
            for parameter, average in zip(self.parameters, self.averages(), strict=True):
                parameter.copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, value in zip(self.parameters, trained, strict=True):
                    parameter.copy_(value)
