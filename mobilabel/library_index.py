"""The library's stored embeddings and their kNN index, kept in memory per database for "more like this"
(issue 29), rebuilt in the background when the library changes.

At a million images reading the embeddings takes seconds and building the IVF index minutes on two
cores, so a query never waits for a rebuild once an index exists: a query that finds the library changed
(an image labelled, relabelled or pruned: ``storage.curation_queries.library_signature``) is answered from
the index it has, and one background thread per database builds the new one, which replaces the old
whole when done. An image newer than the index is looked up by its own stored embedding, so it finds
its neighbours at once; it becomes a neighbour of others when the rebuild lands. Only the very first
query of a process (no index yet) waits for a build, joining one already under way rather than
starting another.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from .curation.neighbours import SearchIndex, build_index
from .errors import MobilabelError
from .storage import Database
from .storage.curation_queries import library_backbone, library_signature, result_labels
from .storage.embedding_queries import LibraryEmbeddings, library_embeddings, load_embeddings

log = logging.getLogger(__name__)

Signature = tuple[str, int, int]  # backbone, images, largest result id


class CurationError(MobilabelError):
    """Nothing to compute from yet (no embeddings, too few answers) or a result that is not in the library."""


@dataclass(frozen=True)
class IndexedLibrary:
    """The library as read at ``signature``, and its kNN index (row i of both is the same image)."""

    signature: Signature
    library: LibraryEmbeddings
    index: SearchIndex

    def vector(self, db: Database, result_id: int) -> np.ndarray:
        """The embedding (D,) of result ``result_id``: from the index's library, or, for an image labelled
        since it was built, from storage. Raises CurationError when it has none under this backbone."""
        where = np.flatnonzero(self.library.result_ids == result_id)
        if len(where):
            mine: np.ndarray = self.library.vectors[where[0]]
            return mine
        with db.transaction() as session:
            found = result_labels(session, [result_id]).get(result_id)
            stored = load_embeddings(session, self.signature[0], [found.content_hash]) if found and found.content_hash else None
        if stored is None or not stored.content_hashes:
            raise CurationError(f"result {result_id} is not a labelled image with a stored embedding")
        newer: np.ndarray = stored.vectors[0]
        return newer


def read_library(db: Database) -> tuple[Signature, LibraryEmbeddings]:
    """The library's signature and its embeddings (under the backbone most of them have), read in that
    order: a change landing between the two makes the signature older, never newer, so it is read again.

    Raises CurationError when no image has a stored embedding."""
    with db.transaction() as session:
        backbone = library_backbone(session)
        signature = (backbone, *library_signature(session, backbone)) if backbone else None
        library = library_embeddings(session, backbone) if backbone else None
    if signature is None or library is None or not len(library):
        raise CurationError("no stored embeddings yet: label a folder first (mobilabel label DIR)")
    return signature, library


class _Keeper:
    """The last index of each database (by URL), the build under way for it, and why the last build failed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexes: dict[str, IndexedLibrary] = {}
        self.builds: dict[str, threading.Thread] = {}
        self.failures: dict[str, Exception] = {}

    def current(self, db: Database) -> IndexedLibrary:
        """An index of ``db``'s library: the last one built, with a rebuild started in the background when
        the library changed since; built (or joined) here only when there is none of this backbone yet.

        Raises CurationError when the library has no stored embeddings, or what the build raised."""
        with db.transaction() as session:
            backbone = library_backbone(session)
            signature = (backbone, *library_signature(session, backbone)) if backbone else None
        with self.lock:
            last = self.indexes.get(db.url)
            if last is not None and (signature is None or last.signature == signature):
                return last
            build = self.builds.get(db.url)
            if build is None or not build.is_alive():
                build = threading.Thread(target=self._build, args=(db,), name="mobilabel-knn-index", daemon=True)
                self.builds[db.url] = build
                build.start()
            if last is not None and signature is not None and last.signature[0] == signature[0]:
                return last  # the same backbone: its neighbours stay meaningful while the new index builds
        build.join()  # none yet, or another backbone's (other dimensions): nothing to answer from meanwhile
        with self.lock:
            if db.url in self.indexes:
                return self.indexes[db.url]
            raise self.failures.pop(db.url, None) or CurationError(
                "no stored embeddings yet: label a folder first (mobilabel label DIR)"
            )

    def _build(self, db: Database) -> None:
        try:
            signature, library = read_library(db)
            built = IndexedLibrary(signature, library, build_index(library.vectors))
        except Exception as exc:  # a background thread has nobody to raise to: a query waiting on it raises it
            if not isinstance(exc, CurationError):
                log.exception("building the kNN index of the library failed")
            with self.lock:
                self.failures[db.url] = exc
            return
        with self.lock:
            self.indexes[db.url] = built
            self.failures.pop(db.url, None)


_keeper = _Keeper()


def indexed_library(db: Database) -> IndexedLibrary:
    """``db``'s library and its kNN index, never waiting for a rebuild once one exists (see the module)."""
    return _keeper.current(db)


def wait_for_index(db: Database) -> None:
    """Wait until the background build of ``db``'s index under way, if any, has landed (for tools and tests)."""
    with _keeper.lock:
        build = _keeper.builds.get(db.url)
    if build is not None:
        build.join()
