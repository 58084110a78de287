"""Alembic environment: runs against the engine mobilabel hands it."""

from alembic import context

from mobilabel.storage.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")  # an index build may rightly take long
    # render_as_batch lets ALTERs work on SQLite too.
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
