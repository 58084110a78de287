"""Settings, read from ``MOBILABEL_*`` environment variables in this one place.

Defaults work embedded: a SQLite file under the data folder, no server needed.
Settings are read anew on each call so that tests (and long-running workers
started by tests) see the environment they were given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(f"MOBILABEL_{name}", "").strip()
    return value if value else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"MOBILABEL_{name} must be a whole number, got {raw!r}") from None


def _env_float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"MOBILABEL_{name} must be a number, got {raw!r}") from None


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default)
    if value not in choices:
        raise ValueError(f"MOBILABEL_{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def available_cores() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "mobilabel"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    broker_url: str
    broker_configured: bool  # MOBILABEL_BROKER_URL set, rather than the default: distributed use
    redis_prefix: str
    pretrained: Path | None
    allowed_roots: tuple[Path, ...]
    max_image_pixels: int
    batch_size: int
    decode_threads: int
    decoder: str
    threads: int
    engine: str
    device: str
    top_k: int
    chunk_size: int
    chunk_deadline_s: float
    queued_grace_s: float
    sweep_interval_s: float
    db_patience_s: float
    db_lock_timeout_s: float
    max_redeliveries: int
    visibility_timeout_s: int
    model_refresh_s: float
    metrics_port: int
    schedule: str
    train_dir: Path | None
    train_queue: str
    # The HTTP API (`mobilabel serve`).
    api_token: str = ""
    max_upload_bytes: int = 32 * 1024 * 1024
    predict_max_batch: int = 32
    predict_max_wait_ms: float = 5.0
    cors_origins: tuple[str, ...] = ()
    tta: str = "off"  # test-time augmentation at labelling time: "off" or "flip"

    @property
    def model_cache_dir(self) -> Path:
        return self.home / "models"


def load_settings() -> Settings:
    home = Path(_env("HOME", str(_default_home()))).expanduser()
    roots = _env("ALLOWED_ROOTS", "")
    pretrained = _env("PRETRAINED", "")
    train_dir = _env("TRAIN_DIR", "")
    return Settings(
        home=home,
        database_url=_env("DATABASE_URL", f"sqlite:///{home / 'mobilabel.db'}"),
        broker_url=_env("BROKER_URL", "redis://localhost:6379/0"),
        broker_configured=bool(_env("BROKER_URL", "")),
        redis_prefix=_env("REDIS_PREFIX", "mobilabel:"),
        pretrained=Path(pretrained).expanduser() if pretrained else None,
        allowed_roots=tuple(
            Path(r).expanduser().resolve() for r in roots.split(os.pathsep) if r.strip()
        ),
        max_image_pixels=_env_int("MAX_IMAGE_PIXELS", 89_478_485),
        batch_size=_env_int("BATCH_SIZE", 0),  # 0: chosen by device (pipeline.build)
        decode_threads=_env_int("DECODE_THREADS", available_cores()),
        decoder=_env("DECODER", "torchvision"),
        threads=_env_int("THREADS", 0),
        engine=_env("ENGINE", "auto"),
        device=_env("DEVICE", "auto"),
        top_k=_env_int("TOP_K", 5),
        chunk_size=_env_int("CHUNK_SIZE", 128),
        chunk_deadline_s=_env_float("CHUNK_DEADLINE_S", 300.0),
        queued_grace_s=_env_float("QUEUED_GRACE_S", 60.0),
        sweep_interval_s=_env_float("SWEEP_INTERVAL_S", 30.0),
        db_patience_s=_env_float("DB_PATIENCE_S", 120.0),
        db_lock_timeout_s=_env_float("DB_LOCK_TIMEOUT_S", 30.0),
        max_redeliveries=_env_int("MAX_REDELIVERIES", 3),
        visibility_timeout_s=_env_int("VISIBILITY_TIMEOUT_S", 3600),
        model_refresh_s=_env_float("MODEL_REFRESH_S", 2.0),
        metrics_port=_env_int("METRICS_PORT", 0),
        schedule=_env("SCHEDULE", ""),
        train_dir=Path(train_dir).expanduser() if train_dir else None,
        train_queue=_env("TRAIN_QUEUE", "cpu"),
        api_token=_env("API_TOKEN", ""),
        max_upload_bytes=_env_int("MAX_UPLOAD_BYTES", 32 * 1024 * 1024),
        predict_max_batch=_env_int("PREDICT_MAX_BATCH", 32),
        predict_max_wait_ms=_env_float("PREDICT_MAX_WAIT_MS", 5.0),
        cors_origins=tuple(o.strip() for o in _env("CORS_ORIGINS", "").split(",") if o.strip()),
        tta=_env_choice("TTA", "off", ("off", "flip")),
    )
