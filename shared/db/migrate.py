"""Apply pending migrations: ``python -m shared.db.migrate`` (reads DATABASE_URL)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from shared.db.migrations import apply_migrations
from shared.logs import configure_logging
from shared.settings import get_settings

log = structlog.get_logger(__name__)


async def main() -> None:
    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set; point it at the campaign database")
    connection = await asyncpg.connect(settings.database_url)
    try:
        applied = await apply_migrations(connection)
    finally:
        await connection.close()
    log.info("migrations.done", applied=applied)


if __name__ == "__main__":
    asyncio.run(main())
