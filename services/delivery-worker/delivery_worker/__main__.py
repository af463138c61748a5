"""Run the delivery worker: ``python -m delivery_worker``."""

from __future__ import annotations

import asyncio
import signal

import structlog

from delivery_worker.worker import build_worker
from shared.db.pool import create_pool
from shared.logs import configure_logging
from shared.settings import get_settings
from shared.temporal import connect

log = structlog.get_logger("delivery_worker")


async def main() -> None:
    settings = get_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set; point it at the campaign database")
    pool = await create_pool(
        settings.database_url, min_size=settings.database_pool_min_size, max_size=settings.database_pool_max_size
    )
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with build_worker(client=client, pool=pool, settings=settings) as worker:
        async with worker:
            log.info("worker.started", task_queue=settings.task_queue, namespace=settings.temporal_namespace)
            await stop.wait()
            log.info("worker.stopping")
    await pool.close()
    log.info("worker.stopped")


if __name__ == "__main__":
    asyncio.run(main())
