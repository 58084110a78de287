"""The `mobilabel` command. Each subcommand's module is imported only when that command runs,
so light commands (enqueue, status, results) start fast and small, without torch."""

from __future__ import annotations

import importlib
from typing import Any

import click

from ..config import load_settings
from ..errors import MobilabelError

COMMANDS = {
    "predict": "labelling:predict",
    "label": "labelling:label",
    "results": "queries:results",
    "jobs": "queries:jobs",
    "enqueue": "distributed:enqueue",
    "status": "distributed:status",
    "cancel": "distributed:cancel",
    "sweep": "distributed:sweep_command",
    "worker": "worker:worker",
    "train": "training:train_command",
    "runs": "training:runs",
    "models": "training:models",
    "correct": "training:correct",
    "scheduler": "scheduling:scheduler",
    "db": "database:db",
    "doctor": "doctor:doctor",
    "serve": "serve:serve",
}


class MobilabelGroup(click.Group):
    """Loads commands on demand, and turns the errors a user can fix into one line and a
    non-zero exit, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        command: click.Command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MobilabelError as exc:
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


def main() -> None:
    cli(prog_name="mobilabel")
