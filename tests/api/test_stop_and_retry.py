"""Stop mid-send, run again to the rest, and retry one recipient, without double delivery."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from tests.helpers import campaign_body, wait_for_status


async def _counts(pool, campaign_id) -> Counter:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT status, count(*) AS n FROM deliveries WHERE campaign_id = $1 GROUP BY status", campaign_id
        )
    return Counter({r["status"]: r["n"] for r in rows})


async def _create(api, team, users, **overrides):
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, **overrides), headers=team.auth()
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def _wait_for_run_end(pool, campaign_id, *, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with pool.acquire() as connection:
            unfinished = await connection.fetchval(
                "SELECT count(*) FROM campaign_runs WHERE campaign_id = $1 AND finished_at IS NULL", campaign_id
            )
        if unfinished == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the run never finished")


async def test_stop_mid_send_then_run_again(api, pool, directory, worker, smtp_sink, settings):
    team = await directory.team()
    users = await directory.recipients(team, 5000)
    unreachable = await directory.recipients(team, 3, with_email=False, prefix="chat")
    campaign_id = await _create(api, team, users + unreachable)
    assert (await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())).status_code == 202

    deadline = time.monotonic() + 60
    while (await _counts(pool, campaign_id))["delivered"] < 300:
        assert time.monotonic() < deadline, "sending never got going"
        await asyncio.sleep(0.02)
    stopped = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())
    assert stopped.status_code == 200, stopped.text
    at_stop = await _counts(pool, campaign_id)
    assert stopped.json()["campaign"]["status"] == "stopped"
    assert stopped.json()["skipped"] > 0

    await _wait_for_run_end(pool, campaign_id)
    final = await _counts(pool, campaign_id)
    # Sends claimed before the stop may finish: at most one chunk per batch in flight.
    in_flight = settings.delivery_parallel_batches * settings.delivery_concurrency
    assert at_stop["delivered"] <= final["delivered"] <= at_stop["delivered"] + at_stop["sending"]
    assert at_stop["sending"] <= in_flight
    assert final["pending"] == 0
    assert final["sending"] == 0
    assert final["delivered"] + final["skipped"] + final["failed"] == 5003
    assert final["failed"] == 3
    assert len(smtp_sink.messages) == final["delivered"]

    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth())).json()
    assert detail["status"] == "stopped"
    assert detail["latest_run"]["status"] == "stopped"

    again_twice = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())
    assert again_twice.status_code == 409
    assert again_twice.json()["current_status"] == "stopped"
    assert "run_again" in again_twice.json()["allowed_actions"]

    preview = (await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth())).json()
    assert preview["recipient_count"] == final["skipped"] + final["failed"]
    assert preview["unreachable_count"] == 3

    responses = await asyncio.gather(
        *(api.post(f"/v1/campaigns/{campaign_id}/run-again", headers=team.auth()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [202, 409]
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=120)

    assert [r["run_number"] for r in detail["runs"]] == [2, 1]
    assert detail["runs"][0]["counts"]["total"] == final["skipped"] + final["failed"]
    assert detail["runs"][0]["counts"]["delivered"] == final["skipped"]
    assert detail["counts"]["delivered"] == 5000
    assert detail["counts"]["failed"] == 3
    per_address = Counter(address for m in smtp_sink.messages for address in m.rcpt_tos)
    assert len(per_address) == 5000
    assert max(per_address.values()) == 1


async def test_run_again_with_everyone_delivered_is_rejected(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    campaign_id = await _create(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    response = await api.post(f"/v1/campaigns/{campaign_id}/run-again", headers=team.auth())

    assert response.status_code == 409
    assert "nobody is left to send to" in response.json()["detail"]


async def test_stop_sent_campaign_is_rejected(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await _create(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    response = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())

    assert response.status_code == 409
    assert response.json()["current_status"] == "sent"
    assert "'sent'" in response.json()["detail"]


async def test_stop_draft_is_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await _create(api, team, users)

    response = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())

    assert response.status_code == 409
    assert response.json()["current_status"] == "draft"
    assert response.json()["allowed_actions"] == ["archive", "delete", "duplicate", "edit", "preview", "run", "upload_csv"]


async def test_stop_scheduled_campaign_skips_everyone(api, pool, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 4)
    schedule = {"type": "scheduled", "date": "2099-01-01", "time": "09:00", "timezone": "UTC"}
    campaign_id = await _create(api, team, users, schedule=schedule)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    deadline = time.monotonic() + 10
    while (await _counts(pool, campaign_id))["pending"] < 4:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    stopped = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())

    assert stopped.status_code == 200
    await _wait_for_run_end(pool, campaign_id, timeout=10)
    assert await _counts(pool, campaign_id) == Counter({"skipped": 4})
    assert smtp_sink.messages == []


async def test_retry_failed_recipient(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    bounced = f"person1-{team.id.hex[:8]}@example.com"
    smtp_sink.fail_recipient(bounced, 550, "5.1.1 mailbox unavailable", times=1)
    campaign_id = await _create(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    deliveries = (await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=team.auth())).json()["items"]
    failed = next(d for d in deliveries if d["status"] == "failed")
    delivered = next(d for d in deliveries if d["status"] == "delivered")

    rejected = await api.post(f"/v1/campaigns/{campaign_id}/deliveries/{delivered['id']}/retry", headers=team.auth())
    assert rejected.status_code == 409
    assert rejected.json()["current_status"] == "delivered"

    responses = await asyncio.gather(
        *(api.post(f"/v1/campaigns/{campaign_id}/deliveries/{failed['id']}/retry", headers=team.auth()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [202, 409]

    deadline = time.monotonic() + 15
    while True:
        retried = (await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=team.auth())).json()["items"]
        row = next(d for d in retried if d["id"] == failed["id"])
        if row["status"] == "delivered":
            break
        assert time.monotonic() < deadline, row
        await asyncio.sleep(0.05)
    assert row["attempts"] == 2
    assert row["last_error"] is None
    assert len(smtp_sink.messages_to(bounced)) == 1
    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth())).json()
    assert detail["counts"]["delivered"] == 2
    assert detail["counts"]["failed"] == 0
    assert len(detail["runs"]) == 1
