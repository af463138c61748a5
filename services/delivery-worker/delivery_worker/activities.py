"""Delivery activities: prepare a run, deliver one batch, record stages, finish a run."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from delivery_worker import repository
from delivery_worker.channels import (
    ChannelAdapter,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from delivery_worker.channels.registry import ChannelRegistry
from delivery_worker import planning
from shared.domain import DeliveryStatus, RunStatus, unreachable_reason
from shared.settings import Settings
from shared.templating import (
    CSV_VARIABLE,
    NOT_IN_CSV_LIST_REASON,
    CompiledTemplate,
    CsvValues,
    TemplateRenderError,
    profile_variables,
)
from workflows.campaign_run import STAGE_SENDING, STAGE_WAITING_FOR_NEXT_BATCH, STAGE_WAITING_UNTIL
from workflows.types import (
    CampaignRunResult,
    DeliverBatchInput,
    DeliverBatchResult,
    FinishRunInput,
    PrepareRunInput,
    RecordStageInput,
    RunPlan,
)

log = structlog.get_logger(__name__)

# Why an email found mid-send after a crash is not sent again: SMTP can't tell us
# whether the first attempt went through, and a second copy is worse than a retry
# that someone starts on purpose.
OUTCOME_UNKNOWN = "delivery outcome unknown after an interrupted send; retry to send again"


class DeliveryActivities:
    """Activity implementations. One instance per worker process, sharing a pool."""

    def __init__(self, *, pool: asyncpg.Pool, settings: Settings, channels: ChannelRegistry) -> None:
        self._pool = pool
        self._settings = settings
        self._channels = channels

    @activity.defn(name="prepare_run")
    async def prepare_run(self, input: PrepareRunInput) -> RunPlan:
        """Write the run's delivery rows once and return its waves.

        Idempotent: a retry after a crash finds the rows already written and returns
        the same plan. The repeatable-read transaction makes the zone count and the
        insert see the same directory, even while groups change.
        """
        now = datetime.now(UTC)
        async with self._pool.acquire() as connection:
            context = await self._run_context(connection, input.run_id)
            default_zone = context.team_default_timezone
            async with connection.transaction(isolation="repeatable_read"):
                # Serialize concurrent attempts on the run row.
                await connection.execute("SELECT 1 FROM campaign_runs WHERE id = $1 FOR UPDATE", input.run_id)
                if await repository.count_deliveries(connection, input.run_id) == 0:
                    zone_counts = await repository.recipient_zone_counts(connection, context)
                    assignment = planning.assign_waves(
                        schedule=context.schedule,
                        recipients_source=context.recipients_source,
                        zone_counts=zone_counts,
                        default_zone=default_zone,
                        now=now,
                    )
                    await repository.insert_deliveries(
                        connection,
                        context=context,
                        batch_size=self._settings.delivery_batch_size,
                        wave_by_zone=assignment.wave_by_zone,
                        skipped_waves=assignment.skipped_waves,
                        skipped_reason=planning.PASSED_TIME_SKIP_REASON,
                        unreachable_reason=unreachable_reason(context.channel),
                        default_zone=default_zone,
                    )
                waves = [
                    planning.WaveRows(
                        wave=r["wave"],
                        first_batch=r["first_batch"],
                        batch_count=r["batch_count"],
                        recipient_count=r["recipients"],
                        pending_count=r["pending"],
                        zones=list(r["zones"]),
                    )
                    for r in await repository.wave_rows(connection, input.run_id)
                ]
                recipients = sum(w.recipient_count for w in waves)
                batches = sum(w.batch_count for w in waves)
                await repository.mark_run_prepared(
                    connection, run_id=input.run_id, recipient_count=recipients, batch_count=batches
                )
        log.info(
            "run.prepared",
            run_id=input.run_id,
            campaign_id=context.campaign_id,
            team_id=context.team_id,
            recipients=recipients,
            batches=batches,
            waves=len(waves),
        )
        return planning.plan_waves(
            schedule=context.schedule,
            recipients_source=context.recipients_source,
            waves=waves,
            default_zone=default_zone,
            now=now,
            parallel_batches=self._settings.delivery_parallel_batches,
        )

    @activity.defn(name="record_stage")
    async def record_stage(self, input: RecordStageInput) -> None:
        if input.stage == STAGE_SENDING:
            run_status, campaign_status = RunStatus.SENDING, RunStatus.SENDING
        elif input.stage == STAGE_WAITING_UNTIL:
            run_status, campaign_status = RunStatus.SCHEDULED, RunStatus.SCHEDULED
        elif input.stage == STAGE_WAITING_FOR_NEXT_BATCH:
            run_status, campaign_status = RunStatus.SCHEDULED, RunStatus.SCHEDULED
        else:
            run_status, campaign_status = RunStatus.SENDING, None
        stage: dict[str, object] = {"name": input.stage}
        if input.due_at is not None:
            stage["due_at"] = input.due_at.isoformat()
        if input.wave_size is not None:
            stage["wave_size"] = input.wave_size
        async with self._pool.acquire() as connection:
            await repository.record_stage(
                connection,
                run_id=input.run_id,
                run_status=run_status,
                campaign_status=campaign_status,
                stage=stage,
            )

    @activity.defn(name="deliver_batch")
    async def deliver_batch(self, input: DeliverBatchInput) -> DeliverBatchResult:
        """Send every pending recipient of one batch and record each outcome.

        Recipients are claimed in chunks of ``delivery_concurrency`` and sent
        concurrently. The activity heartbeats every 10 seconds, also while a send
        waits out a backoff. Rows that an earlier attempt left mid-send are resent
        only on channels that deduplicate by idempotency key, and otherwise fail
        with a reason. With ``delivery_id`` set, only that delivery is sent.
        """
        info = activity.info()
        bound = log.bind(run_id=input.run_id, batch_no=input.batch_no, attempt=info.attempt)
        result = DeliverBatchResult()
        async with self._pool.acquire() as connection:
            context = await self._run_context(connection, input.run_id)
        bound = bound.bind(campaign_id=context.campaign_id, team_id=context.team_id)
        template = CompiledTemplate(subject=context.subject_template, body=context.body_template)
        channel = self._channels.open(context)

        if info.attempt > 1:
            async with self._pool.acquire() as connection:
                in_doubt = await repository.find_in_doubt(
                    connection, run_id=input.run_id, batch_no=input.batch_no, delivery_id=input.delivery_id
                )
            if in_doubt:
                bound.warning("delivery.in_doubt", count=len(in_doubt), resend=channel.supports_idempotency)
                if channel.supports_idempotency:
                    await self._send_chunk(in_doubt, context, template, channel, result, bound)
                else:
                    await self._record(
                        [repository.Outcome(d.id, DeliveryStatus.FAILED, OUTCOME_UNKNOWN, None) for d in in_doubt]
                    )
                    result.failed += len(in_doubt)

        async with _heartbeat_while_running(lambda: result.delivered + result.failed):
            await self._deliver_pending(input, context, template, channel, result, bound)

        bound.info("batch.delivered", delivered=result.delivered, failed=result.failed)
        return result

    async def _deliver_pending(
        self,
        input: DeliverBatchInput,
        context: repository.RunContext,
        template: CompiledTemplate,
        channel: ChannelAdapter,
        result: DeliverBatchResult,
        bound: structlog.stdlib.BoundLogger,
    ) -> None:
        while True:
            if activity.is_worker_shutdown():
                # The chunk in hand has been sent and recorded; the rest of the batch
                # goes to another worker when Temporal retries this activity.
                raise ApplicationError("the worker is shutting down; the batch continues on another worker")
            async with self._pool.acquire() as connection:
                if input.delivery_id is not None:
                    claimed = await repository.claim_one(connection, run_id=input.run_id, delivery_id=input.delivery_id)
                else:
                    claimed = await repository.claim_pending(
                        connection,
                        run_id=input.run_id,
                        batch_no=input.batch_no,
                        limit=self._settings.delivery_concurrency,
                    )
            if not claimed:
                break
            await self._send_chunk(claimed, context, template, channel, result, bound)

    @activity.defn(name="finish_run")
    async def finish_run(self, input: FinishRunInput) -> CampaignRunResult:
        async with self._pool.acquire() as connection:
            try:
                row = await repository.finish_run(connection, run_id=input.run_id, stopped=input.stopped)
            except repository.RunNotFound as error:
                raise ApplicationError(f"run {input.run_id} not found", type="RunNotFound", non_retryable=True) from error
        log.info(
            "run.finished",
            run_id=input.run_id,
            status=row["status"],
            delivered=row["delivered_count"],
            failed=row["failed_count"],
            skipped=row["skipped_count"],
        )
        return CampaignRunResult(
            run_id=input.run_id,
            status=row["status"],
            delivered=row["delivered_count"],
            failed=row["failed_count"],
            skipped=row["skipped_count"],
        )

    async def _run_context(self, connection: asyncpg.Connection, run_id: str) -> repository.RunContext:
        try:
            return await repository.fetch_run_context(connection, run_id)
        except repository.RunNotFound as error:
            raise ApplicationError(f"run {run_id} not found", type="RunNotFound", non_retryable=True) from error

    async def _send_chunk(
        self,
        deliveries: list[repository.ClaimedDelivery],
        context: repository.RunContext,
        template: CompiledTemplate,
        channel: ChannelAdapter,
        result: DeliverBatchResult,
        bound: structlog.stdlib.BoundLogger,
    ) -> None:
        outcomes = await asyncio.gather(
            *(self._send_one(d, context, template, channel, bound) for d in deliveries)
        )
        await self._record(list(outcomes))
        for outcome in outcomes:
            if outcome.status == DeliveryStatus.DELIVERED:
                result.delivered += 1
            else:
                result.failed += 1

    async def _send_one(
        self,
        delivery: repository.ClaimedDelivery,
        context: repository.RunContext,
        template: CompiledTemplate,
        channel: ChannelAdapter,
        bound: structlog.stdlib.BoundLogger,
    ) -> repository.Outcome:
        if template.uses_csv and delivery.csv_variables is None:
            # Sending would leave holes in the message, so the delivery fails instead.
            reason = NOT_IN_CSV_LIST_REASON
            bound.info("delivery.failed", delivery_id=delivery.id, user_id=delivery.user_id, reason=reason)
            return repository.Outcome(delivery.id, DeliveryStatus.FAILED, reason, None)
        variables: dict[str, object] = dict(
            profile_variables(first_name=delivery.first_name, last_name=delivery.last_name, email=delivery.email)
        )
        variables[CSV_VARIABLE] = CsvValues(**(delivery.csv_variables or {}))
        try:
            subject, body = template.render(variables)
        except TemplateRenderError as error:
            bound.warning("delivery.render_failed", delivery_id=delivery.id, user_id=delivery.user_id, error=str(error))
            return repository.Outcome(delivery.id, DeliveryStatus.FAILED, f"template rendering failed: {error}", None)

        message = OutboundMessage(
            delivery_id=delivery.id,
            run_id=context.run_id,
            campaign_id=context.campaign_id,
            user_id=delivery.user_id,
            address=delivery.address,
            subject=subject,
            body=body,
        )
        settings = self._settings
        for attempt in range(1, settings.delivery_max_attempts + 1):
            try:
                await channel.send(message)
            except PermanentDeliveryError as error:
                bound.info("delivery.failed", delivery_id=delivery.id, user_id=delivery.user_id, reason=error.reason)
                return repository.Outcome(delivery.id, DeliveryStatus.FAILED, error.reason, None)
            except TransientDeliveryError as error:
                if attempt == settings.delivery_max_attempts:
                    reason = f"{error.reason} (gave up after {attempt} attempts)"
                    bound.info("delivery.failed", delivery_id=delivery.id, user_id=delivery.user_id, reason=reason)
                    return repository.Outcome(delivery.id, DeliveryStatus.FAILED, reason, None)
                delay = _backoff(attempt, error.retry_after, settings)
                bound.info(
                    "delivery.retrying",
                    delivery_id=delivery.id,
                    user_id=delivery.user_id,
                    attempt=attempt,
                    reason=error.reason,
                    delay_seconds=round(delay, 3),
                )
                await asyncio.sleep(delay)
            else:
                return repository.Outcome(delivery.id, DeliveryStatus.DELIVERED, None, datetime.now(UTC))
        raise AssertionError("unreachable: the loop returns on its last attempt")

    async def _record(self, outcomes: list[repository.Outcome]) -> None:
        async with self._pool.acquire() as connection:
            await repository.record_outcomes(connection, outcomes)


@contextlib.asynccontextmanager
async def _heartbeat_while_running(progress: Callable[[], int], interval: float = 10.0):
    """Heartbeat every ``interval`` seconds, also while a send waits out a backoff."""

    async def beat() -> None:
        while True:
            activity.heartbeat(progress())
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _backoff(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Return the wait before the next attempt: the channel's hint, else jittered exponential."""
    if retry_after is not None:
        return min(retry_after, settings.delivery_max_backoff_seconds)
    base = settings.delivery_initial_backoff_seconds * (2 ** (attempt - 1))
    return min(base, settings.delivery_max_backoff_seconds) * random.uniform(0.5, 1.0)
