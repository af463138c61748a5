"""Recurring campaigns: a series workflow that fires runs, pauses and resumes without backfill."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from campaign_api.campaigns.series import series_workflow_id
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.main import create_app
from delivery_worker.worker import build_worker
from tests.helpers import campaign_body


def _every(seconds: int, **extra) -> dict:
    return {
        "type": "recurring",
        "recurrence": {"kind": "interval", "every": seconds, "unit": "seconds", "timezone": "UTC", **extra},
    }


async def _create(api, team, users, schedule, **overrides):
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=users, schedule=schedule, **overrides),
        headers=team.auth(),
    )
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "recurring"
    return created.json()["id"]


async def _runs(api, team, campaign_id) -> list[dict]:
    response = await api.get(f"/v1/campaigns/{campaign_id}/runs", params={"limit": 500}, headers=team.auth())
    assert response.status_code == 200, response.text
    return sorted(response.json()["items"], key=lambda r: r["run_number"])


async def _wait_for_runs(api, team, campaign_id, count, *, timeout=30.0, sent=True) -> list[dict]:
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = await _runs(api, team, campaign_id)
        done = [r for r in runs if r["status"] == "sent"] if sent else runs
        if len(done) >= count:
            return runs
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} runs, have {[(r['run_number'], r['status']) for r in runs]}")


def _fire(run: dict) -> datetime:
    return datetime.fromisoformat(run["fire_at"])


async def test_series_runs_now_then_at_each_fire(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    campaign_id = await _create(api, team, users, _every(2))

    preview = (await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth())).json()
    assert preview["schedule_summary"] == "Every 2 seconds in UTC, first run now"
    assert len(preview["next_fire_times"]) == 5

    activated = await api.post(f"/v1/campaigns/{campaign_id}/activate", json={"run_immediately": True}, headers=team.auth())
    assert activated.status_code == 202, activated.text
    assert activated.json()["status"] == "active"
    first = (await _wait_for_runs(api, team, campaign_id, 1, timeout=10))[0]
    runs = await _wait_for_runs(api, team, campaign_id, 4, timeout=20)

    assert [r["run_number"] for r in runs[:4]] == [1, 2, 3, 4]
    fires = [_fire(r) for r in runs[:4]]
    # The first run starts on activation; scheduled fires follow every 2 s from the
    # activation instant, which the API records a moment before the workflow starts.
    assert timedelta(seconds=1.5) < fires[1] - fires[0] <= timedelta(seconds=2)
    assert [b - a for a, b in zip(fires[1:], fires[2:])] == [timedelta(seconds=2)] * 2
    assert datetime.fromisoformat(first["created_at"]) - fires[0] < timedelta(seconds=2)
    for run in runs[:4]:
        assert run["counts"]["delivered"] == 3
    assert len(smtp_sink.messages) >= 12

    series = (await api.get(f"/v1/campaigns/{campaign_id}/series", headers=team.auth())).json()
    assert series["status"] == "active"
    assert series["runs_started"] >= 4
    assert datetime.fromisoformat(series["next_fire_at"]) > fires[-1]


async def test_pause_creates_no_runs_and_resume_skips_missed(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await _create(api, team, users, _every(2))
    await api.post(f"/v1/campaigns/{campaign_id}/activate", json={"run_immediately": False}, headers=team.auth())
    await _wait_for_runs(api, team, campaign_id, 1, timeout=10)

    paused = await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    paused_at = datetime.now().astimezone()
    runs_at_pause = len(await _runs(api, team, campaign_id))
    again = await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
    assert again.status_code == 409
    assert again.json()["current_status"] == "paused"
    assert again.json()["allowed_actions"] == ["archive", "duplicate", "edit", "preview", "resume"]

    await asyncio.sleep(7)  # at least three fire times pass while paused
    assert len(await _runs(api, team, campaign_id)) == runs_at_pause

    resumed = await api.post(f"/v1/campaigns/{campaign_id}/resume", headers=team.auth())
    assert resumed.status_code == 200, resumed.text
    resumed_at = datetime.now().astimezone()
    runs = await _wait_for_runs(api, team, campaign_id, runs_at_pause + 1, timeout=10)
    resume_again = await api.post(f"/v1/campaigns/{campaign_id}/resume", headers=team.auth())
    assert resume_again.status_code == 409
    assert resume_again.json()["current_status"] == "active"

    after_resume = runs[runs_at_pause]
    missed = [r for r in runs if paused_at + timedelta(seconds=1) < _fire(r) < resumed_at - timedelta(seconds=1)]
    assert missed == []
    assert resumed_at - timedelta(seconds=1) < _fire(after_resume) <= resumed_at + timedelta(seconds=2.5)


async def test_pause_lets_sending_run_finish(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 40, webhook_url=webhook_receiver.url)
    webhook_receiver.delay(0.2, times=None)
    campaign_id = await _create(api, team, users, _every(60), channel="webhook")
    await api.post(f"/v1/campaigns/{campaign_id}/activate", headers=team.auth())
    await _wait_for_runs(api, team, campaign_id, 1, timeout=10, sent=False)
    deadline = time.monotonic() + 10
    while webhook_receiver.delivered_count == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
    runs = await _wait_for_runs(api, team, campaign_id, 1, timeout=30)

    assert runs[0]["status"] == "sent"
    assert runs[0]["counts"]["delivered"] == 40
    assert webhook_receiver.delivered_count == 40
    assert webhook_receiver.duplicate_count == 0


async def test_series_keeps_firing_after_continue_as_new(
    api, pool, directory, temporal_client, settings, smtp_sink
):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await _create(api, team, users, _every(1))
    async with build_worker(client=temporal_client, pool=pool, settings=settings) as series_worker:
        async with series_worker:
            # Started directly so that the series continues as new after every 2 runs.
            launcher = RunLauncher(temporal_client, task_queue=settings.task_queue)
            async with pool.acquire() as connection:
                await connection.execute("UPDATE campaigns SET status = 'active' WHERE id = $1", campaign_id)
            await launcher.start_series(
                workflow_id=series_workflow_id(campaign_id),
                campaign_id=campaign_id,
                team_id=team.id,
                run_immediately=True,
                continue_as_new_after_runs=2,
            )
            runs = await _wait_for_runs(api, team, campaign_id, 6, timeout=30)
            state = await launcher.query_series(series_workflow_id(campaign_id))

    fires = [_fire(r) for r in runs[:6]]
    assert [r["run_number"] for r in runs[:6]] == [1, 2, 3, 4, 5, 6]
    assert [b - a for a, b in zip(fires[1:], fires[2:])] == [timedelta(seconds=1)] * 4
    assert state is not None
    assert state.runs_started >= 6
    assert state.last_fire_at >= fires[5]
    executions = [
        w async for w in temporal_client.list_workflows(f"WorkflowId = '{series_workflow_id(campaign_id)}'")
    ]
    assert len(executions) >= 3


async def test_worker_restart_loses_no_fire(api, pool, directory, temporal_client, settings, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await _create(api, team, users, _every(2))
    async with build_worker(client=temporal_client, pool=pool, settings=settings) as first:
        async with first:
            await api.post(f"/v1/campaigns/{campaign_id}/activate", headers=team.auth())
            await _wait_for_runs(api, team, campaign_id, 2, timeout=10)
    stopped_at = datetime.now().astimezone()
    await asyncio.sleep(5)  # two fire times pass with no worker running
    async with build_worker(client=temporal_client, pool=pool, settings=settings) as second:
        async with second:
            runs = await _wait_for_runs(api, team, campaign_id, 6, timeout=30)
            await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
            await asyncio.sleep(1)

    fires = [_fire(r) for r in runs]
    gaps = [b - a for a, b in zip(fires[1:], fires[2:])]
    assert set(gaps) == {timedelta(seconds=2)}, gaps
    assert any(stopped_at < f < stopped_at + timedelta(seconds=5) for f in fires)
    finished = [r for r in await _runs(api, team, campaign_id) if r["status"] == "sent"]
    per_address = Counter(a for m in smtp_sink.messages for a in m.rcpt_tos)
    assert len(smtp_sink.messages) == 2 * len(finished)
    assert set(per_address.values()) == {len(finished)}


async def test_edit_while_paused_applies_to_next_run(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await _create(api, team, users, _every(60))
    edit_active = await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "Draft edit"}, headers=team.auth())
    assert edit_active.status_code == 200
    await api.post(f"/v1/campaigns/{campaign_id}/activate", headers=team.auth())
    await _wait_for_runs(api, team, campaign_id, 1, timeout=10)

    rejected = await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "Live edit"}, headers=team.auth())
    assert rejected.status_code == 409
    assert rejected.json()["current_status"] == "active"

    await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
    newcomer = (await directory.recipients(team, 1, prefix="newcomer"))[0]
    group_id = await directory.group(team, "Newcomers", [newcomer])
    edited = await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={
            "template": {"subject": "Weekly check-in", "body": "Updated for {{ first_name }}"},
            "targets": {"user_ids": [str(users[0])], "group_ids": [str(group_id)]},
            "schedule": _every(2),
        },
        headers=team.auth(),
    )
    assert edited.status_code == 200, edited.text
    await api.post(f"/v1/campaigns/{campaign_id}/resume", headers=team.auth())
    runs = await _wait_for_runs(api, team, campaign_id, 2, timeout=10)

    assert runs[1]["counts"]["total"] == 2
    newest = [m for m in smtp_sink.messages if m.message["Subject"] == "Weekly check-in"]
    assert {a for m in newest for a in m.rcpt_tos} >= {f"newcomer2-{team.id.hex[:8]}@example.com"}
    assert all("Updated for" in m.message.get_content() for m in newest)


async def test_stop_one_run_keeps_series(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 30, webhook_url=webhook_receiver.url)
    webhook_receiver.delay(0.3, times=None)
    campaign_id = await _create(api, team, users, _every(60), channel="webhook")
    await api.post(f"/v1/campaigns/{campaign_id}/activate", headers=team.auth())
    await _wait_for_runs(api, team, campaign_id, 1, timeout=10, sent=False)
    deadline = time.monotonic() + 10
    while webhook_receiver.delivered_count == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    stopped = await api.post(f"/v1/campaigns/{campaign_id}/runs/1/stop", headers=team.auth())
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    again = await api.post(f"/v1/campaigns/{campaign_id}/runs/1/stop", headers=team.auth())
    assert again.status_code == 409
    assert again.json()["current_status"] == "stopped"

    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth())).json()
    assert detail["status"] == "active"
    series = (await api.get(f"/v1/campaigns/{campaign_id}/series", headers=team.auth())).json()
    assert series["status"] == "active"


async def test_recurring_validation_names_fields(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    cases = [
        ({"kind": "weekly", "weekdays": [0], "time_of_day": "09:00", "timezone": "Mars/Base"}, "schedule.recurrence.timezone"),
        ({"kind": "weekly", "weekdays": [], "time_of_day": "09:00", "timezone": "UTC"}, "schedule.recurrence.weekdays"),
        ({"kind": "cron", "expression": "61 * * * *", "timezone": "UTC"}, "schedule.recurrence.expression"),
        (
            {"kind": "monthly", "days_of_month": [31], "time_of_day": "09:00", "timezone": "UTC",
             "start_date": "2027-05-01", "end_date": "2027-04-01"},
            "schedule.recurrence.end_date",
        ),
        ({"kind": "hourly", "timezone": "UTC"}, "schedule.recurrence.kind"),
    ]
    for recurrence, field in cases:
        response = await api.post(
            f"/v1/teams/{team.id}/campaigns",
            json=campaign_body(user_ids=users, schedule={"type": "recurring", "recurrence": recurrence}),
            headers=team.auth(),
        )
        assert response.status_code == 422, recurrence
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


async def test_interval_under_minimum_is_rejected(api, pool, temporal_client, settings, directory):
    strict = settings.model_copy(update={"recurring_min_interval_minutes": 15})
    app = create_app(settings=strict, pool=pool, temporal_client=temporal_client)
    team = await directory.team()
    users = await directory.recipients(team, 1)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client:
            schedule = {"type": "recurring", "recurrence": {"kind": "interval", "every": 10, "unit": "minutes", "timezone": "UTC"}}
            response = await client.post(
                f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=schedule), headers=team.auth()
            )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "schedule.recurrence.every"
    assert "under the minimum of 15 minutes" in response.json()["errors"][0]["message"]


async def test_preview_lists_weekly_fire_times(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    schedule = {
        "type": "recurring",
        "recurrence": {"kind": "weekly", "weekdays": [0, 2], "time_of_day": "09:00", "timezone": "Europe/Berlin"},
    }
    campaign_id = await _create(api, team, users, schedule)

    preview = (await api.post(f"/v1/campaigns/{campaign_id}/preview", params={"run_immediately": "false"}, headers=team.auth())).json()

    assert preview["schedule_summary"] == "Every Monday and Wednesday at 09:00 Europe/Berlin"
    assert preview["recipient_count"] == 2
    fires = [datetime.fromisoformat(t) for t in preview["next_fire_times"]]
    assert len(fires) == 5
    for fire in fires:
        local = fire.astimezone(ZoneInfo("Europe/Berlin"))
        assert local.weekday() in (0, 2)
        assert (local.hour, local.minute) == (9, 0)
