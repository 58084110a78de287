"""Keep Python's full garbage collections short in the server.

A full (generation 2) collection walks every object the collector tracks, and every request
waits for it. The server's long-lived objects (its modules, the app, a loaded model) are most
of them: 142,000 objects at startup (a full collection 47 ms on this 2-core machine under load),
442,000 once /api/predict has loaded torch (251 ms). One in about 480 result pages met such a
collection: the path prefix's next page p95 of 56 ms at 2,000,000 rows (bench/results_scale.py)
was one 92 ms collection among 30 runs, while PostgreSQL ran the query in under 1 ms. Frozen,
those objects are left out of every collection (0.7-0.9 ms each, measured alike).
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
