"""`mobilabel db ...`: schema migrations."""

from __future__ import annotations

import click

from ..config import Settings
from ..storage import mask_url, open_database


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.pass_obj
def upgrade(settings: Settings) -> None:
    """Bring the database schema to the latest migration."""
    database = open_database(settings.database_url, auto_upgrade=True)
    database.dispose()
    click.echo(f"database {mask_url(database.url)} is at the latest migration")
