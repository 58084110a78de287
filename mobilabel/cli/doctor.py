"""`mobilabel doctor`: check database, migrations, weights, GPU and (when one is used) the broker and the object
store; say plainly what is wrong."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import click

from .. import object_store
from ..broker import create_app
from ..config import Settings
from ..logs import mask_secrets
from ..object_paths import ObjectPath
from ..storage import Database
from ..storage.database import head_revision, schema_revision
from ..versions.checkpoints import active_version_id, find_imagenet


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_broker(settings: Settings) -> Check:
    url = mask_secrets(settings.broker_url)
    try:
        with create_app(settings).connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:
        return Check("broker", False, f"cannot reach {url}: {mask_secrets(str(exc))} (is Redis running? MOBILABEL_BROKER_URL)")
    return Check("broker", True, f"{url} answers")


def check_database(settings: Settings) -> list[Check]:
    url = mask_secrets(settings.database_url)
    database = Database(settings.database_url)
    try:
        return _check_schema(settings, database, url)
    finally:
        database.dispose()


def _check_schema(settings: Settings, database: Database, url: str) -> list[Check]:
    try:
        current = schema_revision(database.engine)
    except Exception as exc:
        reason = " ".join(mask_secrets(str(getattr(exc, "orig", exc))).split())
        detail = f"cannot connect to {url}: {reason} (MOBILABEL_DATABASE_URL)"
        return [Check("database", False, detail), Check("migrations", False, "not checked: no database")]
    head = head_revision()
    checks = [Check("database", True, f"{url} answers")]
    if current == head:
        checks.append(Check("migrations", True, f"at the latest ({head})"))
    elif database.is_embedded and current is None:
        checks.append(Check("migrations", True, "new SQLite file: it is created on first use"))
    else:
        checks.append(Check("migrations", False, f"at {current or 'none'}, latest is {head}: run `mobilabel db upgrade`"))
    if current == head or (database.is_embedded and current is None):
        checks.append(_check_weights(settings, database if current == head else None))
    return checks


def _check_weights(settings: Settings, database: Database | None) -> Check:
    """``database`` None: a new SQLite file, with no version in it yet."""
    active = active_version_id(database) if database is not None else None
    if active is not None:
        return Check("weights", True, f"active model version {active}")
    try:
        imagenet = find_imagenet(database, settings)  # found as label, train and the workers find them
    except Exception as exc:
        return Check("weights", False, str(exc))
    if imagenet is None:
        return Check("weights", False, "no active model version and no ImageNet weights: set MOBILABEL_PRETRAINED")
    return Check("weights", True, f"no active version yet; ImageNet weights from {imagenet.source or imagenet.version_id}")


def check_object_store(settings: Settings) -> list[Check]:
    """Each ``s3://`` entry of MOBILABEL_ALLOWED_ROOTS listed (one key asked for); else, with an endpoint set in
    ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, the store asked for its buckets; else nothing to check."""
    prefixes = [root for root in settings.allowed_roots if isinstance(root, ObjectPath)]
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not prefixes and not endpoint:
        return [Check("s3", True, "not checked: no s3:// entry in MOBILABEL_ALLOWED_ROOTS and no AWS_ENDPOINT_URL(_S3)")]
    where = f" at {endpoint}" if endpoint else ""
    if not prefixes:
        try:
            object_store.client().list_buckets()
        except Exception as exc:
            return [Check("s3", False, f"the store{where}: {object_store.describe(exc)}")]
        return [Check("s3", True, f"the store{where} answers")]
    checks = []
    for prefix in prefixes:
        try:
            object_store.check_prefix(prefix)
        except object_store.ObjectStoreError as exc:
            checks.append(Check("s3", False, f"{exc}{where} (AWS_* variables, MOBILABEL_ALLOWED_ROOTS)"))
        else:
            checks.append(Check("s3", True, f"{prefix} can be listed{where}"))
    return checks


def check_gpu() -> Check:
    import torch

    if not torch.cuda.is_available():
        return Check("gpu", True, "none found: workers run on the CPU (ONNX Runtime)")
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return Check("gpu", True, f"{torch.cuda.device_count()} CUDA device(s): {names}")


@click.command()
@click.option(
    "--broker/--no-broker",
    default=None,
    help="Check the broker, or skip it. Default: only when MOBILABEL_BROKER_URL is set (embedded use needs none).",
)
@click.pass_obj
def doctor(settings: Settings, broker: bool | None) -> None:
    """Check database, migrations, weights, GPU, the broker and the object store (when one is configured)."""
    checks: list[Callable[[], list[Check]]] = [
        lambda: check_database(settings),
        lambda: check_object_store(settings),
        lambda: [check_gpu()],
    ]
    if broker or (broker is None and settings.broker_configured):
        checks.insert(0, lambda: [check_broker(settings)])
    else:
        skipped = (
            "not checked (--no-broker)"
            if broker is False
            else ("not checked: MOBILABEL_BROKER_URL is not set, and embedded use needs none (--broker checks it)")
        )
        checks.insert(0, lambda: [Check("broker", True, skipped)])
    results = [result for check in checks for result in check()]
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name:<10} {result.detail}")
    if not all(result.ok for result in results):
        raise SystemExit(1)
