"""Fixtures on real components: a Postgres server, a Temporal dev server, an SMTP sink
and a webhook receiver on loopback.

Postgres is the server at DATABASE_URL when set, else an embedded one in
var/test-postgres. Each test gets its own database, cloned from a migrated template,
and its own Temporal task queue, so tests can't see each other's rows or workflows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from campaign_api.main import create_app
from delivery_worker.worker import build_worker
from devtools.smtp_sink import SmtpSink
from devtools.webhook_receiver import WebhookReceiver
from shared.db.migrations import apply_migrations
from shared.db.pool import create_pool
from shared.db.server import start_embedded_server, with_database
from shared.logs import configure_logging
from shared.settings import PROJECT_ROOT, Settings
from shared.temporal import SEARCH_ATTRIBUTES, temporal_cli_path
from tests.factories import Directory
from tests.tzfiles import install_zones

WEBHOOK_SECRET = "test-webhook-secret"

configure_logging(level=os.environ.get("LOG_LEVEL", "WARNING"))


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return start_embedded_server(PROJECT_ROOT / "var" / "test-postgres")


@pytest.fixture(scope="session")
async def template_database(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """Create a freshly migrated template database once per test session.

    The name is unique per session, so two test runs against one server don't
    drop each other's template.
    """
    name = f"campaigns_template_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(with_database(postgres_admin_dsn, name))
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    yield name
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(postgres_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    name = f"campaigns_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield with_database(postgres_admin_dsn, name)
    admin = await asyncpg.connect(postgres_admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
async def smtp_sink(tmp_path: Path) -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(mail_dir=tmp_path / "mail")
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@pytest.fixture
def settings(database_url: str, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        database_url=database_url,
        task_queue=f"test-{uuid.uuid4().hex}",
        smtp_port=smtp_sink.port,
        delivery_batch_size=50,
        delivery_concurrency=10,
        delivery_initial_backoff_seconds=0.05,
        delivery_max_backoff_seconds=0.5,
        delivery_max_attempts=3,
        # Lets recurring campaigns fire every second or two.
        recurring_min_interval_minutes=1 / 60,
    )


@pytest.fixture
async def worker(temporal_client: Client, pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[None]:
    async with build_worker(client=temporal_client, pool=pool, settings=settings) as worker:
        async with worker:
            yield


@pytest.fixture
async def api(pool: asyncpg.Pool, temporal_client: Client, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings=settings, pool=pool, temporal_client=temporal_client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


# Zones a few seconds apart, for watching local-time waves arrive in a test.
TEST_ZONES = {"Test/Ahead13s": 13, "Test/Behind4s": -4, "Test/Behind9s": -9}


@pytest.fixture(scope="session")
def test_zones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    install_zones(tmp_path_factory.mktemp("zoneinfo"), TEST_ZONES)
    return TEST_ZONES


@pytest.fixture
def directory(pool: asyncpg.Pool) -> Directory:
    return Directory(pool, webhook_secret=WEBHOOK_SECRET)
