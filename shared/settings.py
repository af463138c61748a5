"""Process settings, read from the environment (prefix-free names such as DATABASE_URL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Settings shared by the API, the delivery worker and the tools.

    There are no default secrets: signing secrets live per team in the database and
    API tokens are stored hashed.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="Postgres DSN. When unset, the development tools start an embedded server.",
    )
    database_pool_min_size: int = Field(default=1, ge=0)
    database_pool_max_size: int = Field(default=10, ge=1)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "campaign-delivery"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "campaigns@localhost"

    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Open connections per worker process for webhooks, shared by all batches.
    # httpx checks every pooled connection on each request, so a large pool costs
    # CPU per send; see docs/benchmarks.md for the measurements behind the default.
    webhook_max_connections: int = Field(default=20, ge=1, le=1000)

    # Delivery tuning. A batch activity handles up to `delivery_batch_size` recipients
    # and sends at most `delivery_concurrency` of them at once.
    delivery_batch_size: int = Field(default=500, ge=1, le=5000)
    delivery_concurrency: int = Field(default=50, ge=1, le=1000)
    delivery_parallel_batches: int = Field(default=4, ge=1, le=100)
    # Attempts per recipient for transient channel errors, inside one batch activity.
    delivery_max_attempts: int = Field(default=5, ge=1, le=20)
    delivery_initial_backoff_seconds: float = Field(default=1.0, ge=0)
    delivery_max_backoff_seconds: float = Field(default=60.0, gt=0)
    # On SIGTERM the worker stops polling and gives running batch activities this
    # long to finish their current chunk before cancelling them.
    worker_graceful_shutdown_seconds: float = Field(default=30.0, ge=0)

    # Shortest interval between fires of a recurring campaign. Tests lower it to
    # fire every few seconds.
    recurring_min_interval_minutes: float = Field(default=15.0, gt=0)
    # A series workflow continues as new after this many runs, or earlier when
    # Temporal suggests it.
    series_continue_as_new_after_runs: int = Field(default=500, ge=1)

    # The API starts, at startup, the workflows of runs that were committed this long
    # ago without a confirmed workflow start (the process died in between).
    run_start_recovery_age_seconds: float = Field(default=30.0, ge=0)

    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()
