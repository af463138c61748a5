"""Lifecycle actions of recurring campaigns: activate, pause, resume, and stopping one run."""

from __future__ import annotations

import uuid

import asyncpg
import structlog

from campaign_api.audit.repository import record_event
from campaign_api.auth.dependencies import Principal
from campaign_api.campaigns import lifecycle, repository, schedules, schemas
from campaign_api.campaigns.service import campaign_detail, load_campaign
from campaign_api.campaigns.views import run_view
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.csv_recipients import repository as csv_repository
from campaign_api.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from shared.domain import CampaignKind, CampaignStatus, Role, RunStatus
from shared.settings import Settings

log = structlog.get_logger(__name__)


def series_workflow_id(campaign_id: uuid.UUID) -> str:
    return f"campaign-{campaign_id}-series"


async def _load_recurring(
    connection: asyncpg.Connection, principal: Principal, campaign_id: uuid.UUID, *, action: str, role: Role = Role.CONTRIBUTOR
) -> asyncpg.Record:
    row = await load_campaign(
        connection, principal=principal, campaign_id=campaign_id, required=role, action=f"{action} campaigns", for_update=True
    )
    if row["kind"] != CampaignKind.RECURRING:
        raise lifecycle.conflict(action, row, f"{action} applies to recurring campaigns; this one is one-time")
    return row


async def activate(
    pool: asyncpg.Pool,
    launcher: RunLauncher,
    settings: Settings,
    *,
    principal: Principal,
    campaign_id: uuid.UUID,
    body: schemas.Activate,
) -> schemas.CampaignDetail:
    """Start firing a recurring draft; with run_immediately the first run starts now.

    The status changes in Postgres first; the series workflow starts after the
    commit. If that start is lost, activate again (or the API's startup recovery)
    starts the same workflow id.
    """
    async with pool.acquire() as connection:
        async with connection.transaction():
            row = await _load_recurring(connection, principal, campaign_id, action=lifecycle.ACTIVATE)
            lifecycle.ensure_not_archived(row, action=lifecycle.ACTIVATE)
            if row["status"] == CampaignStatus.ACTIVE and row["series_started_at"] is None:
                log.info("series.activation_recovered", campaign_id=str(campaign_id))
            elif not lifecycle.allows(row["status"], lifecycle.ACTIVATE, row["kind"]):
                raise lifecycle.conflict(lifecycle.ACTIVATE, row)
            else:
                if (
                    not row["target_user_ids"]
                    and not row["target_group_ids"]
                    and not await csv_repository.has_rows(connection, campaign_id)
                ):
                    raise ValidationFailed.single(
                        "targets", "choose at least one user or group, or upload a CSV list, before activating"
                    )
                schedule = schedules.with_interval_anchor(row["schedule"], schedules.utc_now())
                await repository.activate_series(connection, campaign_id=campaign_id, schedule=schedule)
                await record_event(
                    connection,
                    team_id=row["team_id"],
                    campaign_id=campaign_id,
                    actor_id=principal.user_id,
                    action="activate",
                    status_before=row["status"],
                    status_after=CampaignStatus.ACTIVE,
                    details={"run_immediately": body.run_immediately},
                )
                log.info(
                    "campaign.activated",
                    campaign_id=str(campaign_id),
                    run_immediately=body.run_immediately,
                    user_id=str(principal.user_id),
                )
        await launcher.start_series(
            workflow_id=series_workflow_id(campaign_id),
            campaign_id=campaign_id,
            team_id=row["team_id"],
            run_immediately=body.run_immediately,
            continue_as_new_after_runs=settings.series_continue_as_new_after_runs,
        )
        await repository.mark_series_started(connection, campaign_id)
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        return await campaign_detail(connection, row)


async def set_paused(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID, pause: bool
) -> schemas.CampaignDetail:
    """Pause an active series or resume a paused one.

    Pausing stops new runs; a run already in progress finishes on its own. After a
    resume the next run is the first fire time after the resume: fires missed while
    paused are never created.
    """
    action = lifecycle.PAUSE if pause else lifecycle.RESUME
    async with pool.acquire() as connection:
        async with connection.transaction():
            row = await _load_recurring(connection, principal, campaign_id, action=action)
            if not pause:
                lifecycle.ensure_not_archived(row, action=action)
            if not lifecycle.allows(row["status"], action, row["kind"]):
                raise lifecycle.conflict(action, row)
            new_status = CampaignStatus.PAUSED if pause else CampaignStatus.ACTIVE
            await repository.set_campaign_status(connection, campaign_id=campaign_id, status=new_status)
            await record_event(
                connection,
                team_id=row["team_id"],
                campaign_id=campaign_id,
                actor_id=principal.user_id,
                action=action,
                status_before=row["status"],
                status_after=new_status,
            )
        log.info(f"campaign.{'paused' if pause else 'resumed'}", campaign_id=str(campaign_id), user_id=str(principal.user_id))
        await launcher.signal_series(workflow_id=series_workflow_id(campaign_id), pause=pause, requested_by=principal.user_id)
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        return await campaign_detail(connection, row)


async def stop_run(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID, run_number: int
) -> schemas.Run:
    """Stop one run of a series without touching the series itself."""
    async with pool.acquire() as connection:
        async with connection.transaction():
            row = await _load_recurring(connection, principal, campaign_id, action=lifecycle.STOP)
            # No row lock on the run here: the campaign row lock serializes stops, and
            # stop_run must lock the delivery rows before the run row.
            run = await repository.get_run(connection, campaign_id=campaign_id, run_number=run_number)
            if run is None:
                raise NotFound(f"campaign {campaign_id} has no run {run_number}")
            if run["status"] not in (RunStatus.PENDING, RunStatus.SCHEDULED, RunStatus.SENDING):
                raise Conflict(
                    f"run {run_number} is {run['status']}; only a pending, scheduled or sending run can be stopped",
                    current_status=run["status"],
                    allowed_actions=[],
                )
            skipped = await repository.stop_run(connection, run["id"])
            # The campaign keeps its status; the event records the run's.
            await record_event(
                connection,
                team_id=row["team_id"],
                campaign_id=campaign_id,
                actor_id=principal.user_id,
                action="stop",
                status_before=run["status"],
                status_after=RunStatus.STOPPED,
                details={"run_number": run_number, "skipped": skipped},
            )
        log.info("run.stopped", campaign_id=str(campaign_id), run_number=run_number, skipped=skipped, user_id=str(principal.user_id))
        await launcher.signal_stop(workflow_id=run["workflow_id"], requested_by=principal.user_id)
        run = await repository.get_run(connection, campaign_id=campaign_id, run_number=run_number)
    return run_view(run)


async def series_state(
    pool: asyncpg.Pool, launcher: RunLauncher, *, principal: Principal, campaign_id: uuid.UUID
) -> schemas.SeriesState:
    async with pool.acquire() as connection:
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading campaigns")
    if row["kind"] != CampaignKind.RECURRING or row["status"] == CampaignStatus.DRAFT:
        raise NotFound(f"campaign {campaign_id} has no series; only an activated recurring campaign has one")
    workflow_id = series_workflow_id(campaign_id)
    state = await launcher.query_series(workflow_id)
    if state is None:
        raise ServiceUnavailable("the series workflow did not respond to the query; its worker may be down, try again shortly")
    if state.ended:
        status = "ended"
    elif state.paused:
        status = "paused"
    else:
        status = "active"
    return schemas.SeriesState(
        status=status,
        next_fire_at=state.next_fire_at,
        last_fire_at=state.last_fire_at,
        runs_started=state.runs_started,
        workflow_id=workflow_id,
    )


async def recover_unstarted_series(
    pool: asyncpg.Pool, launcher: RunLauncher, settings: Settings, *, older_than_seconds: float
) -> int:
    """Start the series workflows of activated campaigns whose start was lost; return how many."""
    async with pool.acquire() as connection:
        campaigns = await repository.unstarted_series(connection, older_than_seconds=older_than_seconds)
        for campaign in campaigns:
            await launcher.start_series(
                workflow_id=series_workflow_id(campaign["id"]),
                campaign_id=campaign["id"],
                team_id=campaign["team_id"],
                run_immediately=False,
                continue_as_new_after_runs=settings.series_continue_as_new_after_runs,
            )
            await repository.mark_series_started(connection, campaign["id"])
            log.info("series.recovered", campaign_id=str(campaign["id"]))
    return len(campaigns)
