"""Settings, read from ``MOBILABEL_*`` environment variables in this one place, typed and checked at load.

Defaults work embedded: a SQLite file under the data folder, no server needed.
Settings are read anew on each ``load_settings()`` call so that tests (and
long-running workers started by tests) see the environment they were given; one
``Settings`` object is then passed down. An unset or empty variable takes its default.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import MobilabelError
from .logs import mask_secrets

ENV_PREFIX = "MOBILABEL_"
EngineName = Literal["auto", "torch", "onnx"]
DecoderName = Literal["torchvision", "pillow"]
# The Celery queues: the broker module builds them from these names.
QueueName = Literal["cpu", "gpu"]
# cpu, auto, cuda, or one GPU as cuda:N (PyTorch's device strings).
_DEVICE = r"auto|cpu|cuda(:\d+)?"
_BROKER_URL = r"[A-Za-z][A-Za-z0-9+.-]*://.*"


class SettingsError(MobilabelError):
    """A ``MOBILABEL_*`` variable with a value that cannot be used; the message names it and what is allowed."""


def available_cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "mobilabel"


class Settings(BaseSettings):
    """Every setting, each from ``MOBILABEL_<FIELD NAME>`` (README's Configuration table explains each)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    home: Path = Field(default_factory=_default_home)
    database_url: str = Field("", validate_default=True)  # "": SQLite under home
    broker_url: str = Field("redis://localhost:6379/0", pattern=_BROKER_URL)
    redis_prefix: str = "mobilabel:"
    pretrained: Path | None = None
    allowed_roots: Annotated[tuple[Path, ...], NoDecode] = ()
    max_image_pixels: int = Field(89_478_485, ge=1)
    batch_size: int = Field(0, ge=0)  # 0: chosen by device (pipeline.build)
    decode_threads: int = Field(default_factory=available_cores, ge=1)
    decoder: DecoderName = "torchvision"
    refine_margin: float = Field(0.01, ge=0, le=1)  # a reduced decode's near tie is decoded again at full size; 0: never
    threads: int = Field(0, ge=0)  # 0: a lane per core (pipeline.build)
    engine: EngineName = "auto"
    device: str = Field("auto", pattern=rf"^({_DEVICE})$")
    top_k: int = Field(5, ge=1)
    chunk_size: int = Field(128, ge=1)
    chunk_deadline_s: float = Field(300.0, gt=0)
    queued_grace_s: float = Field(60.0, gt=0)
    sweep_interval_s: float = Field(30.0, gt=0)
    db_patience_s: float = Field(120.0, ge=0)
    heartbeat_s: float = Field(
        10.0, gt=0,
        description="Seconds between the heartbeats of a job's or training run's owner and of the active scheduler; "
        "an owner silent for three heartbeats is taken as gone, and what it held is failed or taken over.",
    )  # fmt: skip
    db_lock_timeout_s: float = Field(30.0, gt=0)
    max_redeliveries: int = Field(3, ge=0)
    visibility_timeout_s: int = Field(3600, ge=1)
    model_refresh_s: float = Field(2.0, ge=0)
    metrics_port: int = Field(0, ge=0, le=65535)
    schedule: str = ""
    train_dir: Path | None = None
    train_queue: QueueName = "cpu"
    # The HTTP API (`mobilabel serve`).
    api_token: str = ""
    max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1)
    predict_max_batch: int = Field(32, ge=1)
    predict_max_wait_ms: float = Field(5.0, ge=0)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()  # comma-separated
    tta: Literal["off", "flip"] = "off"  # test-time augmentation at labelling time

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
            raise ValueError(f"not a database URL SQLAlchemy knows ({exc}); e.g. sqlite:///path/to/file.db or postgresql://user@host/db") from None
        return url

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part for part in value.split(os.pathsep) if part.strip())
        return value

    @field_validator("allowed_roots", mode="after")
    @classmethod
    def _roots_are_folders(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        resolved = tuple(root.expanduser().resolve() for root in roots)
        missing = [str(root) for root in resolved if not root.is_dir()]
        if missing:
            raise ValueError(f"not a folder: {', '.join(missing)} (give {os.pathsep}-separated folders)")
        return resolved

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

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
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(mask_secrets("; ".join(_describe(error) for error in exc.errors()))) from None


def _describe(error: Any) -> str:
    variable = ENV_PREFIX + str(error["loc"][0]).upper() if error["loc"] else "a MOBILABEL_ setting"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch" and error["loc"] and error["loc"][0] == "device":
        message = "choose cpu, cuda, cuda:N or auto"
    elif error["type"] == "string_pattern_mismatch":
        message = "give a URL such as redis://host:6379/0"
    return f"{variable}={error.get('input')!r}: {message}"
