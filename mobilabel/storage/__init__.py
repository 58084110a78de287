"""Tables, sessions, upserts, queries and migrations. Knows nothing of torch."""

from .database import Database, DatabaseError, open_database

__all__ = ["Database", "DatabaseError", "open_database"]
