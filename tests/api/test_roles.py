"""Which role may do what: every campaign action for a viewer, contributor, manager and non-member.

Each case sets the campaign up in the status its action needs, so only the
caller's role decides the status code: the action's success code, 403, or 404.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.factories import TeamFixture
from tests.helpers import campaign_body

FAR_FUTURE = {"type": "scheduled", "date": "2099-01-01", "time": "09:00", "timezone": "UTC"}


@dataclass
class Case:
    """A campaign prepared for one action, and the path parameters the action needs."""

    team: TeamFixture
    campaign_id: str = ""
    delivery_id: int | None = None
    users: list[Any] = field(default_factory=list)


async def _create(api, team, users, **overrides) -> str:
    response = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, **overrides), headers=team.auth("manager")
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _draft(api, pool, directory) -> Case:
    team = await directory.team()
    users = await directory.recipients(team, 2)
    return Case(team=team, campaign_id=await _create(api, team, users), users=users)


async def _scheduled(api, pool, directory) -> Case:
    case = await _draft_with_schedule(api, directory, FAR_FUTURE)
    started = await api.post(f"/v1/campaigns/{case.campaign_id}/run", headers=case.team.auth("manager"))
    assert started.status_code == 202, started.text
    return case


async def _draft_with_schedule(api, directory, schedule) -> Case:
    team = await directory.team()
    users = await directory.recipients(team, 2)
    return Case(team=team, campaign_id=await _create(api, team, users, schedule=schedule), users=users)


async def _stopped_with_skipped(api, pool, directory) -> Case:
    """A stopped campaign whose two recipients were skipped: ready for run again and retry."""
    case = await _scheduled(api, pool, directory)
    deadline = time.monotonic() + 15
    while True:
        async with pool.acquire() as connection:
            ids = await connection.fetch("SELECT id FROM deliveries WHERE campaign_id = $1 ORDER BY id", case.campaign_id)
        if len(ids) == 2:
            break
        assert time.monotonic() < deadline, "the run never wrote its delivery rows"
        await asyncio.sleep(0.05)
    stopped = await api.post(f"/v1/campaigns/{case.campaign_id}/stop", headers=case.team.auth("manager"))
    assert stopped.status_code == 200, stopped.text
    case.delivery_id = ids[0]["id"]
    return case


async def _archived(api, pool, directory) -> Case:
    case = await _draft(api, pool, directory)
    archived = await api.post(f"/v1/campaigns/{case.campaign_id}/archive", headers=case.team.auth("manager"))
    assert archived.status_code == 200, archived.text
    return case


async def _team_only(api, pool, directory) -> Case:
    team = await directory.team()
    return Case(team=team, users=await directory.recipients(team, 1))


def _csv_file(case: Case) -> dict[str, Any]:
    content = f"email,team\nperson1-{case.team.id.hex[:8]}@example.com,Blue\n"
    return {"file": ("recipients.csv", content.encode(), "text/csv")}


Request = Callable[[httpx.AsyncClient, Case, dict[str, str]], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Action:
    setup: Callable[..., Awaitable[Case]]
    request: Request
    required: str
    success: int


ACTIONS: dict[str, Action] = {
    "create": Action(
        _team_only,
        lambda api, c, h: api.post(f"/v1/teams/{c.team.id}/campaigns", json=campaign_body(user_ids=c.users), headers=h),
        "contributor",
        201,
    ),
    "edit": Action(
        _draft, lambda api, c, h: api.patch(f"/v1/campaigns/{c.campaign_id}", json={"name": "Renamed"}, headers=h),
        "contributor", 200,
    ),
    "preview": Action(
        _draft, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/preview", headers=h), "viewer", 200
    ),
    "run": Action(_draft, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/run", headers=h), "contributor", 202),
    "stop": Action(
        _scheduled, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/stop", headers=h), "contributor", 200
    ),
    "run again": Action(
        _stopped_with_skipped,
        lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/run-again", headers=h),
        "contributor",
        202,
    ),
    "retry": Action(
        _stopped_with_skipped,
        lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/deliveries/{c.delivery_id}/retry", headers=h),
        "contributor",
        202,
    ),
    "duplicate": Action(
        _draft, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/duplicate", headers=h), "contributor", 201
    ),
    "archive": Action(
        _draft, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/archive", headers=h), "manager", 200
    ),
    "unarchive": Action(
        _archived, lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/unarchive", headers=h), "manager", 200
    ),
    "delete": Action(_draft, lambda api, c, h: api.delete(f"/v1/campaigns/{c.campaign_id}", headers=h), "manager", 204),
    "csv upload": Action(
        _draft,
        lambda api, c, h: api.post(f"/v1/campaigns/{c.campaign_id}/recipients/csv", files=_csv_file(c), headers=h),
        "contributor",
        200,
    ),
    "list": Action(_draft, lambda api, c, h: api.get(f"/v1/teams/{c.team.id}/campaigns", headers=h), "viewer", 200),
    "read": Action(_draft, lambda api, c, h: api.get(f"/v1/campaigns/{c.campaign_id}", headers=h), "viewer", 200),
    "audit list": Action(_draft, lambda api, c, h: api.get(f"/v1/teams/{c.team.id}/audit", headers=h), "viewer", 200),
    "campaign audit": Action(
        _draft, lambda api, c, h: api.get(f"/v1/campaigns/{c.campaign_id}/audit", headers=h), "viewer", 200
    ),
}

ROLE_RANK = {"viewer": 1, "contributor": 2, "manager": 3}
CALLERS = ["viewer", "contributor", "manager", "non-member"]


def expected_status(caller: str, action: Action) -> int:
    if caller == "non-member":
        return 404
    return action.success if ROLE_RANK[caller] >= ROLE_RANK[action.required] else 403


async def _audit_event_count(pool) -> int:
    async with pool.acquire() as connection:
        return await connection.fetchval("SELECT count(*) FROM audit_events")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("action_name", list(ACTIONS))
async def test_role_decides(api, pool, directory, worker, smtp_sink, action_name, caller):
    action = ACTIONS[action_name]
    case = await action.setup(api, pool, directory)
    if caller == "non-member":
        headers = (await directory.team(name="Another team")).auth("manager")
    else:
        headers = case.team.auth(caller)
    events_before = await _audit_event_count(pool)

    response = await action.request(api, case, headers)

    expected = expected_status(caller, action)
    assert response.status_code == expected, response.text
    if expected in (403, 404):
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await _audit_event_count(pool) == events_before
    if expected == 403:
        assert action.required in response.json()["detail"]
