"""The audit trail: every lifecycle action recorded in order, per campaign and per team."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.helpers import campaign_body, wait_for_status

FAR_FUTURE = {"type": "scheduled", "date": "2099-01-01", "time": "09:00", "timezone": "UTC"}


async def audit(api, campaign_id, headers, **params) -> dict[str, Any]:
    response = await api.get(f"/v1/campaigns/{campaign_id}/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_deliveries(pool, campaign_id, count: int) -> list[Any]:
    deadline = time.monotonic() + 15
    while True:
        async with pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT id, status FROM deliveries WHERE campaign_id = $1 ORDER BY id", campaign_id
            )
        if len(rows) == count:
            return rows
        assert time.monotonic() < deadline, "the run never wrote its delivery rows"
        await asyncio.sleep(0.05)


async def wait_for_runs_to_end(pool, campaign_id) -> None:
    deadline = time.monotonic() + 15
    while True:
        async with pool.acquire() as connection:
            unfinished = await connection.fetchval(
                "SELECT count(*) FROM campaign_runs WHERE campaign_id = $1 AND finished_at IS NULL", campaign_id
            )
        if unfinished == 0:
            return
        assert time.monotonic() < deadline, "the run never finished"
        await asyncio.sleep(0.05)


async def wait_for_delivery_status(api, campaign_id, delivery_id, headers, status: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        items = (await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=headers)).json()["items"]
        if next(d for d in items if d["id"] == delivery_id)["status"] == status:
            return
        assert time.monotonic() < deadline, f"delivery {delivery_id} never became {status}"
        await asyncio.sleep(0.05)


async def test_trail_lists_whole_life_in_order(api, pool, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    contributor = team.auth("contributor")
    manager = team.auth("manager")
    contributor_me = (await api.get("/v1/me", headers=contributor)).json()
    manager_me = (await api.get("/v1/me", headers=manager)).json()
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=FAR_FUTURE), headers=contributor
    )
    campaign_id = created.json()["id"]
    assert (await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "Renamed"}, headers=contributor)).status_code == 200
    assert (await api.post(f"/v1/campaigns/{campaign_id}/run", headers=contributor)).status_code == 202
    await wait_for_deliveries(pool, campaign_id, 2)
    assert (await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=contributor)).status_code == 200
    # A stopped run that finishes after run again would set the campaign back to stopped.
    await wait_for_runs_to_end(pool, campaign_id)
    bounced = f"person1-{team.id.hex[:8]}@example.com"
    smtp_sink.fail_recipient(bounced, 550, "5.1.1 mailbox unavailable", times=1)
    assert (await api.post(f"/v1/campaigns/{campaign_id}/run-again", headers=contributor)).status_code == 202
    await wait_for_status(api, campaign_id, contributor, {"sent"})
    failed = (
        await api.get(f"/v1/campaigns/{campaign_id}/deliveries", params={"status": "failed"}, headers=contributor)
    ).json()["items"][0]
    retried = await api.post(f"/v1/campaigns/{campaign_id}/deliveries/{failed['id']}/retry", headers=contributor)
    assert retried.status_code == 202, retried.text
    await wait_for_delivery_status(api, campaign_id, failed["id"], contributor, "delivered")
    copy = await api.post(f"/v1/campaigns/{campaign_id}/duplicate", headers=contributor)
    copy_id = copy.json()["id"]
    assert (await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=manager)).status_code == 200
    assert (await api.post(f"/v1/campaigns/{campaign_id}/unarchive", headers=manager)).status_code == 200
    assert (await api.delete(f"/v1/campaigns/{copy_id}", headers=manager)).status_code == 204

    events = (await audit(api, campaign_id, team.auth("viewer")))["items"]
    copy_events = (await audit(api, copy_id, team.auth("viewer")))["items"]

    assert [e["action"] for e in events] == [
        "create", "edit", "run", "stop", "run_again", "retry", "duplicate", "archive", "unarchive",
    ]
    assert [(e["status_before"], e["status_after"]) for e in events] == [
        (None, "draft"),
        ("draft", "draft"),
        ("draft", "scheduled"),
        ("scheduled", "stopped"),
        ("stopped", "sending"),
        ("sent", "sent"),
        ("sent", "sent"),
        ("sent", "sent"),
        ("sent", "sent"),
    ]
    assert [e["actor_email"] for e in events] == [contributor_me["email"]] * 7 + [manager_me["email"]] * 2
    assert {e["actor_id"] for e in events[:7]} == {contributor_me["user_id"]}
    assert all(e["campaign_id"] == campaign_id and e["team_id"] == str(team.id) for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[1]["details"] == {"fields": ["name"]}
    assert events[2]["details"]["run_number"] == 1
    assert events[3]["details"]["skipped"] == 2
    assert events[4]["details"]["run_number"] == 2
    assert events[5]["details"]["delivery_id"] == failed["id"]
    assert events[5]["details"]["attempt"] == 2
    assert events[6]["details"]["copy_campaign_id"] == copy_id
    assert [e["action"] for e in copy_events] == ["duplicate", "delete"]
    assert [(e["status_before"], e["status_after"]) for e in copy_events] == [(None, "draft"), ("draft", None)]
    assert copy_events[0]["details"]["source_campaign_id"] == campaign_id
    assert copy_events[0]["details"]["dropped_user_count"] == 0
    assert copy_events[1]["actor_email"] == manager_me["email"]


async def test_team_trail_newest_first_with_filter(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    ids = []
    for name in ("First", "Second", "Third"):
        created = await api.post(
            f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, name=name), headers=team.auth()
        )
        ids.append(created.json()["id"])
    await api.post(f"/v1/campaigns/{ids[0]}/archive", headers=team.auth())
    url = f"/v1/teams/{team.id}/audit"

    everything = (await api.get(url, headers=team.auth("viewer"))).json()
    first_page = (await api.get(url, params={"action": "create", "limit": 2}, headers=team.auth("viewer"))).json()
    second_page = (
        await api.get(
            url, params={"action": "create", "limit": 2, "cursor": first_page["next_cursor"]}, headers=team.auth("viewer")
        )
    ).json()
    several = (await api.get(url, params=[("action", "archive"), ("action", "delete")], headers=team.auth())).json()

    assert [(e["action"], e["campaign_id"]) for e in everything["items"]] == [
        ("archive", ids[0]), ("create", ids[2]), ("create", ids[1]), ("create", ids[0]),
    ]
    assert everything["next_cursor"] is None
    assert [e["campaign_id"] for e in first_page["items"]] == [ids[2], ids[1]]
    assert [e["campaign_id"] for e in second_page["items"]] == [ids[0]]
    assert second_page["next_cursor"] is None
    assert [e["action"] for e in several["items"]] == ["archive"]


async def test_team_trail_rejects_unknown_action(api, directory):
    team = await directory.team()

    response = await api.get(f"/v1/teams/{team.id}/audit", params={"action": "launch"}, headers=team.auth())

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["action"]


async def test_campaign_trail_pages_oldest_first(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth())
    campaign_id = created.json()["id"]
    for name in ("Two", "Three"):
        await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": name}, headers=team.auth())

    first = await audit(api, campaign_id, team.auth(), limit=2)
    second = await audit(api, campaign_id, team.auth(), limit=2, cursor=first["next_cursor"])
    bad_cursor = await api.get(f"/v1/campaigns/{campaign_id}/audit", params={"cursor": "abc"}, headers=team.auth())

    assert [e["action"] for e in first["items"]] == ["create", "edit"]
    assert [e["action"] for e in second["items"]] == ["edit"]
    assert second["next_cursor"] is None
    assert bad_cursor.status_code == 422


async def test_rejected_action_records_nothing(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth())
    campaign_id = created.json()["id"]

    invalid_edit = await api.patch(
        f"/v1/campaigns/{campaign_id}", json={"template": {"body": "{{ nickname }}"}}, headers=team.auth()
    )
    bad_unarchive = await api.post(f"/v1/campaigns/{campaign_id}/unarchive", headers=team.auth())
    stop_draft = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth())

    assert invalid_edit.status_code == 422
    assert bad_unarchive.status_code == 409
    assert stop_draft.status_code == 409
    assert [e["action"] for e in (await audit(api, campaign_id, team.auth()))["items"]] == ["create"]


async def test_deleted_campaign_trail_scoped_to_team(api, directory):
    team = await directory.team(name="People Ops")
    outsider = await directory.team(name="Finance")
    users = await directory.recipients(team, 1)
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth())
    campaign_id = created.json()["id"]
    await api.delete(f"/v1/campaigns/{campaign_id}", headers=team.auth())

    own = await api.get(f"/v1/campaigns/{campaign_id}/audit", headers=team.auth("viewer"))
    other = await api.get(f"/v1/campaigns/{campaign_id}/audit", headers=outsider.auth("manager"))
    other_team_list = await api.get(f"/v1/teams/{team.id}/audit", headers=outsider.auth("manager"))

    assert own.status_code == 200
    assert [e["action"] for e in own.json()["items"]] == ["create", "delete"]
    assert other.status_code == 404
    assert "People Ops" not in other.text
    assert other_team_list.status_code == 404
    unknown = await api.get("/v1/campaigns/00000000-0000-0000-0000-000000000000/audit", headers=team.auth())
    assert unknown.status_code == 404
