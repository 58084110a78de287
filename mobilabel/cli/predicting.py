"""`mobilabel predict`: label a few image files and print their labels, nothing stored.

Apart from `label`, so that a one-photo predict imports none of what labelling a folder needs (the job
bookkeeping, the progress bar and its console): issue 32 asks for a start in under a second from a warm cache.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import Settings
from ..models.devices import resolve_device
from ..pipeline.build import build_labeller, load_classifier
from ..versions.checkpoints import resolve_model
from .context import command_database
from .labelling_options import device_option, engine_option, model_option
from .sources import SOURCE


@click.command()
@click.argument("images", nargs=-1, required=True, type=SOURCE)
@click.option("--top-k", "top_k", type=click.IntRange(min=1), default=1, show_default=True, help="Show the K best labels.")
@model_option
@engine_option
@device_option
@click.pass_obj
def predict(
    settings: Settings, images: tuple[Path, ...], top_k: int, model: str | None, engine: str | None, device: str | None
) -> None:
    """Label IMAGE files and print each label and its confidence (nothing is stored)."""
    resolve_device(device or settings.device)  # a GPU this machine lacks is an error before any work
    database = command_database()
    # The labeller `label` runs, so both commands give a file the same label and confidence.
    classifier = load_classifier(settings, database, resolve_model(database, settings, model), engine, device)
    labeller = build_labeller(settings, classifier, device=device)
    failed = 0
    for batch in labeller.label(images):
        for record in batch.records:
            if record.error is not None:
                click.echo(f"{record.image_path}\tfailed: {record.error}", err=True)
                failed += 1
                continue
            if record.warning is not None:
                click.echo(f"{record.image_path}\twarning: {record.warning}", err=True)
            ranked = (record.top_k or [])[:top_k]
            click.echo(f"{record.image_path}\t" + "\t".join(f"{r['label']}\t{r['confidence']:.4f}" for r in ranked))
    if failed:
        raise SystemExit(1)
