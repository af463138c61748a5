"""Planning a series' fires: the next fire time and when its run starts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from delivery_worker.series import SeriesActivities, run_schedule, series_run_workflow_id
from shared.schedules import recurrence
from workflows.types import CreateSeriesRunInput, PlanNextFireInput

WEEKLY = {"kind": "weekly", "weekdays": [0], "time_of_day": "09:00", "timezone": "Europe/Berlin"}


async def _series(pool, team, *, delivery: str, status: str = "active") -> uuid.UUID:
    campaign_id = uuid.uuid4()
    async with pool.acquire() as connection:
        await connection.execute(
            """
            INSERT INTO campaigns (id, team_id, kind, name, channel, body_template, schedule, status)
            VALUES ($1, $2, 'recurring', 'Weekly', 'email', 'Hi', $3, $4)
            """,
            campaign_id,
            team.id,
            {"type": "recurring", "recurrence": WEEKLY, "delivery": delivery, "passed_time_policy": "skip"},
            status,
        )
    return campaign_id


async def test_immediate_delivery_starts_at_fire(pool, directory):
    team = await directory.team()
    campaign_id = await _series(pool, team, delivery="immediate")
    after = datetime(2027, 3, 24, 12, 0, tzinfo=UTC)  # a Wednesday

    fire = await ActivityEnvironment().run(
        SeriesActivities(pool=pool).plan_next_fire, PlanNextFireInput(campaign_id=str(campaign_id), after=after)
    )

    assert fire.fire_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)  # Monday 09:00 CEST, after the DST change
    assert fire.start_at == fire.fire_at


async def test_local_time_delivery_starts_where_the_day_begins(pool, directory):
    team = await directory.team()
    campaign_id = await _series(pool, team, delivery="local_time")
    after = datetime(2027, 3, 24, 12, 0, tzinfo=UTC)

    fire = await ActivityEnvironment().run(
        SeriesActivities(pool=pool).plan_next_fire, PlanNextFireInput(campaign_id=str(campaign_id), after=after)
    )

    assert fire.fire_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    # 09:00 on Monday arrives first at UTC+14, on Sunday 19:00 UTC.
    assert fire.start_at == datetime(2027, 3, 28, 19, 0, tzinfo=UTC)


def test_local_time_run_schedule_uses_series_wall_clock():
    schedule = {"type": "recurring", "recurrence": WEEKLY, "delivery": "local_time", "passed_time_policy": "skip"}
    parsed = recurrence.from_dict(WEEKLY)

    result = run_schedule(schedule, parsed, datetime(2027, 3, 29, 7, 0, tzinfo=UTC))

    assert result == {"type": "local_time", "date": "2027-03-29", "time": "09:00:00", "passed_time_policy": "skip"}


async def test_create_series_run_once_per_fire(pool, directory):
    team = await directory.team()
    campaign_id = await _series(pool, team, delivery="immediate")
    activities = SeriesActivities(pool=pool)
    fire_at = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    request = CreateSeriesRunInput(campaign_id=str(campaign_id), fire_at=fire_at)

    first = await ActivityEnvironment().run(activities.create_series_run, request)
    second = await ActivityEnvironment().run(activities.create_series_run, request)

    assert first.created
    assert second == first
    assert first.run_number == 1
    assert first.workflow_id == series_run_workflow_id(str(campaign_id), fire_at)
    assert first.workflow_id == f"campaign-{campaign_id}-fire-20270329T070000Z"


async def test_create_series_run_skips_paused_series(pool, directory):
    team = await directory.team()
    campaign_id = await _series(pool, team, delivery="immediate", status="paused")

    result = await ActivityEnvironment().run(
        SeriesActivities(pool=pool).create_series_run,
        CreateSeriesRunInput(campaign_id=str(campaign_id), fire_at=datetime(2027, 3, 29, 7, 0, tzinfo=UTC)),
    )

    assert not result.created
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM campaign_runs WHERE campaign_id = $1", campaign_id) == 0
