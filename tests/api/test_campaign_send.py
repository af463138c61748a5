"""A one-time campaign from creation to delivered messages, on real Postgres and Temporal."""

from __future__ import annotations

import asyncio

from tests.helpers import campaign_body, wait_for_status


async def test_email_campaign_delivers_once_per_reachable_recipient(api, directory, worker, smtp_sink):
    team = await directory.team()
    direct = await directory.recipients(team, 30)
    no_email = await directory.recipients(team, 4, with_email=False, prefix="chat")
    grouped = direct[20:] + no_email
    group_id = await directory.group(team, "Engineering", grouped)

    created = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=direct, group_ids=[group_id]),
        headers=team.auth("contributor"),
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert created.json()["status"] == "draft"

    preview = await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth("viewer"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["recipient_count"] == 34
    assert preview.json()["unreachable_count"] == 4
    assert preview.json()["unreachable"] == [{"reason": "unreachable on email", "count": 4}]

    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    assert started.status_code == 202, started.text
    assert started.json()["run"]["workflow_id"] == f"campaign-{campaign_id}-run-1"

    detail = await wait_for_status(api, campaign_id, team.auth("viewer"), {"sent"})
    assert detail["counts"]["delivered"] == 30
    assert detail["counts"]["failed"] == 4
    assert detail["counts"]["pending"] == 0
    assert detail["counts"]["total"] == 34

    assert len(smtp_sink.messages) == 30
    for index in range(1, len(direct) + 1):
        address = f"person{index}-{team.id.hex[:8]}@example.com"
        received = smtp_sink.messages_to(address)
        assert len(received) == 1, address
        assert received[0].message["Subject"] == f"Hello First{index}"
        assert f"Hi First{index} Last{index}, your address is {address}." in received[0].message.get_content()

    failed = await api.get(
        f"/v1/campaigns/{campaign_id}/deliveries", params={"status": "failed"}, headers=team.auth("viewer")
    )
    assert failed.status_code == 200
    items = failed.json()["items"]
    assert {item["user_id"] for item in items} == {str(u) for u in no_email}
    assert {item["last_error"] for item in items} == {"unreachable on email"}


async def test_concurrent_run_calls_start_one_run(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 25)
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth()
    )
    campaign_id = created.json()["id"]

    responses = await asyncio.gather(
        *(api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth()) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(202) == 1, [r.text for r in responses]
    assert statuses.count(409) == 9
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["current_status"] in {"sending", "sent"}

    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    assert len(detail["runs"]) == 1
    assert detail["counts"]["delivered"] == 25
    assert len(smtp_sink.messages) == 25
    for index in range(1, 26):
        assert len(smtp_sink.messages_to(f"person{index}-{team.id.hex[:8]}@example.com")) == 1
