"""Typed settings, split per concern, every field documented.

Every variable carries the ``OJA_`` prefix. In production (``OJA_ENV=production``) :func:`get_settings`
refuses unsafe defaults and names the variable to set; in development a random secret key is created once
and kept under ``OJA_VAR_DIR`` so tokens survive restarts.

One :class:`Settings` object, read once by the process's entry point and held by its runtime, is the only
way in: kernel sections are attributes, feature sections are looked up by type
(``settings.section(ChatSettings)``) because the kernel must not import the features above it. Each
section is built once per :class:`Settings` from the same environment and the same keyword overrides, so
a test configures everything with ``Settings(chat_wait_seconds=0, ...)`` and no module keeps a copy of
its own. Nothing is read at import time except what a job module declares for the worker and beat (a job
kind's time limit, a periodic interval), read from the environment when they import it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsSection(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OJA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        use_attribute_docstrings=True,
    )


class AppSettings(SettingsSection):
    env: Literal["development", "test", "production"] = "development"
    """Deployment environment; `production` refuses unsafe defaults at start-up."""
    debug: bool = False
    """Verbose errors and SQL echo. Never on in production."""
    secret_key: str | None = None
    """Signing key for tokens and signed URLs (at least 32 bytes). Development generates one under OJA_VAR_DIR."""
    var_dir: Path = Path("./var")
    """Folder for embedded state: SQLite database, queue, storage, generated secret."""
    public_url: str = "http://127.0.0.1:8000"
    """Base URL clients use to reach the API; used to build links such as signed download URLs."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed by CORS (JSON list). `["*"]` is refused in production together with credentials."""
    cors_allow_credentials: bool = True
    """Whether CORS responses allow credentials."""
    max_body_bytes: int = 1_048_576
    """Largest request body accepted by ordinary (non-upload) routes; larger bodies get 413."""
    log_level: str = "INFO"
    """Root log level."""
    log_json: bool = True
    """JSON log lines (otherwise a console renderer for local reading)."""


class DatabaseSettings(SettingsSection):
    database_url: str | None = None
    """SQLAlchemy async URL. Default: SQLite in OJA_VAR_DIR; production: `postgresql+asyncpg://…`."""
    database_pool_size: int = 20
    """Connections a process may open and keeps open (PostgreSQL); beyond them requests wait for one in arrival order, each up to `OJA_DATABASE_POOL_TIMEOUT`, then answers 503 (none is opened for a burst and closed after it)."""
    database_pool_timeout: float = Field(default=5.0, gt=0)
    """Seconds a request waits for a free database connection (PostgreSQL) before answering 503."""
    database_echo: bool = False
    """Log every SQL statement."""


class QueueSettings(SettingsSection):
    broker_url: str | None = None
    """Celery broker: `filesystem://` (default, under OJA_VAR_DIR/queue), `redis://…` or `amqp://…`."""
    broker_polling_interval: float = 0.05
    """Seconds between polls of the filesystem broker."""
    job_default_timeout: float = 300.0
    """Seconds a job may run before it is stopped, unless its kind sets its own."""
    job_max_attempts: int = 5
    """Attempts before a job is marked failed."""
    job_retry_base_delay: float = 2.0
    """First retry delay in seconds; doubles each attempt, with full jitter."""
    job_retry_max_delay: float = 300.0
    """Upper bound for a retry delay in seconds."""
    job_lease_grace: float = 30.0
    """Seconds past a job's timeout before its lease expires and another worker may take it over."""
    job_requeue_after: float = 30.0
    """A queued job not started after this many seconds is published again by the sweeper."""
    sweeper_interval: float = 10.0
    """Seconds between sweeper runs (beat)."""
    worker_concurrency: int = 2
    """Worker processes started by `oja worker` / `oja serve`."""
    worker_imports: list[str] = Field(default_factory=list)
    """Extra modules the worker imports for their job definitions (JSON list)."""
    worker_heartbeat_interval: float = 2.0
    """Seconds between a worker's heartbeats (a file under OJA_VAR_DIR, and Redis when configured)."""
    worker_heartbeat_max_age: float = 15.0
    """A worker heartbeat older than this many seconds counts as a dead worker."""
    worker_heartbeat_required: bool = False
    """`/readyz` answers 503 `worker` without a fresh worker heartbeat. `oja serve` turns it on when it runs its own worker; turn it on for API replicas whose workers share OJA_REDIS_URL."""
    worker_stop_grace: float = 10.0
    """Seconds a worker or beat gets to stop after SIGTERM (from `oja serve`, or because its parent died) before SIGKILL."""


class RedisSettings(SettingsSection):
    redis_url: str | None = None
    """Redis for cache, rate limits, quotas and streams. Unset: in-process equivalents."""
    redis_max_connections: int = 100
    """Connections each Redis pool of a process may open; beyond them a request waits for one."""
    redis_pool_timeout: float = 2.0
    """Seconds a request waits for a free Redis connection before answering 503."""


class StorageSettings(SettingsSection):
    storage_url: str | None = None
    """`file:///path` (default: OJA_VAR_DIR/storage) or `s3://bucket/prefix`."""
    s3_endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO, moto); unset for AWS."""
    s3_region: str = "us-east-1"
    """S3 region."""
    s3_access_key_id: str | None = None
    """S3 access key id (else the default AWS credential chain)."""
    s3_secret_access_key: str | None = None
    """S3 secret access key."""
    signed_url_ttl: int = 900
    """Seconds a signed download URL stays valid."""


class HttpSettings(SettingsSection):
    http_timeout: float = 10.0
    """Default timeout in seconds for outbound HTTP calls."""
    http_retries: int = 2
    """Retries for idempotent outbound calls on connection errors, 429 and 5xx."""
    http_allow_private_hosts: list[str] = Field(default_factory=list)
    """Hosts a user-supplied URL may name even though they resolve to a private address (the sandbox)."""


S = TypeVar("S", bound=SettingsSection)


class Settings:
    """Every section, read from the environment with ``overrides`` (field name → value) on top.

    Entry points read it once (:func:`get_settings`) and hand it to the runtime; code reaches it as
    ``runtime.settings``, a request through its module's settings dependency, a job as
    ``ctx.runtime.settings``.
    """

    def __init__(self, **overrides: Any) -> None:
        self._overrides = overrides
        self._sections: dict[type[SettingsSection], SettingsSection] = {}
        self.app = self.section(AppSettings)
        self.db = self.section(DatabaseSettings)
        self.queue = self.section(QueueSettings)
        self.redis = self.section(RedisSettings)
        self.storage = self.section(StorageSettings)
        self.http = self.section(HttpSettings)

    def section(self, cls: type[S]) -> S:
        """The ``cls`` section of these settings, built on first use and kept."""
        found = self._sections.get(cls)
        if found is None:
            fields = {k: v for k, v in self._overrides.items() if k in cls.model_fields}
            found = self._sections[cls] = cls(**fields)
        return cast(S, found)

    def replace(self, **overrides: Any) -> Settings:
        """New settings with these fields changed, the rest read again as these were."""
        changed = Settings(**{**self._overrides, **overrides})
        if changed.app.secret_key is None:
            changed.app.secret_key = self.app.secret_key  # what validate() made in development
        changed.load_sections()
        return changed

    def load_sections(self) -> None:
        """Build every section declared so far, so that an invalid value fails now (at start-up),
        and refuse an override no section has (a misspelt name would otherwise change nothing)."""
        sections = all_sections()
        known = {name for cls in sections for name in cls.model_fields}
        unknown = sorted(set(self._overrides) - known)
        if unknown:
            raise TypeError(f"no settings section has the field(s) {', '.join(unknown)}")
        for cls in sections:
            self.section(cls)

    @property
    def sections(self) -> list[SettingsSection]:
        """Every section declared so far (kernel and imported feature modules)."""
        return [self.section(cls) for cls in all_sections()]

    @property
    def is_production(self) -> bool:
        return self.app.env == "production"

    @property
    def database_url(self) -> str:
        if self.db.database_url:
            return self.db.database_url
        return f"sqlite+aiosqlite:///{(self.app.var_dir / 'oja.db').resolve()}"

    @property
    def broker_url(self) -> str:
        return self.queue.broker_url or "filesystem://"

    @property
    def queue_dir(self) -> Path:
        return self.app.var_dir / "queue"

    @property
    def storage_url(self) -> str:
        if self.storage.storage_url:
            return self.storage.storage_url
        return (self.app.var_dir / "storage").resolve().as_uri()

    @property
    def secret_key(self) -> str:
        assert self.app.secret_key is not None, "validate() fills the secret key"
        return self.app.secret_key

    def validate(self) -> None:
        """Build every section known so far; refuse unsafe production defaults; in development make
        and keep a secret key."""
        self.load_sections()
        if self.is_production:
            problems = []
            if not self.app.secret_key:
                problems.append("OJA_SECRET_KEY must be set in production")
            elif len(self.app.secret_key.encode()) < 32:
                problems.append("OJA_SECRET_KEY must be at least 32 bytes")
            if self.app.debug:
                problems.append("OJA_DEBUG must be off in production")
            if "*" in self.app.cors_origins and self.app.cors_allow_credentials:
                problems.append(
                    "OJA_CORS_ORIGINS must not be '*' while OJA_CORS_ALLOW_CREDENTIALS is on"
                )
            if problems:
                raise UnsafeSettingsError("; ".join(problems))
            return
        if not self.app.secret_key:
            self.app.secret_key = _development_secret(self.app.var_dir)
        elif len(self.app.secret_key.encode()) < 32:
            raise UnsafeSettingsError("OJA_SECRET_KEY must be at least 32 bytes")


class UnsafeSettingsError(RuntimeError):
    """Raised at start-up when production settings are unsafe."""


def _development_secret(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (API or worker) won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def get_settings() -> Settings:
    """The settings of the environment, validated: what an entry point (API, worker, CLI) starts with.

    Not cached: an entry point reads it once and hands it down (:class:`~oja.core.runtime.Runtime`
    holds it), so a test changes settings by building its own, never by clearing a cache.
    """
    settings = Settings()
    settings.validate()
    return settings


def all_sections() -> list[type[SettingsSection]]:
    """Every settings class declared so far (kernel and imported feature modules), by name."""
    found: dict[str, type[SettingsSection]] = {}
    pending = list(SettingsSection.__subclasses__())
    while pending:
        cls = pending.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        pending.extend(cls.__subclasses__())
    return [found[name] for name in sorted(found)]


def settings_markdown(sections: list[type[SettingsSection]]) -> str:
    """The environment-variable table of the README, generated from the field docstrings."""
    lines = ["| Variable | Default | What it does |", "| --- | --- | --- |"]
    seen: set[str] = set()
    for cls in sections:
        prefix = str(cls.model_config.get("env_prefix") or "OJA_")
        for name, field in cls.model_fields.items():
            variable = f"{prefix}{name}".upper()
            if variable in seen:
                continue
            seen.add(variable)
            default = field.get_default(call_default_factory=True)
            shown = "—" if default in (None, [], {}) else f"`{default}`"
            # A docstring wraps over lines; a markdown table row must not.
            description = " ".join((field.description or "").split()).replace("|", "\\|")
            lines.append(f"| `{variable}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"
