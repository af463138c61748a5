"""Rejected campaign input: 422 problem details that name the field, and edits after sending."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import campaign_body, wait_for_status

PROBLEM_JSON = "application/problem+json"


def field_errors(response: httpx.Response) -> dict[str, str]:
    """Return the problem's ``errors`` as a mapping of field name to message."""
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["status"] == status
    return problem


async def create(api, team, body: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/v1/teams/{team.id}/campaigns", json=body, headers=team.auth("contributor"))


async def test_unknown_variable_in_body(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    body = campaign_body(user_ids=users, template={"subject": "Hi", "body": "Hello {{ nickname }}"})

    response = await create(api, team, body)

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["template.body"]
    assert "nickname" in errors["template.body"]
    assert "first_name" in errors["template.body"]


async def test_unknown_variable_in_subject(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    body = campaign_body(user_ids=users, template={"subject": "For {{ department }}", "body": "Hello"})

    response = await create(api, team, body)

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["template.subject"]
    assert "department" in errors["template.subject"]


async def test_template_syntax_error_names_line(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    source = "Hello {{ first_name }},\n\nYour laptop is due {% if %}.\n"
    body = campaign_body(user_ids=users, template={"subject": "Hi", "body": source})

    response = await create(api, team, body)

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["template.body"]
    assert "syntax error" in errors["template.body"]
    assert "line 3" in errors["template.body"]


async def test_empty_targets(api, directory):
    team = await directory.team()

    response = await create(api, team, campaign_body())

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["targets"]


async def test_unknown_channel(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)

    response = await create(api, team, campaign_body(user_ids=users, channel="pigeon"))

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["channel"]


async def test_channel_not_available_yet(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)

    response = await create(api, team, campaign_body(user_ids=users, channel="slack"))

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["channel"]
    assert "slack" in errors["channel"]
    assert "email" in errors["channel"]


async def test_malformed_json(api, directory):
    team = await directory.team()

    response = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        content=b'{"name": "Laptop refresh", "channel": ',
        headers={**team.auth("contributor"), "Content-Type": "application/json"},
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["body"]
    assert "malformed JSON" in errors["body"]


async def test_missing_name(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    body = campaign_body(user_ids=users)
    del body["name"]

    response = await create(api, team, body)

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["name"]


async def test_target_user_of_other_team(api, directory):
    team = await directory.team()
    own = await directory.recipients(team, 1)
    other_team = await directory.team(name="Finance")
    foreign = await directory.recipients(other_team, 1)

    response = await create(api, team, campaign_body(user_ids=own + foreign))

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["targets.user_ids"]
    assert str(foreign[0]) in errors["targets.user_ids"]
    assert str(own[0]) not in errors["targets.user_ids"]


async def test_rejected_campaign_not_saved(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    await create(api, team, campaign_body(user_ids=users, channel="slack"))

    listed = await api.get(f"/v1/teams/{team.id}/campaigns", headers=team.auth("viewer"))

    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


async def test_list_invalid_cursor(api, directory):
    team = await directory.team()

    response = await api.get(
        f"/v1/teams/{team.id}/campaigns", params={"cursor": "not-a-cursor"}, headers=team.auth("viewer")
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["cursor"]


async def test_list_truncated_cursor(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    for _ in range(3):
        assert (await create(api, team, campaign_body(user_ids=users))).status_code == 201
    first = await api.get(f"/v1/teams/{team.id}/campaigns", params={"limit": 1}, headers=team.auth("viewer"))
    cursor = first.json()["next_cursor"]
    assert cursor

    response = await api.get(
        f"/v1/teams/{team.id}/campaigns", params={"cursor": cursor[:-6], "limit": 1}, headers=team.auth("viewer")
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["cursor"]


async def test_deliveries_invalid_cursor(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = await create(api, team, campaign_body(user_ids=users))
    campaign_id = created.json()["id"]

    response = await api.get(
        f"/v1/campaigns/{campaign_id}/deliveries", params={"cursor": "page-2"}, headers=team.auth("viewer")
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["cursor"]


async def test_list_limit_out_of_range(api, directory):
    team = await directory.team()

    for limit in (0, 501):
        response = await api.get(
            f"/v1/teams/{team.id}/campaigns", params={"limit": limit}, headers=team.auth("viewer")
        )

        assert_problem(response, 422)
        assert list(field_errors(response)) == ["limit"], limit


async def test_list_invalid_status_filter(api, directory):
    team = await directory.team()

    response = await api.get(
        f"/v1/teams/{team.id}/campaigns", params={"status": "finished"}, headers=team.auth("viewer")
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["status"]
    assert "draft" in errors["status"]


async def test_deliveries_invalid_status_filter(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = await create(api, team, campaign_body(user_ids=users))
    campaign_id = created.json()["id"]

    response = await api.get(
        f"/v1/campaigns/{campaign_id}/deliveries", params={"status": "bounced"}, headers=team.auth("viewer")
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["status"]


async def test_patch_draft_updates_it(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    created = await create(api, team, campaign_body(user_ids=users[:1]))
    campaign_id = created.json()["id"]
    template = {"subject": "Reminder for {{ first_name }}", "body": "Bring your laptop, {{ full_name }}."}

    response = await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"name": "Laptop return", "template": template, "targets": {"user_ids": [str(u) for u in users]}},
        headers=team.auth("contributor"),
    )

    assert response.status_code == 200, response.text
    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth("viewer"))).json()
    assert detail["status"] == "draft"
    assert detail["name"] == "Laptop return"
    assert detail["template"] == template
    assert detail["targets"]["user_ids"] == [str(u) for u in users]
    assert detail["channel"] == "email"
    assert detail["description"] == ""


async def test_patch_draft_rejects_unknown_variable(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    created = await create(api, team, campaign_body(user_ids=users))
    campaign_id = created.json()["id"]

    response = await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi", "body": "Hello {{ nickname }}"}},
        headers=team.auth("contributor"),
    )

    assert_problem(response, 422)
    assert list(field_errors(response)) == ["template.body"]
    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth("viewer"))).json()
    assert detail["template"] == created.json()["template"]


async def test_patch_sent_campaign_conflict(api, directory, worker):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    created = await create(api, team, campaign_body(user_ids=users))
    campaign_id = created.json()["id"]
    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    assert started.status_code == 202, started.text
    await wait_for_status(api, campaign_id, team.auth("viewer"), {"sent"})

    response = await api.patch(
        f"/v1/campaigns/{campaign_id}", json={"name": "Too late"}, headers=team.auth("contributor")
    )

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "sent"
    assert problem["action"] == "edit"
    assert isinstance(problem["allowed_actions"], list)
    assert "'sent'" in problem["detail"]
    assert "allowed actions" in problem["detail"]
    detail = (await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth("viewer"))).json()
    assert detail["name"] == "Laptop refresh"
