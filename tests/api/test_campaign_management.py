"""Duplicate, archive, unarchive and delete campaigns, and the list each one ends up in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import campaign_body, wait_for_status

PROBLEM_JSON = "application/problem+json"

RECURRING_SCHEDULE = {
    "type": "recurring",
    "recurrence": {"kind": "weekly", "weekdays": [0, 2], "time_of_day": "09:00", "timezone": "Europe/Berlin"},
    "delivery": "immediate",
}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    return response.json()


async def create_campaign(api, team, user_ids, **overrides) -> str:
    response = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=user_ids, **overrides),
        headers=team.auth("contributor"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def user_id_of(api, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await api.get("/v1/me", headers=headers)).json()["user_id"])


async def add_member(pool, team_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, $3)", team_id, user_id, role
        )


async def insert_recurring_campaign(pool, team, *, user_ids, group_ids) -> uuid.UUID:
    """Insert an active weekly series straight into the table, as the series API would leave it."""
    campaign_id = uuid.uuid4()
    async with pool.acquire() as connection:
        await connection.execute(
            """
            INSERT INTO campaigns (id, team_id, kind, name, description, channel, subject_template, body_template,
                                   schedule, target_user_ids, target_group_ids, status)
            VALUES ($1, $2, 'recurring', 'Weekly check-in', 'How the week went', 'email', 'Hi {{ first_name }}',
                    'How was your week, {{ full_name }}?', $3, $4, $5, 'active')
            """,
            campaign_id,
            team.id,
            RECURRING_SCHEDULE,
            user_ids,
            group_ids,
        )
    return campaign_id


async def list_ids(api, team, *, archived: bool | None = None, **params) -> list[str]:
    if archived is not None:
        params["archived"] = str(archived).lower()
    response = await api.get(f"/v1/teams/{team.id}/campaigns", params=params, headers=team.auth("viewer"))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_duplicate_recurring_into_other_team(api, pool, directory):
    source_team = await directory.team(name="People Ops")
    target_team = await directory.team(name="Finance")
    shared_user, source_only = await directory.recipients(source_team, 2)
    group_id = await directory.group(source_team, "Everyone", [shared_user, source_only])
    await add_member(pool, target_team.id, shared_user, "member")
    caller = source_team.auth("contributor")
    await add_member(pool, target_team.id, await user_id_of(api, caller), "contributor")
    source_id = await insert_recurring_campaign(pool, source_team, user_ids=[shared_user, source_only], group_ids=[group_id])

    response = await api.post(
        f"/v1/campaigns/{source_id}/duplicate", json={"team_id": str(target_team.id)}, headers=caller
    )

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["id"] != str(source_id)
    assert copy["team_id"] == str(target_team.id)
    assert copy["kind"] == "recurring"
    assert copy["status"] == "draft"
    assert copy["schedule"] == RECURRING_SCHEDULE
    assert copy["template"] == {"subject": "Hi {{ first_name }}", "body": "How was your week, {{ full_name }}?"}
    assert copy["name"] == "Copy of Weekly check-in"
    assert copy["description"] == "How the week went"
    assert copy["channel"] == "email"
    assert copy["targets"] == {"user_ids": [str(shared_user)], "group_ids": []}
    assert copy["dropped_targets"] == {"user_ids": [str(source_only)], "group_ids": [str(group_id)], "csv_row_count": 0}
    assert copy["runs"] == []
    assert copy["archived_at"] is None
    detail = await api.get(f"/v1/campaigns/{copy['id']}", headers=target_team.auth("viewer"))
    assert detail.status_code == 200
    assert detail.json()["schedule"] == RECURRING_SCHEDULE
    source = await api.get(f"/v1/campaigns/{source_id}", headers=source_team.auth("viewer"))
    assert source.json()["status"] == "active"
    assert source.json()["team_id"] == str(source_team.id)


async def test_duplicate_defaults_to_same_team(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    group_id = await directory.group(team, "Everyone", users)
    long_name = "N" * 200
    targets = {"user_ids": [str(users[0])], "group_ids": [str(group_id)]}
    source_id = await create_campaign(api, team, users, name=long_name, targets=targets)

    response = await api.post(f"/v1/campaigns/{source_id}/duplicate", headers=team.auth("contributor"))

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["team_id"] == str(team.id)
    assert copy["name"] == ("Copy of " + long_name)[:200]
    assert len(copy["name"]) == 200
    assert copy["targets"] == {"user_ids": [str(users[0])], "group_ids": [str(group_id)]}
    assert copy["dropped_targets"] == {"user_ids": [], "group_ids": [], "csv_row_count": 0}


async def test_duplicate_with_name_of_sent_campaign(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    source_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{source_id}/run", headers=team.auth("contributor"))
    await wait_for_status(api, source_id, team.auth(), {"sent"})

    response = await api.post(
        f"/v1/campaigns/{source_id}/duplicate", json={"name": "Laptop refresh, round 2"}, headers=team.auth("contributor")
    )

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["name"] == "Laptop refresh, round 2"
    assert copy["status"] == "draft"
    assert copy["runs"] == []
    assert copy["counts"] is None


async def test_duplicate_into_team_without_membership(api, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    users = await directory.recipients(team, 1)
    source_id = await create_campaign(api, team, users)

    response = await api.post(
        f"/v1/campaigns/{source_id}/duplicate", json={"team_id": str(other.id)}, headers=team.auth("contributor")
    )

    assert_problem(response, 404)
    assert await list_ids(api, other) == []


async def test_duplicate_into_team_as_viewer(api, pool, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    users = await directory.recipients(team, 1)
    source_id = await create_campaign(api, team, users)
    caller = team.auth("contributor")
    await add_member(pool, other.id, await user_id_of(api, caller), "viewer")

    response = await api.post(f"/v1/campaigns/{source_id}/duplicate", json={"team_id": str(other.id)}, headers=caller)

    problem = assert_problem(response, 403)
    assert "contributor" in problem["detail"]
    assert await list_ids(api, other) == []


async def test_duplicate_rejects_bad_body(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    source_id = await create_campaign(api, team, users)

    response = await api.post(
        f"/v1/campaigns/{source_id}/duplicate", json={"name": "x" * 201}, headers=team.auth("contributor")
    )

    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["name"]


async def test_archived_campaign_leaves_main_list(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    kept = await create_campaign(api, team, users, name="Kept")
    archived = await create_campaign(api, team, users, name="Archived")

    response = await api.post(f"/v1/campaigns/{archived}/archive", headers=team.auth("manager"))

    assert response.status_code == 200, response.text
    assert response.json()["archived_at"] is not None
    assert await list_ids(api, team) == [kept]
    assert await list_ids(api, team, archived=False) == [kept]
    assert await list_ids(api, team, archived=True) == [archived]
    detail = (await api.get(f"/v1/campaigns/{archived}", headers=team.auth("viewer"))).json()
    assert detail["archived_at"] == response.json()["archived_at"]
    assert (await api.get(f"/v1/campaigns/{kept}", headers=team.auth("viewer"))).json()["archived_at"] is None


async def test_archived_list_pages_with_cursor(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    ids = [await create_campaign(api, team, users, name=f"Old {n}") for n in range(3)]
    for campaign_id in ids:
        assert (await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())).status_code == 200

    first = await api.get(
        f"/v1/teams/{team.id}/campaigns", params={"archived": "true", "limit": 2}, headers=team.auth("viewer")
    )
    second = await api.get(
        f"/v1/teams/{team.id}/campaigns",
        params={"archived": "true", "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=team.auth("viewer"),
    )

    assert [c["id"] for c in first.json()["items"]] == [ids[2], ids[1]]
    assert [c["id"] for c in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None


async def test_unarchive_returns_to_main_list(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    response = await api.post(f"/v1/campaigns/{campaign_id}/unarchive", headers=team.auth())

    assert response.status_code == 200, response.text
    assert response.json()["archived_at"] is None
    assert await list_ids(api, team) == [campaign_id]
    assert await list_ids(api, team, archived=True) == []


async def test_archive_sending_campaign_conflict(api, directory):
    # No worker serves this test's task queue, so the run stays in sending.
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    assert started.json()["campaign"]["status"] == "sending"

    response = await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "sending"
    assert problem["action"] == "archive"
    assert "'sending'" in problem["detail"]
    assert "stop it first" in problem["detail"]
    assert "archive" not in problem["allowed_actions"]
    assert "stop" in problem["allowed_actions"]
    assert await list_ids(api, team) == [campaign_id]

    stopped = await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth("contributor"))
    assert stopped.status_code == 200, stopped.text
    archived = await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())
    assert archived.status_code == 200, archived.text


async def test_archive_scheduled_campaign_conflict(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    schedule = {"type": "scheduled", "date": "2099-01-01", "time": "09:00", "timezone": "UTC"}
    campaign_id = await create_campaign(api, team, users, schedule=schedule)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))

    response = await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "scheduled"
    assert "stop it first" in problem["detail"]


async def test_archive_active_series_conflict(api, pool, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await insert_recurring_campaign(pool, team, user_ids=users, group_ids=[])

    response = await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "active"
    assert "pause it first" in problem["detail"]


async def test_archive_twice_conflict(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    response = await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    problem = assert_problem(response, 409)
    assert "already archived" in problem["detail"]
    assert "unarchive" in problem["allowed_actions"]


async def test_unarchive_not_archived_conflict(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.post(f"/v1/campaigns/{campaign_id}/unarchive", headers=team.auth())

    problem = assert_problem(response, 409)
    assert "not archived" in problem["detail"]
    assert "archive" in problem["allowed_actions"]


async def test_archived_campaign_rejects_run_and_edit(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    run = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    edit = await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "New"}, headers=team.auth("contributor"))

    for response in (run, edit):
        problem = assert_problem(response, 409)
        assert "archived" in problem["detail"]
        assert "unarchive it first" in problem["detail"]
    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth())).json()
    assert detail["status"] == "draft"
    assert detail["name"] == "Laptop refresh"


async def test_archived_campaign_can_be_duplicated(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    response = await api.post(f"/v1/campaigns/{campaign_id}/duplicate", headers=team.auth("contributor"))

    assert response.status_code == 201, response.text
    assert response.json()["archived_at"] is None
    assert await list_ids(api, team) == [response.json()["id"]]


async def test_delete_sent_campaign_conflict(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    response = await api.delete(f"/v1/campaigns/{campaign_id}", headers=team.auth())

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "sent"
    assert problem["action"] == "delete"
    assert "'sent'" in problem["detail"]
    assert "only drafts" in problem["detail"]
    assert (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth())).status_code == 200


async def test_delete_draft_removes_it(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.delete(f"/v1/campaigns/{campaign_id}", headers=team.auth())

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth()), 404)
    assert_problem(await api.delete(f"/v1/campaigns/{campaign_id}", headers=team.auth()), 404)
    assert_problem(await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth()), 404)
    assert await list_ids(api, team) == []
    assert await list_ids(api, team, archived=True) == []


async def test_delete_archived_draft(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/archive", headers=team.auth())

    response = await api.delete(f"/v1/campaigns/{campaign_id}", headers=team.auth())

    assert response.status_code == 204, response.text
    assert await list_ids(api, team, archived=True) == []
