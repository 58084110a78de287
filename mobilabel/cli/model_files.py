"""`mobilabel models export | import`: a version as an ONNX file or a bundle, and a bundle back in.

torch loads only when a command runs: listing versions stays light.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..config import Settings
from ..imaging import is_image_name
from ..plurals import counted
from ..storage import versions as stored
from ..storage.export_rows import labelled_paths
from .context import command_database

BUNDLE = "bundle"
ONNX = "onnx"
_CANDIDATES = 256  # labelled paths asked for, of which the first that still exist are checked


@click.command("export")
@click.argument("version_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice((BUNDLE, ONNX)),
    default=BUNDLE,
    show_default=True,
    help="bundle: checkpoint, report and record, for `models import` into another database; onnx: for another runtime.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file to write.")
@click.option(
    "--check-images",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="onnx: check on up to 32 images under this folder (default: images this version labelled).",
)
@click.pass_obj
def export_version(settings: Settings, version_id: str, fmt: str, output: Path, check_images: Path | None) -> None:
    """Write model version VERSION_ID (an id, a unique prefix, or 'active') to a file.

    ONNX: checked against PyTorch on up to 32 images; exits 1 if a logit differs by more than 1e-4.
    """
    database = command_database()
    if fmt == BUNDLE:
        from ..exchange.bundles import write_bundle

        bundle = write_bundle(database, settings, version_id, output)
        report = " and report" if bundle.report is not None else ""
        click.echo(f"wrote model version {bundle.record['id']} (checkpoint{report}) to {output}")
        return
    from ..files import write_atomically
    from ..models.onnx_export import CHECK_IMAGES, TOLERANCE, check_batch, largest_difference, onnx_bytes
    from ..versions.checkpoints import load_version

    with database.transaction() as session:
        version_id = stored.resolve_version(session, version_id)
        candidates = labelled_paths(session, version_id, _CANDIDATES) if check_images is None else []
    checkpoint = load_version(database, settings, version_id)
    data = onnx_bytes(checkpoint)
    images = _images_under(check_images) if check_images is not None else [Path(p) for p in candidates if os.path.isfile(p)]
    images = images[:CHECK_IMAGES]
    if not images:
        raise click.ClickException(
            "no images to check the ONNX file on: give --check-images DIR (this version labelled none that still exist)"
        )
    difference, disagreements = largest_difference(data, checkpoint, check_batch(checkpoint, images, settings.max_image_pixels))
    verdict = f"largest logit difference from PyTorch on {counted(len(images), 'image')}: {difference:.2e} (tolerance {TOLERANCE:.0e}), {counted(disagreements, 'label')} differ{'s' if disagreements == 1 else ''}"
    if difference > TOLERANCE or disagreements:
        click.echo(f"not written: {verdict}", err=True)
        raise SystemExit(1)
    write_atomically(output, data)
    click.echo(f"wrote model version {version_id} as ONNX to {output}; {verdict}")


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p.name))


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--activate", is_flag=True, help="Make the imported version active.")
@click.pass_obj
def import_version(settings: Settings, file: Path, activate: bool) -> None:
    """Register the model version in a bundle (`models export --format bundle`) under its own id."""
    from ..exchange.bundles import import_bundle, read_bundle

    bundle = read_bundle(file)
    new = import_bundle(command_database(), settings, bundle, activate)
    state = "imported" if new else "already here:"
    click.echo(
        f"{state} model version {bundle.record['id']} ({counted(len(bundle.record['classes']), 'class', 'classes')}){'; now active' if activate else ''}"
    )
