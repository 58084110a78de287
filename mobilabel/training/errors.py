"""The one error training raises for what a user can fix."""

from __future__ import annotations

from ..errors import MobilabelError


class TrainingError(MobilabelError):
    """A training run that cannot start as asked (data, weights, options); the message says why."""
