"""The `mobilabel` command: a group whose commands live in the modules beside this one."""

from __future__ import annotations

from typing import Any

import click

from ..config import load_settings
from ..errors import USER_ERRORS
from . import database, distributed, doctor, labelling, scheduling, training


class MobilabelGroup(click.Group):
    """Turns the errors a user can fix into one line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=MobilabelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mobilabel")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Label folders of images with MobileNet; results go to a SQL database."""
    try:
        ctx.obj = load_settings()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


for command in (
    *labelling.COMMANDS, *distributed.COMMANDS, *training.COMMANDS, scheduling.scheduler, database.db, doctor.doctor
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="mobilabel")
