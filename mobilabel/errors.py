"""The base of every error a user can fix: the CLI prints its message in one line, never a traceback.

Each part raises its own subclass (CheckpointError, FolderError, DatabaseError, ...);
this module imports nothing, so any part may use it.
"""


class MobilabelError(Exception):
    """Something the user can put right; the message says what and how."""
