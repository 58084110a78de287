"""The `mobilabel` command. Each subcommand's module is imported only when that command runs,
so light commands (enqueue, status, results) and `--help` start fast and small, without torch."""

from __future__ import annotations

import gc
import importlib
import sys
from types import ModuleType
from typing import Any

import click
from click.shell_completion import CompletionItem

from .. import collector
from ..config import SettingsError, load_settings
from ..errors import MobilabelError

# name: (module:attribute, the line `mobilabel --help` shows: listing commands imports none of them, so no torch)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("predicting:predict", "Label image files and print the labels (nothing stored)."),
    "label": ("labelling:label", "Label every image under a folder in this process."),
    "results": ("queries:results", "Query stored results."),
    "jobs": ("queries:jobs", "List labelling jobs, newest first."),
    "export": ("exporting:export", "Export labels as class folders or Label Studio tasks."),
    "watch": ("watching:watch", "Label a folder's new and changed images as they appear."),
    "enqueue": ("distributed:enqueue", "Send a folder's images to the workers; prints the job id."),
    "status": ("distributed:status", "Progress of a distributed job."),
    "cancel": ("distributed:cancel", "Cancel a job."),
    "sweep": ("distributed:sweep_command", "Re-send chunks whose deadline passed."),
    "worker": ("worker:worker", "Run a Celery worker."),
    "train": ("training:train_command", "Train a classifier on a folder or your answers and register it."),
    "runs": ("training:runs", "Training runs: local, quick heads and on workers."),
    "models": ("training:models", "List, activate or roll back model versions."),
    "correct": ("training:correct", "Answer: store the label of an image (a class, other or skip) for training."),
    "classes": ("classes:classes", "List, add, rename, merge, retire or restore your classes."),
    "accept": ("accepting:accept_command", "Accept the labels the model is sure of, at a stated precision."),
    "review": ("review:review", "The review queue: `review next` leases the images to answer next."),
    "scheduler": ("scheduling:scheduler", "Run Celery beat: sweeps and scheduled retraining."),
    "flower": ("scheduling:flower", "Run Flower, Celery's monitoring web page."),
    "db": ("database:db", "Database schema."),
    "doctor": ("doctor:doctor", "Check broker, database, migrations, weights and GPU."),
    "serve": ("serve:serve", "Run the HTTP API and the review page."),
    "completion": ("completion:completion", "Print the shell completion script (bash, zsh or fish)."),
}


class UserError(click.ClickException):
    """A MobilabelError as click shows it: one `Error: ...` line, then exit code 1."""

    def __init__(self, error: MobilabelError) -> None:
        super().__init__(" ".join(str(error).split()) or error.__class__.__name__)


class SettingsUsageError(UserError):
    """A bad setting: the same kind of mistake as a bad option, so click's usage exit code, 2."""

    exit_code = 2


class MobilabelGroup(click.Group):
    """Loads commands on demand, and turns the errors a user can fix into one line and a
    non-zero exit, never a traceback: 2 for settings (as click does for usage), 1 otherwise."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name][0].split(":")
        command: click.Command = getattr(_import_command(f"{__package__}.{module}"), attribute)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            # Click suggests close names from the commands it holds; these load on demand, so name them all.
            raise click.exceptions.NoSuchCommand(exc.command_name, possibilities=COMMANDS, ctx=ctx) from None

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        # The command names from COMMANDS, importing none of them (some load torch); then the options.
        names = [
            CompletionItem(name, help=short_help) for name, (_, short_help) in COMMANDS.items() if name.startswith(incomplete)
        ]
        return names + click.Command.shell_complete(self, ctx, incomplete)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help) for name, (_, short_help) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise SettingsUsageError(exc) from exc
        except MobilabelError as exc:
            raise UserError(exc) from exc
        except Exception as exc:
            from ..storage.retry import is_transient  # here: --help stays light

            if not is_transient(exc):
                raise
            # A database that went away between steps that retry it: one line, as for every other reason.
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
            raise UserError(MobilabelError(f"the database could not be reached: {reason} (MOBILABEL_DATABASE_URL)")) from exc


def _import_command(name: str) -> ModuleType:
    """Import a command's module with the garbage collector paused, then freeze every object there is
    (``gc.freeze``): the imports make a few hundred thousand objects that live as long as the process (SQLAlchemy's
    tables, pydantic's schemas, numpy's), which the collector would otherwise scan again and again while importing,
    and once more at exit; frozen, no collection looks at them again. About 0.15 s of CPU, a fifth of a one-photo
    `predict` (bench/predict_start.py). Only on the module's first import: a process that runs many commands
    (the tests) freezes at most once per command module."""
    if name in sys.modules:
        return sys.modules[name]
    with collector.paused():
        try:
            return importlib.import_module(name)
        finally:
            gc.freeze()  # before the collector is back on: it never scans them


@click.group(cls=MobilabelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mobilabel")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Label folders of images with MobileNet; results go to a SQL database."""
    ctx.obj = load_settings()


def main() -> None:
    cli(prog_name="mobilabel")
