"""Activities of the CampaignSeries workflow: plan the next fire, write a fire's run."""

from __future__ import annotations

from datetime import datetime, time

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.schedules import recurrence
from shared.schedules.wallclock import resolve_wall_clock
from workflows.types import CreateSeriesRunInput, NextFire, PlanNextFireInput, SeriesRun

log = structlog.get_logger(__name__)

# The first time zone to reach any wall-clock time (UTC+14). A local-time run for
# a fire starts when the fire's wall-clock time arrives there.
EARLIEST_ZONE = "Etc/GMT-14"


def series_run_workflow_id(campaign_id: str, fire_at: datetime) -> str:
    """Return the deterministic workflow id of the run for one fire time."""
    return f"campaign-{campaign_id}-fire-{fire_at.strftime('%Y%m%dT%H%M%SZ')}"


def run_schedule(schedule: dict, recurrence_schedule: recurrence.RecurringSchedule, fire_at: datetime) -> dict:
    """Return the schedule one run of a series is delivered with."""
    if schedule.get("delivery") != "local_time":
        return {"type": "immediate"}
    local = fire_at.astimezone(recurrence.load_timezone(recurrence_schedule.timezone))
    return {
        "type": "local_time",
        "date": local.date().isoformat(),
        "time": local.time().replace(microsecond=0).isoformat(),
        "passed_time_policy": schedule.get("passed_time_policy", "send_now"),
    }


class SeriesActivities:
    def __init__(self, *, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="plan_next_fire")
    async def plan_next_fire(self, input: PlanNextFireInput) -> NextFire:
        """Return the first fire strictly after ``input.after`` under the current schedule."""
        async with self._pool.acquire() as connection:
            schedule = await connection.fetchval("SELECT schedule FROM campaigns WHERE id = $1", input.campaign_id)
        if schedule is None:
            raise ApplicationError(f"campaign {input.campaign_id} not found", type="CampaignNotFound", non_retryable=True)
        series = recurrence.from_dict(schedule["recurrence"])
        fire_at = recurrence.next_fire_after(series, input.after)
        if fire_at is None:
            log.info("series.ended", campaign_id=input.campaign_id)
            return NextFire(fire_at=None)
        start_at = fire_at
        if schedule.get("delivery") == "local_time":
            local = fire_at.astimezone(recurrence.load_timezone(series.timezone))
            earliest = resolve_wall_clock(local.date(), time(local.hour, local.minute, local.second), EARLIEST_ZONE)
            # Never before the previous fire, so runs are created one at a time.
            start_at = max(min(earliest, fire_at), input.after)
        log.info("series.fire_planned", campaign_id=input.campaign_id, fire_at=fire_at.isoformat(), start_at=start_at.isoformat())
        return NextFire(fire_at=fire_at, start_at=start_at)

    @activity.defn(name="create_series_run")
    async def create_series_run(self, input: CreateSeriesRunInput) -> SeriesRun:
        """Write the run row for one fire, once; return created=False if the series is not active.

        Idempotent: a retry finds the row written for the same fire time.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            campaign = await connection.fetchrow(
                "SELECT id, team_id, status, schedule FROM campaigns WHERE id = $1 FOR UPDATE", input.campaign_id
            )
            if campaign is None:
                raise ApplicationError(f"campaign {input.campaign_id} not found", type="CampaignNotFound", non_retryable=True)
            existing = await connection.fetchrow(
                "SELECT id, run_number, workflow_id FROM campaign_runs WHERE campaign_id = $1 AND fire_at = $2",
                input.campaign_id,
                input.fire_at,
            )
            if existing is not None:
                return SeriesRun(True, str(existing["id"]), existing["run_number"], existing["workflow_id"])
            if campaign["status"] != "active":
                log.info("series.fire_skipped", campaign_id=input.campaign_id, status=campaign["status"])
                return SeriesRun(False)

            series = recurrence.from_dict(campaign["schedule"]["recurrence"])
            run_number = await connection.fetchval(
                "SELECT coalesce(max(run_number), 0) + 1 FROM campaign_runs WHERE campaign_id = $1", input.campaign_id
            )
            workflow_id = series_run_workflow_id(input.campaign_id, input.fire_at)
            run_id = await connection.fetchval(
                """
                INSERT INTO campaign_runs (id, campaign_id, team_id, run_number, workflow_id, status, fire_at,
                                           schedule, scheduled_for, workflow_started_at)
                VALUES (gen_random_uuid(), $1, $2, $3, $4, 'pending', $5, $6, $5, now())
                RETURNING id
                """,
                input.campaign_id,
                campaign["team_id"],
                run_number,
                workflow_id,
                input.fire_at,
                run_schedule(campaign["schedule"], series, input.fire_at),
            )
        log.info("series.run_created", campaign_id=input.campaign_id, run_id=str(run_id), run_number=run_number)
        return SeriesRun(True, str(run_id), run_number, workflow_id)
