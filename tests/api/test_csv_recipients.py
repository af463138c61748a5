"""CSV recipient lists: the upload preview, file-level errors, template variables and sending."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.helpers import campaign_body, wait_for_status

PROBLEM_JSON = "application/problem+json"
CSV_TEMPLATE = {
    "subject": "Hello {{ first_name }}",
    "body": "Hi {{ first_name }}, {{ csv.department }} meets in {{ csv.office_location }}.",
}


def email_of(team, number: int) -> str:
    """Return the address the directory factory gives the team's n-th recipient (from 1)."""
    return f"person{number}-{team.id.hex[:8]}@example.com"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    return response.json()


def field_errors(response: httpx.Response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


async def create_campaign(api, team, user_ids, **overrides) -> str:
    response = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=user_ids, **overrides),
        headers=team.auth("contributor"),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def upload(api, campaign_id, content: str | bytes, headers, *, dry_run: bool = False) -> httpx.Response:
    data = content.encode() if isinstance(content, str) else content
    return await api.post(
        f"/v1/campaigns/{campaign_id}/recipients/csv",
        params={"dry_run": "true" if dry_run else "false"},
        files={"file": ("recipients.csv", data, "text/csv")},
        headers=headers,
    )


async def detail(api, campaign_id, team) -> dict[str, Any]:
    response = await api.get(f"/v1/campaigns/{campaign_id}", headers=team.auth("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_preview_names_bad_rows_and_values_render(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    campaign_id = await create_campaign(api, team, [users[0]])
    content = (
        "Email,timezone,Department,Office Location\n"
        f"{email_of(team, 1).upper()},Europe/Berlin,Finance,Berlin\n"
        "nobody@example.com,UTC,Sales,Paris\n"
        f"{email_of(team, 2)},Mars/Olympus,IT,Oslo\n"
        f"{email_of(team, 1)},UTC,Finance,Berlin\n"
        ",UTC,HR,Rome\n"
        f'{email_of(team, 3)},,Legal,"Lisbon, PT"\n'
    )

    preview = await upload(api, campaign_id, content, team.auth("contributor"), dry_run=True)

    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["dry_run"] is True
    assert body["saved"] is False
    assert body["row_count"] == 6
    assert body["valid_row_count"] == 2
    assert body["invalid_row_count"] == 4
    assert body["variables"] == ["csv.department", "csv.office_location"]
    assert body["has_timezone_column"] is True
    assert body["errors_truncated"] is False
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "email"), (4, "timezone"), (5, "email"), (6, "email")]
    messages = [e["message"] for e in body["errors"]]
    assert "no member of this team" in messages[0]
    assert "nobody@example.com" in messages[0]
    assert "Mars/Olympus" in messages[1]
    assert "duplicate row" in messages[2]
    assert "line 2" in messages[2]
    assert messages[3] == "email is missing"
    assert (await detail(api, campaign_id, team))["csv_recipients"] is None

    saved = await upload(api, campaign_id, content, team.auth("contributor"))
    assert saved.status_code == 200, saved.text
    assert saved.json()["saved"] is True
    assert saved.json()["csv_recipients"]["row_count"] == 2
    assert saved.json()["csv_recipients"]["variables"] == ["csv.department", "csv.office_location"]
    patched = await api.patch(
        f"/v1/campaigns/{campaign_id}", json={"template": CSV_TEMPLATE}, headers=team.auth("contributor")
    )
    assert patched.status_code == 200, patched.text
    summary = patched.json()["csv_recipients"]
    assert summary["row_count"] == 2
    assert summary["file_name"] == "recipients.csv"
    assert summary["uploaded_at"] is not None

    preview_counts = (await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth("viewer"))).json()
    assert preview_counts["recipient_count"] == 2
    assert preview_counts["unreachable_count"] == 0
    assert (await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))).status_code == 202
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert len(smtp_sink.messages) == 2
    first = smtp_sink.messages_to(email_of(team, 1))
    third = smtp_sink.messages_to(email_of(team, 3))
    assert len(first) == 1
    assert len(third) == 1
    assert "Hi First1, Finance meets in Berlin." in first[0].message.get_content()
    assert "Hi First3, Legal meets in Lisbon, PT." in third[0].message.get_content()
    assert smtp_sink.messages_to(email_of(team, 2)) == []


async def test_csv_only_campaign_runs(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, [users[0]])
    saved = await upload(api, campaign_id, f"email,team\n{email_of(team, 2)},Blue\n", team.auth("contributor"))
    assert saved.status_code == 200, saved.text

    patched = await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"targets": {"user_ids": [], "group_ids": []}, "template": {"subject": "Team", "body": "You are {{ csv.team }}"}},
        headers=team.auth("contributor"),
    )
    assert patched.status_code == 200, patched.text
    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))

    assert started.status_code == 202, started.text
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    assert [m.rcpt_tos for m in smtp_sink.messages] == [(email_of(team, 2),)]
    assert "You are Blue" in smtp_sink.messages[0].message.get_content()


async def test_run_without_any_target_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email\n{email_of(team, 1)}\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}", json={"targets": {"user_ids": [], "group_ids": []}}, headers=team.auth("contributor")
    )
    removed = await api.delete(f"/v1/campaigns/{campaign_id}/recipients/csv", headers=team.auth("contributor"))
    assert removed.status_code == 204, removed.text

    response = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))

    assert_problem(response, 422)
    assert "CSV list" in field_errors(response)["targets"]
    assert (await detail(api, campaign_id, team))["status"] == "draft"


async def test_recipient_outside_csv_fails_with_reason(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,department\n{email_of(team, 1)},Finance\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi", "body": "{{ csv.department }}"}},
        headers=team.auth("contributor"),
    )

    preview = (await api.post(f"/v1/campaigns/{campaign_id}/preview", headers=team.auth("viewer"))).json()
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert preview["recipient_count"] == 2
    assert preview["unreachable_count"] == 1
    assert preview["reachable_count"] == 1
    assert [r["count"] for r in preview["unreachable"]] == [1]
    assert "CSV list" in preview["unreachable"][0]["reason"]
    failed = (
        await api.get(f"/v1/campaigns/{campaign_id}/deliveries", params={"status": "failed"}, headers=team.auth())
    ).json()["items"]
    assert [d["email"] for d in failed] == [email_of(team, 2)]
    assert "no row for this recipient in the campaign's CSV list" in failed[0]["last_error"]
    assert [m.rcpt_tos for m in smtp_sink.messages] == [(email_of(team, 1),)]
    assert "Finance" in smtp_sink.messages[0].message.get_content()


async def test_csv_zone_overrides_profile_zone(api, pool, directory, worker):
    team = await directory.team(default_timezone="UTC")
    users = await directory.recipients(team, 2, timezone="Europe/Berlin")
    schedule = {"type": "local_time", "date": "2099-01-01", "time": "09:00"}
    campaign_id = await create_campaign(api, team, users, schedule=schedule)
    await upload(api, campaign_id, f"email,timezone\n{email_of(team, 1)},Asia/Tokyo\n", team.auth("contributor"))

    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))

    deadline = time.monotonic() + 15
    while True:
        async with pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT user_id, timezone, wave FROM deliveries WHERE campaign_id = $1", campaign_id
            )
        if len(rows) == 2:
            break
        assert time.monotonic() < deadline, "the run never wrote its delivery rows"
        await asyncio.sleep(0.05)
    zones = {r["user_id"]: r["timezone"] for r in rows}
    assert zones == {users[0]: "Asia/Tokyo", users[1]: "Europe/Berlin"}
    assert len({r["wave"] for r in rows}) == 2
    await api.post(f"/v1/campaigns/{campaign_id}/stop", headers=team.auth("contributor"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(b"\n\n", "the file is empty", id="blank-lines"),
        pytest.param(b"name,department\nAda,IT\n", "no 'email' column", id="missing-email-column"),
        pytest.param(b"email,team\n\xff\xfeperson@example.com,IT\n", "not valid UTF-8: line 2", id="not-utf8"),
        pytest.param(b'email,team\n"person@example.com,IT\n', "malformed CSV", id="unterminated-quote"),
        pytest.param(b'email,team\n"person@example.com"x,IT\n', "malformed CSV at line 2", id="text-after-quote"),
        pytest.param(
            b"email,First Name,first_name\n", "'First Name' and 'first_name' both become 'first_name'", id="duplicate-column"
        ),
        pytest.param(b"email,Email\n", "both become 'email'", id="duplicate-email-column"),
        pytest.param(b"email,,team\n", "column 2 has no usable name", id="unnamed-column"),
        pytest.param(b"email,2FA\n", "must start with a letter", id="digit-column"),
    ],
)
async def test_file_level_errors(api, directory, content, expected):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    for dry_run in (True, False):
        response = await upload(api, campaign_id, content, team.auth("contributor"), dry_run=dry_run)

        assert_problem(response, 422)
        errors = field_errors(response)
        assert list(errors) == ["file"]
        assert expected in errors["file"]
    assert (await detail(api, campaign_id, team))["csv_recipients"] is None


async def test_missing_file_field(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.post(f"/v1/campaigns/{campaign_id}/recipients/csv", headers=team.auth("contributor"))

    assert_problem(response, 422)
    assert list(field_errors(response)) == ["file"]


async def test_bom_and_blank_lines_are_accepted(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    content = f"\ufeffEMAIL,Cost Center\r\n{email_of(team, 1)},CC-1\r\n\r\n,\r\n{email_of(team, 2)},CC-2\r\n"

    response = await upload(api, campaign_id, content, team.auth("contributor"))

    assert response.status_code == 200, response.text
    assert response.json()["row_count"] == 2
    assert response.json()["valid_row_count"] == 2
    assert response.json()["variables"] == ["csv.cost_center"]
    assert response.json()["has_timezone_column"] is False


async def test_row_with_extra_fields_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    content = f"email,team\n{email_of(team, 1)},Blue,extra\n{email_of(team, 2)},Red,\n"

    response = await upload(api, campaign_id, content, team.auth("contributor"), dry_run=True)

    assert response.status_code == 200, response.text
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(2, "row")]
    assert "3 fields" in response.json()["errors"][0]["message"]
    assert response.json()["valid_row_count"] == 1


async def test_file_without_valid_row_keeps_previous_list(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Blue\n", team.auth("contributor"))

    response = await upload(api, campaign_id, "email,team\nnobody@example.com,Red\n", team.auth("contributor"))

    problem = assert_problem(response, 422)
    assert "nothing was saved" in problem["errors"][0]["message"]
    assert "nobody@example.com" in problem["errors"][0]["message"]
    assert (await detail(api, campaign_id, team))["csv_recipients"]["variables"] == ["csv.team"]


async def test_upload_again_replaces_list(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, [users[0]])
    await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Blue\n{email_of(team, 2)},Red\n", team.auth("contributor"))

    replaced = await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Green\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Team", "body": "Team {{ csv.team }}"}},
        headers=team.auth("contributor"),
    )
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert replaced.json()["csv_recipients"]["row_count"] == 1
    assert [m.rcpt_tos for m in smtp_sink.messages] == [(email_of(team, 1),)]
    assert "Team Green" in smtp_sink.messages[0].message.get_content()


async def test_template_csv_variable_without_list_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)

    created = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json=campaign_body(user_ids=users, template={"subject": "Hi", "body": "{{ csv.department }}"}),
        headers=team.auth("contributor"),
    )

    assert_problem(created, 422)
    errors = field_errors(created)
    assert list(errors) == ["template.body"]
    assert "csv.department needs a CSV recipient list" in errors["template.body"]


async def test_template_unknown_csv_column_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Blue\n", team.auth("contributor"))

    response = await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi {{ csv.team }}", "body": "{{ csv.department }}"}},
        headers=team.auth("contributor"),
    )

    assert_problem(response, 422)
    errors = field_errors(response)
    assert list(errors) == ["template.body"]
    assert "unknown CSV column(s): csv.department" in errors["template.body"]
    assert "csv.team" in errors["template.body"]


async def test_upload_missing_template_column_rejected(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,department\n{email_of(team, 1)},IT\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi", "body": "{{ csv.department }}"}},
        headers=team.auth("contributor"),
    )

    response = await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Blue\n", team.auth("contributor"))

    assert_problem(response, 422)
    errors = field_errors(response)
    assert "csv.department" in errors["file"]
    assert "no 'department' column" in errors["file"]
    assert (await detail(api, campaign_id, team))["csv_recipients"]["variables"] == ["csv.department"]


async def test_delete_list_used_by_template_conflict(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,department\n{email_of(team, 1)},IT\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi", "body": "{{ csv.department }}"}},
        headers=team.auth("contributor"),
    )

    response = await api.delete(f"/v1/campaigns/{campaign_id}/recipients/csv", headers=team.auth("contributor"))

    problem = assert_problem(response, 409)
    assert "csv.department" in problem["detail"]
    assert (await detail(api, campaign_id, team))["csv_recipients"]["row_count"] == 1


async def test_delete_missing_list_not_found(api, directory):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)

    response = await api.delete(f"/v1/campaigns/{campaign_id}/recipients/csv", headers=team.auth("contributor"))

    problem = assert_problem(response, 404)
    assert "no CSV recipient list" in problem["detail"]


async def test_upload_after_run_conflict(api, directory):
    # No worker serves this test's task queue, so the campaign stays in sending.
    team = await directory.team()
    users = await directory.recipients(team, 1)
    campaign_id = await create_campaign(api, team, users)
    await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth("contributor"))

    response = await upload(api, campaign_id, f"email\n{email_of(team, 1)}\n", team.auth("contributor"))

    problem = assert_problem(response, 409)
    assert problem["current_status"] == "sending"
    assert "only in draft" in problem["detail"]


async def test_duplicate_copies_csv_list(api, pool, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    users = await directory.recipients(team, 2)
    campaign_id = await create_campaign(api, team, users)
    await upload(api, campaign_id, f"email,team\n{email_of(team, 1)},Blue\n{email_of(team, 2)},Red\n", team.auth("contributor"))
    await api.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"template": {"subject": "Hi", "body": "{{ csv.team }}"}},
        headers=team.auth("contributor"),
    )
    caller = team.auth("contributor")
    caller_id = (await api.get("/v1/me", headers=caller)).json()["user_id"]
    async with pool.acquire() as connection:
        await connection.executemany(
            "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2::uuid, $3)",
            [(other.id, caller_id, "contributor"), (other.id, str(users[1]), "member")],
        )

    response = await api.post(f"/v1/campaigns/{campaign_id}/duplicate", json={"team_id": str(other.id)}, headers=caller)

    assert response.status_code == 201, response.text
    copy = response.json()
    assert copy["csv_recipients"]["row_count"] == 1
    assert copy["csv_recipients"]["variables"] == ["csv.team"]
    assert copy["dropped_targets"]["csv_row_count"] == 1
    assert copy["dropped_targets"]["user_ids"] == [str(users[0])]
    assert copy["template"]["body"] == "{{ csv.team }}"
