"""Directory use cases: role checks, validation and persistence, in that order."""

from __future__ import annotations

import codecs
import csv
import uuid
from collections.abc import Iterator
from typing import BinaryIO

import asyncpg
import structlog

from campaign_api.auth import repository as auth_repository
from campaign_api.auth.dependencies import Principal, check_role
from campaign_api.directory import repository, schemas
from campaign_api.errors import Conflict, FieldError, NotFound, ValidationFailed
from campaign_api.pagination import decode_cursor, encode_cursor
from shared.domain import Role
from shared.validation import email_problem, timezone_problem, webhook_url_problem

log = structlog.get_logger(__name__)

IMPORT_COLUMNS = ("email", "first_name", "last_name", "timezone", "slack", "teams", "webhook", "role")
MAX_IMPORT_ERRORS_REPORTED = 1000
LAST_MANAGER_MESSAGE = "a team needs at least one manager; make someone else a manager first"


async def require_team_role(
    connection: asyncpg.Connection, *, principal: Principal, team_id: uuid.UUID, required: Role, action: str
) -> Role:
    role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
    return check_role(role=role, required=required, team_id=team_id, action=action)


async def create_team(pool: asyncpg.Pool, *, principal: Principal, body: schemas.TeamCreate) -> schemas.Team:
    async with pool.acquire() as connection:
        row = await repository.create_team(
            connection, name=body.name, default_timezone=body.default_timezone, manager_id=principal.user_id
        )
    log.info("team.created", team_id=str(row["id"]), user_id=str(principal.user_id))
    return schemas.Team(**dict(row))


async def list_teams(pool: asyncpg.Pool, *, principal: Principal) -> list[schemas.Team]:
    async with pool.acquire() as connection:
        rows = await repository.list_teams_for_user(connection, principal.user_id)
    return [schemas.Team(**dict(r)) for r in rows]


async def get_team(pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID) -> schemas.Team:
    async with pool.acquire() as connection:
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.VIEWER, action="reading a team")
        row = await repository.get_team_for_user(connection, team_id=team_id, user_id=principal.user_id)
    return schemas.Team(**{k: row[k] for k in ("id", "name", "default_timezone", "created_at", "role")})


async def get_team_secret(pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID) -> schemas.TeamSecret:
    async with pool.acquire() as connection:
        await require_team_role(
            connection, principal=principal, team_id=team_id, required=Role.MANAGER, action="reading the webhook secret"
        )
        row = await repository.get_team_for_user(connection, team_id=team_id, user_id=principal.user_id)
    return schemas.TeamSecret(webhook_secret=row["webhook_secret"])


async def add_user(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, body: schemas.UserCreate
) -> tuple[schemas.User, bool]:
    async with pool.acquire() as connection, connection.transaction():
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.MANAGER, action="adding users")
        row, created = await repository.upsert_team_user(
            connection,
            team_id=team_id,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            timezone=body.timezone,
            addresses=body.addresses.model_dump(exclude_none=True),
            role=body.role,
        )
        # The email may belong to the team's only manager. Raising here rolls the change back.
        if await repository.count_managers(connection, team_id) == 0:
            raise Conflict(LAST_MANAGER_MESSAGE)
    return schemas.User(**repository.user_record_to_dict(row)), created


async def list_users(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.UserPage:
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as connection:
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.VIEWER, action="listing users")
        rows = await repository.list_team_users(connection, team_id=team_id, after=after, limit=limit + 1)
    items = [schemas.User(**repository.user_record_to_dict(r)) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return schemas.UserPage(items=items, next_cursor=next_cursor)


async def set_member_role(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.MANAGER, action="changing roles")
        current = await auth_repository.get_role(connection, team_id=team_id, user_id=user_id)
        if current is None:
            raise NotFound(f"user {user_id} is not a member of team {team_id}")
        if current == Role.MANAGER and role != Role.MANAGER and await repository.count_managers(connection, team_id) == 1:
            raise Conflict(LAST_MANAGER_MESSAGE)
        await repository.set_role(connection, team_id=team_id, user_id=user_id, role=role)


def _read_csv_rows(file: BinaryIO) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) pairs, decoding UTF-8 (with or without a BOM) as it streams."""
    text = codecs.getreader("utf-8-sig")(file)
    reader = csv.DictReader(text)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if "email" not in header:
        raise ValidationFailed.single("file", "the CSV header has no 'email' column")
    for row in reader:
        yield reader.line_num, {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}


def _validate_import_row(line: int, row: dict[str, str]) -> list[schemas.ImportRowError]:
    errors = []
    checks = {
        "email": email_problem(row["email"]) if row.get("email") else "email is required",
        "timezone": timezone_problem(row["timezone"]) if row.get("timezone") else None,
        "webhook": webhook_url_problem(row["webhook"]) if row.get("webhook") else None,
        "role": None if not row.get("role") or row["role"] in set(Role) else f"unknown role {row['role']!r}",
    }
    for field, problem in checks.items():
        if problem:
            errors.append(schemas.ImportRowError(row=line, field=field, message=problem))
    return errors


async def import_users(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, file: BinaryIO
) -> schemas.ImportReport:
    """Create or update one user per valid CSV row; invalid rows are reported, not imported.

    Columns: email (required), first_name, last_name, timezone, slack, teams,
    webhook, role. An empty role makes new users members and keeps the role of
    existing ones. The caller's own row never changes the caller's role. The import
    runs in one transaction, so a file rejected with 422 (not UTF-8, malformed CSV)
    imports no row at all.
    """
    created = updated = rejected = 0
    errors: list[schemas.ImportRowError] = []
    seen: set[str] = set()
    async with pool.acquire() as connection, connection.transaction():
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.MANAGER, action="importing users")
        caller_email = (await repository.get_user_email(connection, principal.user_id) or "").lower()
        try:
            for line, row in _read_csv_rows(file):
                row_errors = _validate_import_row(line, row)
                key = row.get("email", "").lower()
                if not row_errors and key in seen:
                    row_errors.append(schemas.ImportRowError(row=line, field="email", message="duplicate row for this email"))
                if row_errors:
                    rejected += 1
                    errors.extend(row_errors)
                    continue
                seen.add(key)
                addresses = {k: row[k] for k in ("slack", "teams", "webhook") if row.get(k)}
                role = None if key == caller_email else (row.get("role") or None)
                _, was_created = await repository.upsert_team_user(
                    connection,
                    team_id=team_id,
                    email=row["email"],
                    first_name=row.get("first_name", ""),
                    last_name=row.get("last_name", ""),
                    timezone=row.get("timezone") or None,
                    addresses=addresses,
                    role=role,
                )
                created += was_created
                updated += not was_created
        except UnicodeDecodeError as error:
            raise ValidationFailed.single("file", f"the file is not valid UTF-8 (byte {error.start})") from error
        except csv.Error as error:
            raise ValidationFailed.single("file", f"malformed CSV: {error}") from error
    log.info("directory.imported", team_id=str(team_id), created=created, updated=updated, rejected=rejected)
    return schemas.ImportReport(
        created=created, updated=updated, rejected=rejected, errors=errors[:MAX_IMPORT_ERRORS_REPORTED]
    )


async def _check_members(connection: asyncpg.Connection, *, team_id: uuid.UUID, user_ids: list[uuid.UUID], field: str) -> None:
    found = await repository.team_members_among(connection, team_id=team_id, user_ids=user_ids)
    missing = [str(u) for u in user_ids if u not in found]
    if missing:
        raise ValidationFailed([FieldError(field, f"not members of this team: {', '.join(missing[:20])}")])


async def create_group(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, body: schemas.GroupCreate
) -> schemas.Group:
    async with pool.acquire() as connection:
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.CONTRIBUTOR, action="creating groups")
        await _check_members(connection, team_id=team_id, user_ids=body.user_ids, field="user_ids")
        row = await repository.create_group(
            connection, team_id=team_id, name=body.name, description=body.description, user_ids=body.user_ids
        )
    if row is None:
        raise Conflict(f"this team already has a group named {body.name!r}")
    return schemas.Group(**dict(row))


async def list_groups(pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID) -> list[schemas.Group]:
    async with pool.acquire() as connection:
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.VIEWER, action="listing groups")
        rows = await repository.list_groups(connection, team_id=team_id)
    return [schemas.Group(**dict(r)) for r in rows]


async def change_group_members(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    team_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: list[uuid.UUID],
    add: bool,
) -> schemas.Group:
    async with pool.acquire() as connection:
        await require_team_role(connection, principal=principal, team_id=team_id, required=Role.CONTRIBUTOR, action="changing groups")
        if await repository.get_group(connection, team_id=team_id, group_id=group_id) is None:
            raise NotFound(f"group {group_id} not found")
        if add:
            await _check_members(connection, team_id=team_id, user_ids=user_ids, field="user_ids")
            await repository.add_group_members(connection, group_id=group_id, user_ids=user_ids)
        else:
            await repository.remove_group_members(connection, group_id=group_id, user_ids=user_ids)
        row = await repository.get_group(connection, team_id=team_id, group_id=group_id)
    return schemas.Group(**dict(row))


async def create_token(pool: asyncpg.Pool, *, principal: Principal, name: str) -> schemas.TokenCreated:
    async with pool.acquire() as connection:
        token_id, token = await auth_repository.create_token(connection, user_id=principal.user_id, name=name)
    log.info("token.created", token_id=str(token_id), user_id=str(principal.user_id))
    return schemas.TokenCreated(id=token_id, name=name, token=token)


async def describe_me(pool: asyncpg.Pool, *, principal: Principal) -> schemas.Me:
    async with pool.acquire() as connection:
        email = await repository.get_user_email(connection, principal.user_id)
        teams = await repository.list_teams_for_user(connection, principal.user_id)
    return schemas.Me(user_id=principal.user_id, email=email, teams=[schemas.Team(**dict(t)) for t in teams])
