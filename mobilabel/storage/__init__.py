"""Tables, sessions, upserts, queries and migrations. Knows nothing of torch."""

from .database import Database, DatabaseError, mask_url, open_database

__all__ = ["Database", "DatabaseError", "mask_url", "open_database"]
