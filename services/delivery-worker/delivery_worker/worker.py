"""Assemble the Temporal worker: workflows, activities and their shared resources."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from delivery_worker.activities import DeliveryActivities
from delivery_worker.channels.registry import ChannelRegistry
from shared.settings import Settings
from delivery_worker.series import SeriesActivities
from workflows.campaign_run import CampaignRunWorkflow
from workflows.campaign_series import CampaignSeriesWorkflow
from workflows.delivery_retry import DeliveryRetryWorkflow

WORKFLOWS = [CampaignRunWorkflow, CampaignSeriesWorkflow, DeliveryRetryWorkflow]


@contextlib.asynccontextmanager
async def build_worker(
    *, client: Client, pool: asyncpg.Pool, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[Worker]:
    """Yield a worker that is not yet running; the caller runs it (``async with worker``)."""
    channels = ChannelRegistry(settings)
    activities = DeliveryActivities(pool=pool, settings=settings, channels=channels)
    series = SeriesActivities(pool=pool)
    try:
        yield Worker(
            client,
            task_queue=task_queue or settings.task_queue,
            workflows=WORKFLOWS,
            activities=[
                activities.prepare_run,
                activities.record_stage,
                activities.deliver_batch,
                activities.finish_run,
                series.plan_next_fire,
                series.create_series_run,
            ],
            # Batch activities are I/O bound and concurrent inside; a few at a time
            # per process keeps the connection pool from being exhausted.
            max_concurrent_activities=settings.delivery_parallel_batches * 4,
            graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
        )
    finally:
        await channels.aclose()
