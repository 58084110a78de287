"""`mobilabel db ...`: schema migrations."""

from __future__ import annotations

import click

from ..logs import mask_secrets
from .context import command_database


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Bring the database schema to the latest migration."""
    database = command_database(auto_upgrade=True)
    click.echo(f"database {mask_secrets(database.url)} is at the latest migration")
