"""Scheduled and local-time sends: durable waits, exact instants, waves per time zone."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from delivery_worker.worker import build_worker
from tests.helpers import campaign_body, wait_for_status


def _wall_clock(instant: datetime, zone: str) -> tuple[str, str]:
    local = instant.astimezone(ZoneInfo(zone))
    return local.date().isoformat(), local.time().replace(microsecond=0).isoformat()


async def _sent_times(pool, campaign_id) -> dict:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT user_id, status, last_error, sent_at FROM deliveries WHERE campaign_id = $1", campaign_id
        )
    return {r["user_id"]: r for r in rows}


async def _wait_for_stage(api, campaign_id, headers, stage, *, timeout=15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = (await api.get(f"/v1/campaigns/{campaign_id}", headers=headers)).json()
        latest = body["latest_run"]
        if latest and latest["stage"] and latest["stage"]["name"] == stage:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"run never reached stage {stage!r}")


async def test_scheduled_send_survives_worker_restart(api, pool, directory, temporal_client, settings, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 5)
    send_at = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    day, clock = _wall_clock(send_at, "Europe/Berlin")
    schedule = {"type": "scheduled", "date": day, "time": clock, "timezone": "Europe/Berlin"}
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=schedule), headers=team.auth()
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]

    async with build_worker(client=temporal_client, pool=pool, settings=settings) as first_worker:
        async with first_worker:
            started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
            assert started.status_code == 202, started.text
            assert started.json()["campaign"]["status"] == "scheduled"
            waiting = await _wait_for_stage(api, campaign_id, team.auth(), "waiting_until")
    assert waiting["status"] == "scheduled"
    assert datetime.fromisoformat(waiting["latest_run"]["stage"]["due_at"]) == send_at

    await asyncio.sleep(3)  # no worker runs while the timer keeps counting down
    async with build_worker(client=temporal_client, pool=pool, settings=settings) as second_worker:
        async with second_worker:
            detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=40)

    assert detail["counts"]["delivered"] == 5
    sent_times = [r["sent_at"] for r in (await _sent_times(pool, campaign_id)).values()]
    assert min(sent_times) >= send_at
    assert max(sent_times) - send_at < timedelta(seconds=2)


async def test_scheduled_in_past_sends_at_once(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    day, clock = _wall_clock(datetime.now(UTC) - timedelta(hours=2), "America/New_York")
    schedule = {"type": "scheduled", "date": day, "time": clock, "timezone": "America/New_York"}
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=schedule), headers=team.auth()
    )
    campaign_id = created.json()["id"]

    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())

    assert started.json()["campaign"]["status"] == "sending"
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=10)
    assert detail["counts"]["delivered"] == 3
    assert len(smtp_sink.messages) == 3


async def _local_time_campaign(api, directory, test_zones, policy):
    """Three zones: Test/Ahead13s has passed, UTC is due in 3 s and Test/Behind4s in 7 s."""
    team = await directory.team(default_timezone="UTC")
    passed = await directory.recipients(team, 2, timezone="Test/Ahead13s", prefix="passed")
    first = await directory.recipients(team, 3, prefix="first")  # no zone: the team's default, UTC
    second = await directory.recipients(team, 4, timezone="Test/Behind4s", prefix="second")
    local = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    schedule = {
        "type": "local_time",
        "date": local.date().isoformat(),
        "time": local.time().isoformat(),
        "passed_time_policy": policy,
    }
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=passed + first + second, schedule=schedule),
        headers=team.auth(),
    )
    assert created.status_code == 201, created.text
    return team, created.json()["id"], local, passed, first, second


async def test_local_time_waves_per_zone(api, pool, directory, worker, smtp_sink, test_zones):
    team, campaign_id, local, passed, first, second = await _local_time_campaign(api, directory, test_zones, "skip")
    preview = await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth())
    assert "in each recipient's time zone" in preview.json()["schedule_summary"]

    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    assert started.json()["campaign"]["status"] == "scheduled"

    between = await _wait_for_stage(api, campaign_id, team.auth(), "waiting_for_next_batch", timeout=15)
    assert between["status"] == "scheduled"
    assert datetime.fromisoformat(between["latest_run"]["stage"]["due_at"]) == local + timedelta(seconds=4)
    assert between["latest_run"]["stage"]["wave_size"] == 4
    assert between["counts"]["delivered"] == 3

    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=20)
    rows = await _sent_times(pool, campaign_id)
    for user_id in passed:
        assert rows[user_id]["status"] == "skipped"
        assert rows[user_id]["last_error"] == "local send time had passed when the run started"
    for user_id in first:
        assert rows[user_id]["status"] == "delivered"
        assert local <= rows[user_id]["sent_at"] < local + timedelta(seconds=2)
    for user_id in second:
        assert rows[user_id]["status"] == "delivered"
        assert local + timedelta(seconds=4) <= rows[user_id]["sent_at"] < local + timedelta(seconds=6)
    assert detail["counts"]["skipped"] == 2
    assert detail["counts"]["delivered"] == 7
    assert len(smtp_sink.messages) == 7


async def test_local_time_send_now_policy(api, pool, directory, worker, smtp_sink, test_zones):
    team, campaign_id, local, passed, first, _ = await _local_time_campaign(api, directory, test_zones, "send_now")
    started_at = datetime.now(UTC)

    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=20)

    rows = await _sent_times(pool, campaign_id)
    for user_id in passed:
        assert rows[user_id]["status"] == "delivered"
        assert rows[user_id]["sent_at"] - started_at < timedelta(seconds=2)
    for user_id in first:
        assert rows[user_id]["sent_at"] >= local


async def test_schedule_validation_names_fields(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    cases = [
        ({"type": "scheduled", "date": "2027-02-30", "time": "09:00", "timezone": "Europe/Berlin"}, "schedule.scheduled.date"),
        ({"type": "scheduled", "date": "2027-03-01", "time": "25:00", "timezone": "Europe/Berlin"}, "schedule.scheduled.time"),
        ({"type": "scheduled", "date": "2027-03-01", "time": "09:00", "timezone": "Mars/Olympus"}, "schedule.scheduled.timezone"),
        ({"type": "local_time", "date": "2027-03-01", "time": "09:00", "passed_time_policy": "later"}, "schedule.local_time.passed_time_policy"),
        ({"type": "weekly"}, "schedule"),
    ]
    for schedule, field in cases:
        response = await api.post(
            f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=schedule), headers=team.auth()
        )
        assert response.status_code == 422, schedule
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
