"""Lifecycle actions that start or stop workflows: run, stop, run again, retry one recipient.

Each action changes Postgres first, in a transaction that locks the campaign row,
and talks to Temporal after the commit. Workflow ids are deterministic, so an
action repeated after a lost start reaches the same workflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
import structlog

from campaign_api.audit.repository import record_event
from campaign_api.audit.schemas import AuditAction
from campaign_api.auth.dependencies import Principal
from campaign_api.campaigns import lifecycle, repository, schemas
from campaign_api.campaigns.service import campaign_detail, load_campaign
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.csv_recipients import repository as csv_repository
from campaign_api.errors import Conflict, NotFound, ValidationFailed
from shared.domain import (
    CampaignKind,
    CampaignStatus,
    DeliveryStatus,
    Role,
    RunStatus,
    ScheduleType,
    run_workflow_id,
)
from shared.schedules import scheduled_instant

log = structlog.get_logger(__name__)


# How long a run call waits for another call that is starting a run of the same campaign.
_START_LOCK_WAIT_SECONDS = 10.0


@contextlib.asynccontextmanager
async def _starting_lock(connection: asyncpg.Connection, key: str) -> AsyncIterator[bool]:
    """Hold a session advisory lock on ``key`` while a workflow is being started.

    A second call waits until the first has started its workflow, so it then sees
    the new status. Yields False if the lock was not free within the wait. The
    lock lives as long as the connection, so a process that dies mid-start
    releases it and a later call can recover the start.
    """
    deadline = asyncio.get_running_loop().time() + _START_LOCK_WAIT_SECONDS
    while True:
        acquired = await connection.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)
        if acquired or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.05)
    try:
        yield acquired
    finally:
        if acquired:
            await connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)


def _initial_status(schedule: dict, now: datetime) -> str:
    """Return the status a campaign shows right after run: scheduled while it waits, else sending."""
    kind = schedule.get("type")
    if kind == ScheduleType.SCHEDULED:
        instant = scheduled_instant(
            date.fromisoformat(schedule["date"]), time.fromisoformat(schedule["time"]), schedule["timezone"]
        )
        return CampaignStatus.SCHEDULED if instant > now else CampaignStatus.SENDING
    if kind == ScheduleType.LOCAL_TIME:
        return CampaignStatus.SCHEDULED
    return CampaignStatus.SENDING


async def _start_and_confirm(
    connection: asyncpg.Connection, launcher: RunLauncher, *, run: Mapping[str, Any], campaign: Mapping[str, Any]
) -> None:
    """Start the run's workflow and record that its start was confirmed."""
    await launcher.start_run(
        run_id=run["id"],
        workflow_id=run["workflow_id"],
        campaign_id=campaign["id"],
        team_id=campaign["team_id"],
        run_number=run["run_number"],
        campaign_kind=campaign["kind"],
    )
    await repository.mark_run_started(connection, run["id"])


async def _started(connection: asyncpg.Connection, principal: Principal, campaign_id: uuid.UUID, run_id: uuid.UUID) -> schemas.RunStarted:
    row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
    detail = await campaign_detail(connection, row)
    return schemas.RunStarted(campaign=detail, run=next(r for r in detail.runs if r.id == run_id))


async def run_campaign(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID
) -> schemas.RunStarted:
    """Create the campaign's first run and start its workflow.

    Concurrent calls are serialized twice: the advisory lock lets one call at a
    time start a run of this campaign (the others get 409), and the row lock
    makes the draft check and the run insert atomic. If the workflow start fails
    or the process dies before it, a repeated call starts the same workflow id.
    """
    async with pool.acquire() as connection, _starting_lock(connection, f"campaign-run:{campaign_id}") as acquired:
        async with connection.transaction():
            row = await load_campaign(
                connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR,
                action="running campaigns", for_update=True,
            )
            if row["kind"] != CampaignKind.ONE_TIME:
                raise lifecycle.conflict("run", row, "a recurring campaign starts with activate, not run")
            if not acquired:
                raise lifecycle.conflict("run", row, f"a run of this campaign is being started; its status is {row['status']!r}")
            if row["status"] == CampaignStatus.DRAFT:
                lifecycle.ensure_not_archived(row, action=lifecycle.RUN)
                if (
                    not row["target_user_ids"]
                    and not row["target_group_ids"]
                    and not await csv_repository.has_rows(connection, campaign_id)
                ):
                    raise ValidationFailed.single(
                        "targets", "choose at least one user or group, or upload a CSV list, before running"
                    )
                run = await repository.insert_run(
                    connection,
                    campaign_id=campaign_id,
                    team_id=row["team_id"],
                    run_number=1,
                    workflow_id=run_workflow_id(str(campaign_id), 1),
                    status=RunStatus.PENDING,
                    created_by=principal.user_id,
                )
                status = _initial_status(row["schedule"], datetime.now(UTC))
                await repository.set_campaign_status(connection, campaign_id=campaign_id, status=status)
                await record_event(
                    connection,
                    team_id=row["team_id"],
                    campaign_id=campaign_id,
                    actor_id=principal.user_id,
                    action=AuditAction.RUN,
                    status_before=row["status"],
                    status_after=status,
                    details={"run_number": run["run_number"], "run_id": str(run["id"])},
                )
                log.info("campaign.run_requested", campaign_id=str(campaign_id), run_id=str(run["id"]), user_id=str(principal.user_id))
            else:
                unstarted = await repository.unstarted_runs(connection, campaign_id)
                if not unstarted:
                    raise lifecycle.conflict("run", row)
                run = unstarted[-1]
                log.info("campaign.run_recovered", campaign_id=str(campaign_id), run_id=str(run["id"]))
        await _start_and_confirm(connection, launcher, run=run, campaign=row)
        return await _started(connection, principal, campaign_id, run["id"])


async def run_again(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID
) -> schemas.RunStarted:
    """Start a new attempt that sends only to recipients who never got the message.

    Allowed on a sent or stopped one-time campaign; the new run sends at once,
    whatever the original schedule was.
    """
    async with pool.acquire() as connection, _starting_lock(connection, f"campaign-run:{campaign_id}") as acquired:
        async with connection.transaction():
            row = await load_campaign(
                connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR,
                action="running campaigns again", for_update=True,
            )
            if not acquired or row["kind"] != CampaignKind.ONE_TIME or not lifecycle.allows(row["status"], lifecycle.RUN_AGAIN):
                raise lifecycle.conflict(lifecycle.RUN_AGAIN, row)
            lifecycle.ensure_not_archived(row, action=lifecycle.RUN_AGAIN)
            remaining = await repository.preview_unsent_recipients(
                connection, team_id=row["team_id"], campaign_id=campaign_id, channel=row["channel"]
            )
            if remaining["recipients"] == 0:
                raise lifecycle.conflict(
                    lifecycle.RUN_AGAIN,
                    row,
                    "every recipient of this campaign has received the message or is being retried; nobody is left to send to",
                )
            run_number = await repository.next_run_number(connection, campaign_id)
            run = await repository.insert_run(
                connection,
                campaign_id=campaign_id,
                team_id=row["team_id"],
                run_number=run_number,
                workflow_id=run_workflow_id(str(campaign_id), run_number),
                status=RunStatus.PENDING,
                created_by=principal.user_id,
                recipients_source="unsent",
            )
            await repository.set_campaign_status(connection, campaign_id=campaign_id, status=CampaignStatus.SENDING)
            await record_event(
                connection,
                team_id=row["team_id"],
                campaign_id=campaign_id,
                actor_id=principal.user_id,
                action=AuditAction.RUN_AGAIN,
                status_before=row["status"],
                status_after=CampaignStatus.SENDING,
                details={"run_number": run_number, "run_id": str(run["id"]), "recipients": remaining["recipients"]},
            )
            log.info(
                "campaign.run_again_requested",
                campaign_id=str(campaign_id),
                run_id=str(run["id"]),
                run_number=run_number,
                recipients=remaining["recipients"],
                user_id=str(principal.user_id),
            )
        await _start_and_confirm(connection, launcher, run=run, campaign=row)
        return await _started(connection, principal, campaign_id, run["id"])


async def stop_campaign(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID
) -> schemas.StopResult:
    """Stop a scheduled or sending campaign.

    When this returns, every recipient not yet claimed for sending is skipped with
    reason "stopped" and no batch claims another one. Sends already handed to the
    channel may still finish as delivered.
    """
    async with pool.acquire() as connection:
        async with connection.transaction():
            row = await load_campaign(
                connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR,
                action="stopping campaigns", for_update=True,
            )
            if row["kind"] != CampaignKind.ONE_TIME or not lifecycle.allows(row["status"], lifecycle.STOP):
                raise lifecycle.conflict(lifecycle.STOP, row)
            run = await repository.active_run(connection, campaign_id)
            skipped = await repository.stop_run(connection, run["id"]) if run else 0
            await repository.set_campaign_status(connection, campaign_id=campaign_id, status=CampaignStatus.STOPPED)
            await record_event(
                connection,
                team_id=row["team_id"],
                campaign_id=campaign_id,
                actor_id=principal.user_id,
                action=AuditAction.STOP,
                status_before=row["status"],
                status_after=CampaignStatus.STOPPED,
                details={"run_number": run["run_number"] if run else None, "skipped": skipped},
            )
        log.info("campaign.stopped", campaign_id=str(campaign_id), skipped=skipped, user_id=str(principal.user_id))
        if run is not None:
            await launcher.signal_stop(workflow_id=run["workflow_id"], requested_by=principal.user_id)
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        return schemas.StopResult(campaign=await campaign_detail(connection, row), skipped=skipped)


def retry_workflow_id(campaign_id: uuid.UUID, delivery_id: int, attempt: int) -> str:
    return f"campaign-{campaign_id}-delivery-{delivery_id}-attempt-{attempt}"


async def retry_delivery(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID, delivery_id: int
) -> schemas.Delivery:
    """Send once more to one failed or skipped recipient of a finished run.

    The attempt is recorded on the same delivery row. The recipient's address is
    looked up again, so one who was unreachable and now has an address can be
    reached.
    """
    lock_key = f"delivery-retry:{delivery_id}"
    async with pool.acquire() as connection, _starting_lock(connection, lock_key) as acquired:
        async with connection.transaction():
            row = await load_campaign(
                connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR,
                action="retrying deliveries", for_update=True,
            )
            if not acquired:
                raise Conflict(f"delivery {delivery_id} is already being retried")
            lifecycle.ensure_not_archived(row, action=lifecycle.RETRY)
            delivery = await repository.get_delivery_for_update(connection, campaign_id=campaign_id, delivery_id=delivery_id)
            if delivery is None:
                raise NotFound(f"delivery {delivery_id} of campaign {campaign_id} not found")
            attempt = delivery["attempts"] + 1
            if delivery["status"] == DeliveryStatus.PENDING and delivery["run_status"] in (RunStatus.SENT, RunStatus.STOPPED):
                # Pending after its run ended means a retry was requested. If that
                # retry's workflow exists, it is under way; if not, its start was
                # lost and this call starts it.
                if await launcher.workflow_exists(retry_workflow_id(campaign_id, delivery_id, attempt)):
                    raise Conflict(f"delivery {delivery_id} is already being retried")
            else:
                _check_retry_allowed(delivery)
                other = await repository.other_delivery_of_user(
                    connection, campaign_id=campaign_id, user_id=delivery["user_id"], delivery_id=delivery_id
                )
                if other is not None:
                    verb = "was delivered" if other["status"] == DeliveryStatus.DELIVERED else "is being sent"
                    raise Conflict(f"this recipient {verb} in run {other['run_number']}; nothing to retry")
                address = await repository.current_address(connection, user_id=delivery["user_id"], channel=row["channel"])
                if address is None:
                    raise Conflict(f"the recipient is unreachable on {row['channel']}; add an address first")
                await repository.requeue_delivery(connection, delivery_id=delivery_id, address=address)
                await record_event(
                    connection,
                    team_id=row["team_id"],
                    campaign_id=campaign_id,
                    actor_id=principal.user_id,
                    action=AuditAction.RETRY,
                    status_before=row["status"],
                    status_after=row["status"],
                    details={
                        "delivery_id": delivery_id,
                        "run_number": delivery["run_number"],
                        "attempt": attempt,
                        "user_id": str(delivery["user_id"]),
                    },
                )
        await launcher.start_delivery_retry(
            workflow_id=retry_workflow_id(campaign_id, delivery_id, attempt),
            run_id=delivery["run_id"],
            campaign_id=campaign_id,
            team_id=row["team_id"],
            run_number=delivery["run_number"],
            campaign_kind=row["kind"],
            delivery_id=delivery_id,
            batch_no=delivery["batch_no"],
        )
        log.info("delivery.retry_requested", campaign_id=str(campaign_id), delivery_id=delivery_id, attempt=attempt)
        return schemas.Delivery(**dict(await repository.get_delivery(connection, delivery_id)))


def _check_retry_allowed(delivery: asyncpg.Record) -> None:
    if delivery["run_status"] not in (RunStatus.SENT, RunStatus.STOPPED):
        raise Conflict(
            f"run {delivery['run_number']} is still {delivery['run_status']}; retry a recipient after the run ends"
        )
    if delivery["status"] not in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED):
        raise Conflict(
            f"delivery is {delivery['status']}; only failed or skipped deliveries can be retried",
            current_status=delivery["status"],
            allowed_statuses=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED],
        )


async def recover_unstarted_runs(pool: asyncpg.Pool, launcher: RunLauncher, *, older_than_seconds: float = 30.0) -> int:
    """Start the workflows of runs whose start was lost; return how many were started."""
    async with pool.acquire() as connection:
        runs = await repository.all_unstarted_runs(connection, older_than_seconds=older_than_seconds)
        for run in runs:
            campaign = {"id": run["campaign_id"], "team_id": run["team_id"], "kind": run["campaign_kind"]}
            await _start_and_confirm(connection, launcher, run=run, campaign=campaign)
            log.info("run.recovered", run_id=str(run["id"]), workflow_id=run["workflow_id"])
    return len(runs)
