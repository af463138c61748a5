"""Teams, users, groups, roles, tokens and the CSV user import, through the HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def field_errors(response: httpx.Response) -> dict[str, str]:
    """Return the problem's ``errors`` as a mapping of field name to message."""
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def email_of(team, role: str) -> str:
    """Return the address that the directory factory gives the team's user with ``role``."""
    return f"{role}-{team.id.hex[:8]}@example.com"


async def user_id_of(api, team, role: str) -> str:
    me = await api.get("/v1/me", headers=team.auth(role))
    assert me.status_code == 200, me.text
    return me.json()["user_id"]


async def add_user(api, team, **body: Any) -> httpx.Response:
    return await api.post(f"/v1/teams/{team.id}/users", json=body, headers=team.auth("manager"))


async def import_csv(api, team, content: bytes, *, role: str = "manager") -> httpx.Response:
    return await api.post(
        f"/v1/teams/{team.id}/users/import",
        files={"file": ("users.csv", content, "text/csv")},
        headers=team.auth(role),
    )


async def users_by_email(api, team) -> dict[str, dict[str, Any]]:
    response = await api.get(f"/v1/teams/{team.id}/users", params={"limit": 500}, headers=team.auth("viewer"))
    assert response.status_code == 200, response.text
    return {user["email"]: user for user in response.json()["items"]}


async def test_create_team_caller_is_manager(api, directory):
    existing = await directory.team(name="People Ops")
    caller = existing.auth("viewer")

    created = await api.post("/v1/teams", json={"name": "IT Help Desk", "default_timezone": "Europe/Berlin"}, headers=caller)

    assert created.status_code == 201, created.text
    team = created.json()
    assert team["name"] == "IT Help Desk"
    assert team["default_timezone"] == "Europe/Berlin"
    assert team["role"] == "manager"
    fetched = await api.get(f"/v1/teams/{team['id']}", headers=caller)
    assert fetched.json()["role"] == "manager"
    me = await api.get("/v1/me", headers=caller)
    roles = {t["id"]: t["role"] for t in me.json()["teams"]}
    assert roles == {str(existing.id): "viewer", team["id"]: "manager"}
    secret = await api.get(f"/v1/teams/{team['id']}/webhook-secret", headers=caller)
    assert secret.status_code == 200, secret.text
    assert len(secret.json()["webhook_secret"]) >= 32


async def test_create_team_invalid_timezone(api, directory):
    existing = await directory.team()

    response = await api.post(
        "/v1/teams", json={"name": "IT", "default_timezone": "Europe/Atlantis"}, headers=existing.auth("viewer")
    )

    assert response.status_code == 422, response.text
    errors = field_errors(response)
    assert list(errors) == ["default_timezone"]
    assert "Europe/Atlantis" in errors["default_timezone"]


async def test_create_team_needs_token(api):
    response = await api.post("/v1/teams", json={"name": "IT"})

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_add_user_created_then_updated(api, directory):
    team = await directory.team()

    first = await add_user(api, team, email="ada@example.com", first_name="Ada", timezone="Europe/London")
    second = await add_user(
        api, team, email="ADA@example.com", first_name="Ada", last_name="Lovelace", timezone="Europe/Paris"
    )

    assert first.status_code == 201, first.text
    assert first.json()["role"] == "member"
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["last_name"] == "Lovelace"
    assert second.json()["timezone"] == "Europe/Paris"
    users = await users_by_email(api, team)
    assert users["ada@example.com"]["last_name"] == "Lovelace"
    assert "ADA@example.com" not in users


async def test_add_user_keeps_role_when_omitted(api, directory):
    team = await directory.team()
    added = await add_user(api, team, email="grace@example.com", role="contributor")
    assert added.status_code == 201, added.text

    again = await add_user(api, team, email="grace@example.com", first_name="Grace")

    assert again.status_code == 200, again.text
    assert again.json()["role"] == "contributor"
    assert again.json()["first_name"] == "Grace"


async def test_add_user_cannot_demote_last_manager(api, directory):
    team = await directory.team()

    response = await add_user(api, team, email=email_of(team, "manager"), role="viewer")

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    secret = await api.get(f"/v1/teams/{team.id}/webhook-secret", headers=team.auth("manager"))
    assert secret.status_code == 200, secret.text


async def test_add_user_invalid_timezone_and_email(api, directory):
    team = await directory.team()

    response = await add_user(api, team, email="ada(at)example.com", timezone="Mars/Olympus_Mons")

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    errors = field_errors(response)
    assert set(errors) == {"email", "timezone"}
    assert "ada(at)example.com" in errors["email"]
    assert "Mars/Olympus_Mons" in errors["timezone"]


async def test_add_user_invalid_webhook_address(api, directory):
    team = await directory.team()

    response = await add_user(api, team, email="ada@example.com", addresses={"webhook": "ftp://example.com/hook"})

    assert response.status_code == 422, response.text
    assert list(field_errors(response)) == ["addresses.webhook"]


async def test_add_user_needs_manager(api, directory):
    team = await directory.team()

    response = await api.post(
        f"/v1/teams/{team.id}/users", json={"email": "ada@example.com"}, headers=team.auth("contributor")
    )

    assert response.status_code == 403, response.text
    assert "ada@example.com" not in await users_by_email(api, team)


async def test_list_users_paginated(api, directory):
    team = await directory.team()
    for number in range(5):
        added = await add_user(api, team, email=f"person{number}@example.com")
        assert added.status_code == 201, added.text

    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        response = await api.get(f"/v1/teams/{team.id}/users", params=params, headers=team.auth("viewer"))
        assert response.status_code == 200, response.text
        pages.append([user["email"] for user in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10, "pagination did not end"

    walked = [email for page in pages for email in page]
    assert [len(page) for page in pages] == [3, 3, 2]
    assert len(walked) == len(set(walked))
    team_users = [email_of(team, role) for role in ("manager", "contributor", "viewer")]
    assert walked == team_users + [f"person{number}@example.com" for number in range(5)]


async def test_list_users_pages_after_import(api, directory):
    team = await directory.team()
    # One import writes every row in one transaction, so the rows share created_at
    # and only the id orders them within a page.
    rows = "".join(f"person{number}@example.com\n" for number in range(7))
    imported = await import_csv(api, team, ("email\n" + rows).encode())
    assert imported.json()["created"] == 7

    walked: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        response = await api.get(f"/v1/teams/{team.id}/users", params=params, headers=team.auth("viewer"))
        assert response.status_code == 200, response.text
        walked += [user["email"] for user in response.json()["items"]]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert cursor is None
    assert len(walked) == 10
    assert len(set(walked)) == 10


async def test_list_users_invalid_cursor(api, directory):
    team = await directory.team()

    response = await api.get(f"/v1/teams/{team.id}/users", params={"cursor": "%%%"}, headers=team.auth("viewer"))

    assert response.status_code == 422, response.text
    assert list(field_errors(response)) == ["cursor"]


async def test_list_users_other_team_not_found(api, directory):
    team = await directory.team(name="People Ops")
    outsider = await directory.team(name="Finance")

    response = await api.get(f"/v1/teams/{team.id}/users", headers=outsider.auth("manager"))

    assert response.status_code == 404, response.text


async def test_group_members_add_and_remove(api, directory):
    team = await directory.team()
    first, second, third = (str(u) for u in await directory.recipients(team, 3))
    url = f"/v1/teams/{team.id}/groups"

    created = await api.post(
        url, json={"name": "Engineering", "user_ids": [first, second]}, headers=team.auth("contributor")
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    assert created.json()["member_count"] == 2

    added = await api.post(f"{url}/{group_id}/members", json={"user_ids": [second, third]}, headers=team.auth("contributor"))
    assert added.status_code == 200, added.text
    assert added.json()["member_count"] == 3

    removed = await api.request(
        "DELETE", f"{url}/{group_id}/members", json={"user_ids": [first]}, headers=team.auth("contributor")
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["member_count"] == 2

    listed = await api.get(url, headers=team.auth("viewer"))
    assert listed.status_code == 200, listed.text
    assert [(g["id"], g["name"], g["member_count"]) for g in listed.json()] == [(group_id, "Engineering", 2)]


async def test_group_used_as_target(api, directory):
    team = await directory.team()
    users = [str(u) for u in await directory.recipients(team, 3)]
    created = await api.post(
        f"/v1/teams/{team.id}/groups", json={"name": "Engineering", "user_ids": users}, headers=team.auth("contributor")
    )
    group_id = created.json()["id"]
    campaign = await api.post(
        f"/v1/teams/{team.id}/campaigns",
        json={
            "name": "Laptop refresh",
            "channel": "email",
            "template": {"subject": "Hello", "body": "Hi {{ first_name }}"},
            "targets": {"group_ids": [group_id], "user_ids": users[:1]},
        },
        headers=team.auth("contributor"),
    )
    assert campaign.status_code == 201, campaign.text

    preview = await api.post(f"/v1/campaigns/{campaign.json()['id']}/preview", headers=team.auth("viewer"))

    assert preview.json()["recipient_count"] == 3


async def test_group_duplicate_name_conflict(api, directory):
    team = await directory.team()
    url = f"/v1/teams/{team.id}/groups"
    first = await api.post(url, json={"name": "Engineering"}, headers=team.auth("contributor"))
    assert first.status_code == 201, first.text

    second = await api.post(url, json={"name": "Engineering"}, headers=team.auth("contributor"))

    assert second.status_code == 409, second.text
    assert second.headers["content-type"].startswith(PROBLEM_JSON)
    assert "Engineering" in second.json()["detail"]
    listed = await api.get(url, headers=team.auth("viewer"))
    assert len(listed.json()) == 1


async def test_group_same_name_other_team(api, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    await api.post(f"/v1/teams/{team.id}/groups", json={"name": "Engineering"}, headers=team.auth("contributor"))

    response = await api.post(f"/v1/teams/{other.id}/groups", json={"name": "Engineering"}, headers=other.auth("contributor"))

    assert response.status_code == 201, response.text


async def test_group_rejects_other_team_user(api, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    foreign = await directory.recipients(other, 1)

    response = await api.post(
        f"/v1/teams/{team.id}/groups",
        json={"name": "Engineering", "user_ids": [str(foreign[0])]},
        headers=team.auth("contributor"),
    )

    assert response.status_code == 422, response.text
    errors = field_errors(response)
    assert list(errors) == ["user_ids"]
    assert str(foreign[0]) in errors["user_ids"]


async def test_group_of_other_team_not_found(api, directory):
    team = await directory.team(name="People Ops")
    other = await directory.team(name="Finance")
    users = await directory.recipients(team, 1)
    group_id = await directory.group(team, "Engineering", users)

    response = await api.post(
        f"/v1/teams/{other.id}/groups/{group_id}/members",
        json={"user_ids": [str(users[0])]},
        headers=other.auth("manager"),
    )

    assert response.status_code == 404, response.text


async def test_group_create_needs_contributor(api, directory):
    team = await directory.team()

    response = await api.post(f"/v1/teams/{team.id}/groups", json={"name": "Engineering"}, headers=team.auth("viewer"))

    assert response.status_code == 403, response.text


async def test_role_change(api, directory):
    team = await directory.team()
    viewer_id = await user_id_of(api, team, "viewer")

    changed = await api.put(
        f"/v1/teams/{team.id}/members/{viewer_id}", json={"role": "contributor"}, headers=team.auth("manager")
    )

    assert changed.status_code == 204, changed.text
    me = await api.get("/v1/me", headers=team.auth("viewer"))
    assert [t["role"] for t in me.json()["teams"]] == ["contributor"]
    group = await api.post(f"/v1/teams/{team.id}/groups", json={"name": "Engineering"}, headers=team.auth("viewer"))
    assert group.status_code == 201, group.text


async def test_role_change_last_manager_conflict(api, directory):
    team = await directory.team()
    manager_id = await user_id_of(api, team, "manager")

    response = await api.put(
        f"/v1/teams/{team.id}/members/{manager_id}", json={"role": "contributor"}, headers=team.auth("manager")
    )

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "manager" in response.json()["detail"]
    me = await api.get("/v1/me", headers=team.auth("manager"))
    assert [t["role"] for t in me.json()["teams"]] == ["manager"]


async def test_role_change_second_manager_allows_demotion(api, directory):
    team = await directory.team()
    manager_id = await user_id_of(api, team, "manager")
    contributor_id = await user_id_of(api, team, "contributor")
    promoted = await api.put(
        f"/v1/teams/{team.id}/members/{contributor_id}", json={"role": "manager"}, headers=team.auth("manager")
    )
    assert promoted.status_code == 204, promoted.text

    demoted = await api.put(
        f"/v1/teams/{team.id}/members/{manager_id}", json={"role": "viewer"}, headers=team.auth("contributor")
    )

    assert demoted.status_code == 204, demoted.text
    me = await api.get("/v1/me", headers=team.auth("manager"))
    assert [t["role"] for t in me.json()["teams"]] == ["viewer"]


async def test_role_change_invalid_role(api, directory):
    team = await directory.team()
    viewer_id = await user_id_of(api, team, "viewer")

    response = await api.put(
        f"/v1/teams/{team.id}/members/{viewer_id}", json={"role": "owner"}, headers=team.auth("manager")
    )

    assert response.status_code == 422, response.text
    assert list(field_errors(response)) == ["role"]


async def test_role_change_needs_manager(api, directory):
    team = await directory.team()
    viewer_id = await user_id_of(api, team, "viewer")

    response = await api.put(
        f"/v1/teams/{team.id}/members/{viewer_id}", json={"role": "manager"}, headers=team.auth("contributor")
    )

    assert response.status_code == 403, response.text


async def test_role_change_non_member_not_found(api, directory):
    team = await directory.team()

    response = await api.put(
        f"/v1/teams/{team.id}/members/{uuid.uuid4()}", json={"role": "viewer"}, headers=team.auth("manager")
    )

    assert response.status_code == 404, response.text


async def test_token_works_for_me(api, directory):
    team = await directory.team()
    manager_id = await user_id_of(api, team, "manager")

    created = await api.post("/v1/tokens", json={"name": "deploy script"}, headers=team.auth("manager"))

    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert created.json()["name"] == "deploy script"
    assert token != team.tokens["manager"]
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["user_id"] == manager_id
    assert me.json()["email"] == email_of(team, "manager")
    assert [t["id"] for t in me.json()["teams"]] == [str(team.id)]


async def test_token_needs_name(api, directory):
    team = await directory.team()

    response = await api.post("/v1/tokens", json={"name": ""}, headers=team.auth("viewer"))

    assert response.status_code == 422, response.text
    assert list(field_errors(response)) == ["name"]


async def test_webhook_secret_manager_only(api, directory):
    team = await directory.team()

    manager = await api.get(f"/v1/teams/{team.id}/webhook-secret", headers=team.auth("manager"))
    contributor = await api.get(f"/v1/teams/{team.id}/webhook-secret", headers=team.auth("contributor"))
    viewer = await api.get(f"/v1/teams/{team.id}/webhook-secret", headers=team.auth("viewer"))

    assert manager.status_code == 200, manager.text
    assert manager.json()["webhook_secret"] == "test-webhook-secret"
    assert contributor.status_code == 403, contributor.text
    assert "test-webhook-secret" not in contributor.text
    assert viewer.status_code == 403, viewer.text


async def test_webhook_secret_other_team_not_found(api, directory):
    team = await directory.team(name="People Ops")
    outsider = await directory.team(name="Finance")

    response = await api.get(f"/v1/teams/{team.id}/webhook-secret", headers=outsider.auth("manager"))

    assert response.status_code == 404, response.text


async def test_import_creates_and_updates(api, directory):
    team = await directory.team()
    added = await add_user(api, team, email="ada@example.com", first_name="Ada")
    assert added.status_code == 201, added.text
    content = (
        "email,first_name,last_name,timezone,webhook\n"
        "ada@example.com,Ada,Lovelace,Europe/London,\n"
        "grace@example.com,Grace,Hopper,America/New_York,https://hooks.example.com/grace\n"
        "alan@example.com,Alan,Turing,,\n"
    ).encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 2
    assert report["updated"] == 1
    assert report["rejected"] == 0
    assert report["errors"] == []
    users = await users_by_email(api, team)
    assert users["ada@example.com"]["last_name"] == "Lovelace"
    assert users["ada@example.com"]["timezone"] == "Europe/London"
    assert users["grace@example.com"]["timezone"] == "America/New_York"
    assert users["grace@example.com"]["addresses"]["webhook"] == "https://hooks.example.com/grace"
    assert users["grace@example.com"]["role"] == "member"
    assert users["alan@example.com"]["timezone"] is None


async def test_import_reports_row_errors(api, directory):
    team = await directory.team()
    content = (
        "email,first_name,timezone\n"
        "ada@example.com,Ada,Europe/London\n"
        "grace@example.com,Grace,Mars/Olympus_Mons\n"
        "alan(at)example.com,Alan,UTC\n"
        ",Nobody,UTC\n"
        "ADA@example.com,Ada again,UTC\n"
        "linus@example.com,Linus,Europe/Helsinki\n"
    ).encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 2
    assert report["updated"] == 0
    assert report["rejected"] == 4
    errors = {(error["row"], error["field"]): error["message"] for error in report["errors"]}
    assert set(errors) == {(3, "timezone"), (4, "email"), (5, "email"), (6, "email")}
    assert "Mars/Olympus_Mons" in errors[(3, "timezone")]
    assert "alan(at)example.com" in errors[(4, "email")]
    assert "required" in errors[(5, "email")]
    assert "duplicate" in errors[(6, "email")]
    users = await users_by_email(api, team)
    assert users["ada@example.com"]["first_name"] == "Ada"
    assert "linus@example.com" in users
    assert "grace@example.com" not in users


async def test_import_header_case_and_bom(api, directory):
    team = await directory.team()
    content = "\ufeffEmail,First_Name\nada@example.com,Ada\n".encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    users = await users_by_email(api, team)
    assert users["ada@example.com"]["first_name"] == "Ada"


async def test_import_without_email_column(api, directory):
    team = await directory.team()
    content = b"name,timezone\nAda,Europe/London\n"

    response = await import_csv(api, team, content)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    errors = field_errors(response)
    assert list(errors) == ["file"]
    assert "email" in errors["file"]


async def test_import_not_utf8(api, directory):
    team = await directory.team()
    content = "email,first_name\nrene@example.com,René\n".encode("latin-1")

    response = await import_csv(api, team, content)

    assert response.status_code == 422, response.text
    errors = field_errors(response)
    assert list(errors) == ["file"]
    assert "UTF-8" in errors["file"]


async def test_import_not_utf8_imports_nothing(api, directory):
    team = await directory.team()
    # The invalid byte comes after 500 valid rows, which the import would already have
    # written if it did not run in one transaction.
    rows = "".join(f"person{number}@example.com,Person{number}\n" for number in range(500))
    content = ("email,first_name\n" + rows).encode() + "rene@example.com,René\n".encode("latin-1")

    response = await import_csv(api, team, content)

    assert response.status_code == 422, response.text
    users = await users_by_email(api, team)
    assert "person0@example.com" not in users
    assert len(users) == 3


async def test_import_without_file(api, directory):
    team = await directory.team()

    response = await api.post(
        f"/v1/teams/{team.id}/users/import",
        files={"upload": ("users.csv", b"email\n", "text/csv")},
        headers=team.auth("manager"),
    )

    assert response.status_code == 422, response.text
    assert list(field_errors(response)) == ["file"]


async def test_import_keeps_caller_role(api, directory):
    team = await directory.team()
    content = f"email,first_name\n{email_of(team, 'manager')},Morgan\n".encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 1
    users = await users_by_email(api, team)
    assert users[email_of(team, "manager")]["role"] == "manager"
    assert users[email_of(team, "manager")]["first_name"] == "Morgan"


async def test_import_keeps_existing_roles(api, directory):
    team = await directory.team()
    content = f"email,first_name\n{email_of(team, 'contributor')},Casey\n".encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    users = await users_by_email(api, team)
    assert users[email_of(team, "contributor")]["role"] == "contributor"


async def test_import_sets_role_column(api, directory):
    team = await directory.team()
    content = (
        "email,role\n"
        "ada@example.com,viewer\n"
        "grace@example.com,owner\n"
    ).encode()

    response = await import_csv(api, team, content)

    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(3, "role")]
    users = await users_by_email(api, team)
    assert users["ada@example.com"]["role"] == "viewer"


async def test_import_needs_manager(api, directory):
    team = await directory.team()

    response = await import_csv(api, team, b"email\nada@example.com\n", role="contributor")

    assert response.status_code == 403, response.text
    assert "ada@example.com" not in await users_by_email(api, team)
