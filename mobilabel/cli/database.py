"""`mobilabel db ...`: schema migrations."""

from __future__ import annotations

import click

from ..config import Settings
from ..logs import mask_secrets
from ..storage import open_database


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.pass_obj
def upgrade(settings: Settings) -> None:
    """Bring the database schema to the latest migration."""
    database = open_database(settings.database_url, auto_upgrade=True)
    database.dispose()
    click.echo(f"database {mask_secrets(database.url)} is at the latest migration")
