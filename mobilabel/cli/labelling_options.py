"""The options of every command that labels (predict, label, watch): which model, engine and device."""

from __future__ import annotations

import click

from ..models.devices import ENGINES

model_option = click.option(
    "--model", help="Checkpoint file or model version id (default: the active version, else ImageNet weights)."
)
engine_option = click.option("--engine", type=click.Choice(ENGINES), help="Inference engine (default: MOBILABEL_ENGINE, auto).")
device_option = click.option("--device", help="cpu, cuda, cuda:N or auto (default: MOBILABEL_DEVICE, auto).")
