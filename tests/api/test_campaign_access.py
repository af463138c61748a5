"""Who may see and change a team's campaigns, and how the team's campaign list pages."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.helpers import campaign_body, wait_for_status

PROBLEM_JSON = "application/problem+json"


async def create_campaign(api, team, user_ids: list[uuid.UUID], **overrides) -> str:
    response = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=user_ids, **overrides),
        headers=team.auth("contributor"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def request_campaign(api: httpx.AsyncClient, operation: str, campaign_id: str, headers: dict[str, str]):
    """Send one of the campaign operations that take a campaign id."""
    if operation == "get":
        return await api.get(f"/v1/campaigns/{campaign_id}", headers=headers)
    if operation == "patch":
        return await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "Renamed"}, headers=headers)
    if operation == "preview":
        return await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=headers)
    if operation == "run":
        return await api.post(f"/v1/campaigns/{campaign_id}/run", headers=headers)
    if operation == "deliveries":
        return await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=headers)
    raise ValueError(f"unknown operation {operation!r}")


@pytest.mark.parametrize("operation", ["get", "patch", "preview", "run", "deliveries"])
async def test_other_team_campaign_not_found(api, directory, operation):
    owner = await directory.team(name="People Ops")
    users = await directory.recipients(owner, 2)
    campaign_id = await create_campaign(api, owner, users)
    outsider = await directory.team(name="Finance")

    response = await request_campaign(api, operation, campaign_id, outsider.auth("manager"))

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "People Ops" not in response.text
    detail = await api.get(f"/v1/campaigns/{campaign_id}", headers=owner.auth("viewer"))
    assert detail.json()["status"] == "draft"
    assert detail.json()["name"] == "Laptop refresh"
    assert detail.json()["runs"] == []


async def test_other_team_campaign_list_not_found(api, directory):
    owner = await directory.team(name="People Ops")
    outsider = await directory.team(name="Finance")

    response = await api.get(f"/v1/teams/{owner.id}/campaigns", headers=outsider.auth("manager"))

    assert response.status_code == 404, response.text


async def test_unknown_campaign_not_found(api, directory):
    team = await directory.team()

    response = await api.get(f"/v1/campaigns/{uuid.uuid4()}", headers=team.auth("manager"))

    assert response.status_code == 404, response.text


async def test_viewer_cannot_create(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)

    response = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth("viewer")
    )

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "contributor" in response.json()["detail"]
    listed = await api.get(f"/v1/teams/{team.id}/campaigns", headers=team.auth("viewer"))
    assert listed.json()["items"] == []


async def test_viewer_cannot_run(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("viewer"))

    assert response.status_code == 403, response.text
    detail = await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth("viewer"))
    assert detail.json()["status"] == "draft"
    assert detail.json()["runs"] == []


async def test_viewer_cannot_patch(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.patch(f"/v1/campaigns/{campaign_id}", json={"name": "Renamed"}, headers=team.auth("viewer"))

    assert response.status_code == 403, response.text


async def test_viewer_can_read(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    campaign_id = await create_campaign(api, team, users)
    viewer = team.auth("viewer")

    detail = await api.get(f"/v1/campaigns/{campaign_id}", headers=viewer)
    listed = await api.get(f"/v1/teams/{team.id}/campaigns", headers=viewer)
    preview = await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=viewer)
    deliveries = await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=viewer)

    assert detail.status_code == 200, detail.text
    assert detail.json()["id"] == campaign_id
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [campaign_id]
    assert preview.status_code == 200, preview.text
    assert preview.json()["recipient_count"] == 3
    assert deliveries.status_code == 200, deliveries.text
    assert deliveries.json()["items"] == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer cmp_not-a-real-token"}, id="unknown"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="wrong-scheme"),
        pytest.param({"Authorization": "Bearer "}, id="empty"),
    ],
)
async def test_bad_token_unauthorized(api, directory, headers):
    team = await directory.team()

    response = await api.get(f"/v1/teams/{team.id}/campaigns", headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_member_role_not_found(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    me = await api.get("/v1/me", headers=team.auth("contributor"))
    contributor_id = me.json()["user_id"]
    demoted = await api.put(
        f"/v1/teams/{team.id}/members/{contributor_id}", json={"role": "member"}, headers=team.auth("manager")
    )
    assert demoted.status_code == 204, demoted.text
    member = team.auth("contributor")

    detail = await api.get(f"/v1/campaigns/{campaign_id}", headers=member)
    listed = await api.get(f"/v1/teams/{team.id}/campaigns", headers=member)
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=member)
    run = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=member)

    assert detail.status_code == 404, detail.text
    assert listed.status_code == 404, listed.text
    assert created.status_code == 404, created.text
    assert run.status_code == 404, run.text


async def test_list_scoped_to_team(api, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    own_users = await directory.recipients(team, 1)
    other_users = await directory.recipients(other, 1)
    own = [await create_campaign(api, team, own_users, name=f"Own {n}") for n in range(2)]
    await create_campaign(api, other, other_users, name="Foreign")

    response = await api.get(f"/v1/teams/{team.id}/campaigns", headers=team.auth("viewer"))

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {item["id"] for item in items} == set(own)
    assert {item["team_id"] for item in items} == {str(team.id)}
    assert response.json()["next_cursor"] is None


async def test_list_newest_first(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = [await create_campaign(api, team, users, name=f"Campaign {n}") for n in range(4)]

    response = await api.get(f"/v1/teams/{team.id}/campaigns", headers=team.auth("viewer"))

    items = response.json()["items"]
    assert [item["id"] for item in items] == list(reversed(created))
    timestamps = [item["created_at"] for item in items]
    assert timestamps == sorted(timestamps, reverse=True)


async def test_list_cursor_walks_all_pages(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = [await create_campaign(api, team, users, name=f"Campaign {n}") for n in range(7)]

    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        response = await api.get(f"/v1/teams/{team.id}/campaigns", params=params, headers=team.auth("viewer"))
        assert response.status_code == 200, response.text
        pages.append([item["id"] for item in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10, "pagination did not end"

    walked = [campaign_id for page in pages for campaign_id in page]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert len(walked) == len(set(walked))
    assert walked == list(reversed(created))


async def test_list_exact_page_has_no_next_cursor(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    for n in range(3):
        await create_campaign(api, team, users, name=f"Campaign {n}")

    response = await api.get(f"/v1/teams/{team.id}/campaigns", params={"limit": 3}, headers=team.auth("viewer"))

    assert len(response.json()["items"]) == 3
    assert response.json()["next_cursor"] is None


async def test_list_status_filter(api, directory, worker):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    drafts = [await create_campaign(api, team, users, name=f"Draft {n}") for n in range(2)]
    sent = await create_campaign(api, team, users, name="Sent")
    started = await api.post(f"/v1/campaigns/{sent}/run", headers=team.auth("contributor"))
    assert started.status_code == 202, started.text
    await wait_for_status(api, sent, team.auth("viewer"), {"sent"})
    url = f"/v1/teams/{team.id}/campaigns"

    only_drafts = await api.get(url, params={"status": "draft"}, headers=team.auth("viewer"))
    only_sent = await api.get(url, params={"status": "sent"}, headers=team.auth("viewer"))
    both = await api.get(url, params=[("status", "draft"), ("status", "sent")], headers=team.auth("viewer"))
    none = await api.get(url, params={"status": "scheduled"}, headers=team.auth("viewer"))

    assert {item["id"] for item in only_drafts.json()["items"]} == set(drafts)
    assert [item["id"] for item in only_sent.json()["items"]] == [sent]
    assert only_sent.json()["items"][0]["counts"]["delivered"] == 2
    assert {item["id"] for item in both.json()["items"]} == {*drafts, sent}
    assert none.json()["items"] == []


async def test_list_status_filter_pages(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    drafts = [await create_campaign(api, team, users, name=f"Draft {n}") for n in range(5)]

    first = await api.get(
        f"/v1/teams/{team.id}/campaigns", params={"status": "draft", "limit": 2}, headers=team.auth("viewer")
    )
    rest = await api.get(
        f"/v1/teams/{team.id}/campaigns",
        params={"status": "draft", "limit": 10, "cursor": first.json()["next_cursor"]},
        headers=team.auth("viewer"),
    )

    walked = [item["id"] for item in first.json()["items"] + rest.json()["items"]]
    assert walked == list(reversed(drafts))
    assert rest.json()["next_cursor"] is None
