"""Settings, read from ``MOBILABEL_*`` environment variables in this one place, typed and checked at load.

Defaults work embedded: a SQLite file under the data folder, no server needed.
Settings are read anew on each ``load_settings()`` call so that tests (and
long-running workers started by tests) see the environment they were given; one
``Settings`` object is then passed down. An unset or empty variable takes its default.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import MobilabelError
from .logs import mask_secrets
from .object_paths import ObjectPath, ObjectUriError, source_path

ENV_PREFIX = "MOBILABEL_"
EngineName = Literal["auto", "torch", "onnx"]
DecoderName = Literal["torchvision", "pillow"]
# The Celery queues: the broker module builds them from these names.
QueueName = Literal["cpu", "gpu"]
# cpu, auto, cuda, or one GPU as cuda:N (PyTorch's device strings).
_DEVICE = r"auto|cpu|cuda(:\d+)?"
_BROKER_URL = r"[A-Za-z][A-Za-z0-9+.-]*://.*"
# Variables renamed, still read under the old name while the new one is unset: old -> new.
RENAMED = {"MOBILABEL_THREADS": "MOBILABEL_LANES"}
_warned_renamed: set[str] = set()  # old names warned about in this process

log = logging.getLogger(__name__)


class SettingsError(MobilabelError):
    """A ``MOBILABEL_*`` variable with a value that cannot be used; the message names it and what is allowed."""


def available_cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "mobilabel"


class Settings(BaseSettings):
    """Every setting, each from ``MOBILABEL_<FIELD NAME>``; docs/configuration.md is generated from the descriptions."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Data folder: the SQLite file, the model cache, thumbnails. "
        "Default: `$XDG_DATA_HOME/mobilabel`, else `~/.local/share/mobilabel`.",
    )
    database_url: str = Field(
        "",
        validate_default=True,
        description="Any SQLAlchemy URL; `postgresql://user@host/db` works as is. "
        "Empty: the SQLite file `mobilabel.db` in the data folder (`MOBILABEL_HOME`).",
    )
    broker_url: str = Field(
        "redis://localhost:6379/0",
        pattern=_BROKER_URL,
        description="Celery broker. `mobilabel serve` sends jobs to the workers only when this is set, else labels them itself.",
    )
    redis_prefix: str = Field(
        "mobilabel:",
        description="Prefix of every Redis key, so several installations (or test runs) can share one Redis.",
    )
    pretrained: Path | None = Field(
        None,
        description="ImageNet weights file for `mobilenet_v2`. Unset: torchvision's cache, else the weights an earlier run "
        "registered in the database.",
    )
    allowed_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        (),
        description="Comma-separated entries, each a folder (must exist) or `s3://bucket[/prefix]`; paths and objects outside "
        "them (also through `..` or a symlink) are never opened. A list with no `://` may also be `:`-separated. A worker also "
        "holds each job to the roots of the process that created it. Unset: no limit for the CLI and workers; the HTTP API then "
        "serves no images and creates no jobs.",
    )
    max_image_pixels: int = Field(
        89_478_485, ge=1, description="Larger images are refused from their header (decompression bombs)."
    )
    batch_size: int = Field(0, ge=0, description="Images per forward pass. `0`: chosen by device, 32 on a CPU, 256 on a GPU.")
    decode_threads: int = Field(
        default_factory=available_cores,
        ge=1,
        description="Threads decoding ahead of the model (training: decode processes). Default: the cores this process may use.",
    )
    decoder: DecoderName = Field(
        "torchvision",
        description="`torchvision`: JPEGs decoded at reduced size by libjpeg-turbo and resized with torchvision's kernels in the "
        "decode threads (small ones a batch at a time by nvjpeg on a GPU), other files through Pillow; "
        "`pillow`: everything through Pillow in the decode threads, as the tutorial does.",
    )
    refine_margin: float = Field(
        0.01,
        ge=0,
        le=1,
        description="A photo decoded at reduced size whose top two probabilities are closer than this is decoded again at full "
        "size and predicted again, so near ties follow the full decode. `0`: never.",
    )
    lanes: int = Field(
        0,
        ge=0,
        description="Inference lanes per process (formerly `MOBILABEL_THREADS`, still read with a warning): batches predicted at once, one thread each. `0`: one lane per core "
        "(divided among a worker's processes); 2 on a GPU.",
    )
    engine: EngineName = Field("auto", description="`auto`: ONNX Runtime (`onnx`) on a CPU, PyTorch (`torch`) on a GPU.")
    device: str = Field(
        "auto",
        pattern=rf"^({_DEVICE})$",
        description="`cpu`, `cuda`, `cuda:N` or `auto`; a GPU the machine lacks is an error before any work.",
    )
    top_k: int = Field(5, ge=1, description="How many ranked labels each result keeps.")
    chunk_size: int = Field(
        128,
        ge=1,
        description="Images per task sent to the workers. Larger chunks cost fewer messages; a crash redoes at most one chunk "
        "per process.",
    )
    chunk_deadline_s: float = Field(
        300.0,
        gt=0,
        description="A running chunk not finished by then is sent again (also the task's hard time limit), in seconds.",
    )
    queued_grace_s: float = Field(
        60.0,
        gt=0,
        description="A queued chunk is sent again after this many seconds only if its queue is empty (a lost message).",
    )
    sweep_interval_s: float = Field(
        30.0, gt=0, description="How often each worker (and the scheduler) sweeps overdue chunks, in seconds."
    )
    db_patience_s: float = Field(120.0, ge=0, description="How long a worker retries through a database outage, in seconds.")
    heartbeat_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between the heartbeats of a job's or training run's owner and of the active scheduler; "
        "an owner silent for three heartbeats is taken as gone, and what it held is failed or taken over.",
    )
    db_lock_timeout_s: float = Field(
        30.0,
        gt=0,
        description="How long a write to the SQLite file waits while another process holds its write lock before the command "
        "stops with an error that says so, in seconds.",
    )
    max_redeliveries: int = Field(
        3,
        ge=0,
        description="Deliveries of a chunk after the first before its images are marked failed instead of looping.",
    )
    visibility_timeout_s: int = Field(3600, ge=1, description="Redis visibility timeout in seconds; longer than any chunk.")
    model_refresh_s: float = Field(
        2.0,
        ge=0,
        description="How often, in seconds, the active model version is looked up between batches (workers and `label`).",
    )
    metrics_port: int = Field(0, ge=0, le=65535, description="Each worker's Prometheus endpoint. `0`: off.")
    schedule: str = Field(
        "",
        description="Retraining schedule of `mobilabel scheduler`: seconds between runs, or a cron expression of five fields. "
        "Empty: never.",
    )
    train_dir: Path | None = Field(
        None,
        description="Data folder of the scheduled retraining. Unset: the schedule trains on the answers alone (`mobilabel correct`); "
        "set: on the folder, an answer overriding the folder's label of the same content.",
    )
    reviewer: str | None = Field(
        None,
        description="Who answers from this shell (`mobilabel correct`, `review next`); unset: the operating system's user name.",
    )
    review_lease_s: float = Field(
        600.0,
        gt=0,
        description="How long `review next` holds its images for one reviewer (no other is offered them), in seconds.",
    )
    refresh_every: int = Field(
        20,
        ge=0,
        description="Fit a quick head on the stored embeddings (`train --quick`) after every this many answers; 0: never.",
    )
    train_queue: QueueName = Field("cpu", description="Queue of training tasks (`gpu` where a GPU worker runs).")
    api_token: str = Field(
        "",
        description="Bearer token of `mobilabel serve`; required to listen on anything but loopback. A secret: set it in the "
        "environment only.",
    )
    max_upload_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1,
        description="Largest request body `/api/predict` accepts (all its files together), in bytes; more: 413.",
    )
    predict_max_batch: int = Field(32, ge=1, description="Dynamic batching of `/api/predict`: most images per forward pass.")
    predict_max_wait_ms: float = Field(
        5.0,
        ge=0,
        description="Dynamic batching of `/api/predict`: how long the first image of a batch waits for more, in milliseconds.",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="`,`-separated origins allowed to call the API from a browser (CORS). Empty: no CORS.",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated Host names (a reverse proxy's, e.g. labels.example.org, or *.example.org) that `mobilabel serve` "
        "answers besides localhost, 127.0.0.1 and [::1]; any other Host gets 400 (DNS rebinding). With MOBILABEL_API_TOKEN set "
        "and this empty, any Host is answered (a page elsewhere lacks the token).",
    )
    session_ttl_s: float = Field(
        8 * 3600.0, gt=0, description="Seconds a web page's login session lasts (POST /api/session) before it must log in again."
    )
    tta: Literal["off", "flip"] = Field(
        "off",
        description="Test-time augmentation when labelling: `off`, or `flip` (each image is also predicted mirrored and the "
        "two softmaxes averaged). Not part of a model version: `label --force` labels again with it.",
    )

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"

    @property
    def broker_configured(self) -> bool:
        """MOBILABEL_BROKER_URL was given rather than left at its default: distributed use."""
        return "broker_url" in self.model_fields_set

    @field_validator("home", "pretrained", "train_dir", mode="after")
    @classmethod
    def _expand_user(cls, path: Path | None) -> Path | None:
        return path.expanduser() if path is not None else None

    @field_validator("home", "train_dir", mode="after")
    @classmethod
    def _not_a_file(cls, folder: Path | None) -> Path | None:
        # A folder that does not exist yet is fine: home is created on first use, and the
        # training folder is read on the worker that trains, which may mount it elsewhere.
        if folder is not None and folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
        return folder

    @field_validator("pretrained", mode="after")
    @classmethod
    def _pretrained_is_a_file(cls, path: Path | None) -> Path | None:
        # A missing file is reported where weights are looked for (a worker may never need them).
        if path is not None and path.is_dir():
            raise ValueError(f"{path} is a folder; give the weights file itself")
        return path

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, url: str, info: ValidationInfo) -> str:
        if not url:
            home = info.data.get("home")
            return f"sqlite:///{(home or _default_home()) / 'mobilabel.db'}"
        # Parsed here (SQLAlchemy, no driver loaded) so a typo fails at load, not deep inside a run.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ValueError(
                f"not a database URL SQLAlchemy knows ({exc}); e.g. sqlite:///path/to/file.db or postgresql://user@host/db"
            ) from None
        return url

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            # Comma-separated; the older `:`-separated list of folders still works (a URI holds a `:` itself).
            separator = "," if "," in value or "://" in value else os.pathsep
            try:
                return tuple(source_path(part.strip()) for part in value.split(separator) if part.strip())
            except ObjectUriError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("allowed_roots", mode="after")
    @classmethod
    def _roots_are_folders(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        resolved = tuple(root if isinstance(root, ObjectPath) else root.expanduser().resolve() for root in roots)
        missing = [str(root) for root in resolved if not isinstance(root, ObjectPath) and not root.is_dir()]
        if missing:
            raise ValueError(f"not a folder: {', '.join(missing)} (give comma-separated folders or s3://bucket/prefix)")
        return resolved

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("allowed_hosts", mode="after")
    @classmethod
    def _host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        # As TrustedHostMiddleware matches them: a name without port, or *.domain for its sub-domains.
        bad = [h for h in hosts if not re.fullmatch(r"(\*|(\*\.)?[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])", h)]
        if bad:
            raise ValueError(
                f"not a host name: {', '.join(bad)} (give names without scheme or port, e.g. labels.example.org or *.example.org)"
            )
        return tuple(h.lower() for h in hosts)

    @field_validator("schedule", mode="after")
    @classmethod
    def _schedule_shape(cls, schedule: str) -> str:
        # The cron fields' values are checked by the scheduler, which builds the schedule.
        schedule = schedule.strip()
        if schedule and not re.fullmatch(r"\d+(\.\d+)?", schedule) and len(schedule.split()) != 5:
            raise ValueError("give seconds between runs (e.g. 86400) or a cron expression of five fields (e.g. '0 3 * * *')")
        return schedule


def load_settings() -> Settings:
    """The settings from the environment now.

    Raises SettingsError naming each variable whose value cannot be used and what it allows.
    """
    renamed = _read_renamed()
    values: dict[str, Any] = {field: value for field, (_, value) in renamed.items()}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(mask_secrets("; ".join(_describe(error, renamed) for error in exc.errors()))) from None


def _read_renamed() -> dict[str, tuple[str, str]]:
    """Values set under an old name (``RENAMED``) whose new name is unset: field -> (old name, value).
    Each old name found is warned about once per process, in one line."""
    found = {}
    for old, new in RENAMED.items():
        if not os.environ.get(old):
            continue
        if old not in _warned_renamed:
            _warned_renamed.add(old)
            log.warning("%s is renamed %s: set %s instead (the old name is read only while the new one is unset)", old, new, new)
        if not os.environ.get(new):
            found[new.removeprefix(ENV_PREFIX).lower()] = (old, os.environ[old])
    return found


def env_variable(field: str) -> str:
    """The environment variable that sets ``field`` of ``Settings`` (``broker_url``: MOBILABEL_BROKER_URL)."""
    return ENV_PREFIX + field.upper()


def _describe(error: Any, renamed: dict[str, tuple[str, str]]) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    variable = (renamed[field][0] if field in renamed else env_variable(field)) if field else "a MOBILABEL_ setting"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch" and error["loc"] and error["loc"][0] == "device":
        message = "choose cpu, cuda, cuda:N or auto"
    elif error["type"] == "string_pattern_mismatch":
        message = "give a URL such as redis://host:6379/0"
    return f"{variable}={error.get('input')!r}: {message}"
