"""Python's cyclic garbage collector, paused for a block of work that makes many objects and no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, back on after if it was on. A block that allocates hundreds of
    thousands of objects (a command's imports, a million result rows) sets off full collections that walk every
    object of the process, none of which they free; paused, that work is not done. Process-wide: what another
    thread leaves in cycles meanwhile waits for the next collection after the block."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
