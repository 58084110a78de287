"""Keep Python's full garbage collections short in the server.

A full (generation 2) collection walks every object the collector tracks, and every request
waits for it. The server's long-lived objects (its modules, the app, a loaded model) are most
of them, several times more once /api/predict has loaded torch. One in several hundred result
pages met such a collection, which set the p95 of a page whose query PostgreSQL ran in a
fraction of it. Frozen, those objects are left out of every collection, which then takes a small
fraction of the time (docs/design/results-at-scale.md; figures in docs/benchmarks/recorded.md).
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect what is garbage now, then move every object still alive out of the collector's
    sight (``gc.freeze``): they are still freed when their last reference goes; only a cycle
    among them waits for ``thaw``. Call it once the server holds what it keeps (after startup,
    after loading a model)."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Hand the frozen objects back to the collector (at shutdown: an app made and dropped in a
    longer-lived process, as in tests, must not leave its cycles uncollectable)."""
    gc.unfreeze()
