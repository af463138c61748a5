"""The FastAPI application and its lifespan: the database pool and the Temporal client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import structlog
from fastapi import FastAPI
from temporalio.client import Client

from campaign_api.audit.routes import router as audit_router
from campaign_api.campaign_management.routes import router as campaign_management_router
from campaign_api.campaigns.routes import router as campaigns_router
from campaign_api.campaigns.series import recover_unstarted_series
from campaign_api.campaigns.actions import recover_unstarted_runs
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.csv_recipients.routes import router as csv_recipients_router
from campaign_api.directory.routes import router as directory_router
from campaign_api.errors import install_error_handlers
from shared.db.pool import create_pool
from shared.logs import configure_logging
from shared.settings import Settings, get_settings
from shared.temporal import connect

log = structlog.get_logger(__name__)


def create_app(
    *, settings: Settings | None = None, pool: asyncpg.Pool | None = None, temporal_client: Client | None = None
) -> FastAPI:
    """Build the app. Tests pass their own pool and client; the app then leaves them open."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_pool = pool is None
        if pool is None:
            if not settings.database_url:
                raise RuntimeError("DATABASE_URL is not set; point it at the campaign database")
            app.state.pool = await create_pool(
                settings.database_url,
                min_size=settings.database_pool_min_size,
                max_size=settings.database_pool_max_size,
            )
        else:
            app.state.pool = pool
        client = temporal_client or await connect(settings.temporal_address, settings.temporal_namespace)
        app.state.launcher = RunLauncher(client, task_queue=settings.task_queue)
        app.state.settings = settings
        recovered = await recover_unstarted_runs(
            app.state.pool, app.state.launcher, older_than_seconds=settings.run_start_recovery_age_seconds
        )
        recovered_series = await recover_unstarted_series(
            app.state.pool, app.state.launcher, settings, older_than_seconds=settings.run_start_recovery_age_seconds
        )
        log.info("api.started", recovered_runs=recovered, recovered_series=recovered_series)
        try:
            yield
        finally:
            if owned_pool:
                await app.state.pool.close()
            log.info("api.stopped")

    app = FastAPI(
        title="Campaign orchestrator API",
        version="1.0.0",
        description="Create campaigns, send them over email or webhooks, and follow every delivery.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(directory_router)
    app.include_router(campaigns_router)
    app.include_router(campaign_management_router)
    app.include_router(csv_recipients_router)
    app.include_router(audit_router)

    @app.get("/healthz", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_environment() -> FastAPI:
    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    return create_app(settings=settings)
