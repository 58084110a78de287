"""Filesystem events for `watch` (watchdog: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows): any event wakes the watcher at once; where closes are reported (inotify), they also say when a
file is whole, so a file is labelled as soon as its writer closes it, and never half-written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_ATTRIB,
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EventsLostEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from ..imaging import is_image_name
from ..pipeline.incremental import fingerprint


class WriteTracker(FileSystemEventHandler):
    """Sets ``wake`` on every event about an image or a folder; when ``closes_reported``, follows which images
    are being written.

    A file written to (a modify event) is being written until its close-after-write event; a file closed
    or moved into place is whole at its fingerprint of that moment. Lost events (the kernel's queue
    overflowed) forget what was being written: the watcher then judges by stability alone.
    """

    def __init__(self, wake: threading.Event, closes_reported: bool) -> None:
        self.wake = wake
        self.closes_reported = closes_reported
        self._lock = threading.Lock()
        self._writing: set[str] = set()
        self._closed: dict[str, str | None] = {}

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, EventsLostEvent):
            with self._lock:
                self._writing.clear()
        elif not (event.is_directory or any(is_image_name(os.fsdecode(p)) for p in (event.src_path, event.dest_path) if p)):
            return  # a log file written all day must not keep the watcher walking the folder
        elif self.closes_reported and not event.is_directory:
            self._follow(event)
        self.wake.set()

    def _follow(self, event: FileSystemEvent) -> None:
        source = os.fsdecode(event.src_path)
        kind = event.event_type
        if kind == EVENT_TYPE_MOVED:
            destination = os.fsdecode(event.dest_path)
            self._forget(source)
            if is_image_name(destination):
                self._whole(destination)
        elif not is_image_name(source):
            return
        elif kind == EVENT_TYPE_MODIFIED:
            with self._lock:
                self._writing.add(source)
                self._closed.pop(source, None)
        elif kind == EVENT_TYPE_CLOSED:
            self._whole(source)
        elif kind == EVENT_TYPE_ATTRIB and self._is_closed(source):
            self._whole(source)  # times set after the close (cp -p, shutil.copy2): whole at its new fingerprint
        elif kind == EVENT_TYPE_DELETED:
            self._forget(source)

    def _whole(self, location: str) -> None:
        seen = fingerprint(Path(location))  # stat'ed now, in the observer's thread: the file as its writer left it
        with self._lock:
            self._writing.discard(location)
            self._closed[location] = seen

    def _is_closed(self, location: str) -> bool:
        with self._lock:
            return location in self._closed

    def _forget(self, location: str) -> None:
        with self._lock:
            self._writing.discard(location)
            self._closed.pop(location, None)

    def writing(self, location: str) -> bool:
        """Whether events say a writer has the file open (written to, not yet closed)."""
        with self._lock:
            return location in self._writing

    def verdict(self, location: str, current: str) -> bool | None:
        """False while the file is being written; True once (then forgotten) when it was closed or moved
        into place at ``current``; None when events say nothing (judge by stability)."""
        with self._lock:
            if location in self._writing:
                return False
            if self._closed.get(location) == current:
                del self._closed[location]
                return True
            return None


def follow_folder(folder: Path, wake: threading.Event) -> tuple[BaseObserver, WriteTracker] | None:
    """Start watching ``folder`` (recursively) for events that set ``wake``; None where the platform gives none
    (inotify's watch limit reached, an unsupported filesystem): the caller then polls. Stop the observer when done."""
    observer = Observer()
    tracker = WriteTracker(wake, closes_reported=type(observer).__name__ == "InotifyObserver")
    try:
        observer.schedule(tracker, str(folder), recursive=True)
        observer.start()
    except OSError:
        return None
    return observer, tracker
