"""Directory queries. Every read of team data joins the caller's membership."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg


async def create_team(
    connection: asyncpg.Connection, *, name: str, default_timezone: str, manager_id: uuid.UUID
) -> asyncpg.Record:
    team_id = uuid.uuid4()
    async with connection.transaction():
        row = await connection.fetchrow(
            """
            INSERT INTO teams (id, name, default_timezone, webhook_secret)
            VALUES ($1, $2, $3, $4)
            RETURNING id, name, default_timezone, created_at, 'manager' AS role
            """,
            team_id,
            name,
            default_timezone,
            secrets.token_hex(32),
        )
        await connection.execute(
            "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, 'manager')", team_id, manager_id
        )
    return row


async def list_teams_for_user(connection: asyncpg.Connection, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        """
        SELECT t.id, t.name, t.default_timezone, t.created_at, m.role
        FROM teams t JOIN team_memberships m ON m.team_id = t.id
        WHERE m.user_id = $1 AND m.role <> 'member'
        ORDER BY t.name, t.id
        """,
        user_id,
    )


async def get_team_for_user(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        """
        SELECT t.id, t.name, t.default_timezone, t.created_at, t.webhook_secret, m.role
        FROM teams t JOIN team_memberships m ON m.team_id = t.id AND m.user_id = $2
        WHERE t.id = $1
        """,
        team_id,
        user_id,
    )


async def get_user_email(connection: asyncpg.Connection, user_id: uuid.UUID) -> str | None:
    return await connection.fetchval("SELECT email FROM users WHERE id = $1", user_id)


async def upsert_team_user(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    email: str | None,
    first_name: str,
    last_name: str,
    timezone: str | None,
    addresses: dict[str, str],
    role: str | None,
) -> tuple[asyncpg.Record, bool]:
    """Create a user, or update the one with the same email, and make them a team member.

    A ``role`` of None keeps the role of an existing member and makes a new member
    a 'member'. Returns the user row and whether it was created.
    """
    async with connection.transaction():
        existing = None
        if email is not None:
            existing = await connection.fetchval(
                "SELECT id FROM users WHERE lower(email) = lower($1) FOR UPDATE", email
            )
        if existing is None:
            user_id = uuid.uuid4()
            await connection.execute(
                """
                INSERT INTO users (id, email, first_name, last_name, timezone, addresses)
                VALUES ($1, $2, $3, $4, $5, $6)
                """,
                user_id,
                email,
                first_name,
                last_name,
                timezone,
                addresses,
            )
        else:
            user_id = existing
            await connection.execute(
                """
                UPDATE users SET first_name = $2, last_name = $3, timezone = $4, addresses = addresses || $5
                WHERE id = $1
                """,
                user_id,
                first_name,
                last_name,
                timezone,
                addresses,
            )
        await connection.execute(
            """
            INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, coalesce($3::text, 'member'))
            ON CONFLICT (team_id, user_id) DO UPDATE SET role = coalesce($3::text, team_memberships.role)
            """,
            team_id,
            user_id,
            role,
        )
        row = await connection.fetchrow(_USER_SELECT + " WHERE u.id = $2", team_id, user_id)
    return row, existing is None


async def list_team_users(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, after: tuple[datetime, str] | None, limit: int
) -> list[asyncpg.Record]:
    if after is None:
        return await connection.fetch(_USER_SELECT + " ORDER BY u.created_at, u.id LIMIT $2", team_id, limit)
    return await connection.fetch(
        _USER_SELECT + " WHERE (u.created_at, u.id) > ($3, $4::uuid) ORDER BY u.created_at, u.id LIMIT $2",
        team_id,
        limit,
        after[0],
        after[1],
    )


async def set_role(connection: asyncpg.Connection, *, team_id: uuid.UUID, user_id: uuid.UUID, role: str) -> bool:
    result = await connection.execute(
        "UPDATE team_memberships SET role = $3 WHERE team_id = $1 AND user_id = $2", team_id, user_id, role
    )
    return result != "UPDATE 0"


async def count_managers(connection: asyncpg.Connection, team_id: uuid.UUID) -> int:
    """Count the team's managers, locking their rows until the transaction ends.

    The lock makes two concurrent demotions wait for each other, so they can't
    both see a second manager and leave the team with none.
    """
    rows = await connection.fetch(
        "SELECT user_id FROM team_memberships WHERE team_id = $1 AND role = 'manager' FOR UPDATE", team_id
    )
    return len(rows)


async def team_members_among(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    rows = await connection.fetch(
        "SELECT user_id FROM team_memberships WHERE team_id = $1 AND user_id = ANY($2::uuid[])", team_id, user_ids
    )
    return {r["user_id"] for r in rows}


async def team_groups_among(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    rows = await connection.fetch(
        "SELECT id FROM groups WHERE team_id = $1 AND id = ANY($2::uuid[])", team_id, group_ids
    )
    return {r["id"] for r in rows}


async def create_group(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, name: str, description: str, user_ids: Sequence[uuid.UUID]
) -> asyncpg.Record | None:
    """Create a group; return None when the team already has a group with that name."""
    group_id = uuid.uuid4()
    async with connection.transaction():
        inserted = await connection.fetchval(
            """
            INSERT INTO groups (id, team_id, name, description) VALUES ($1, $2, $3, $4)
            ON CONFLICT (team_id, name) DO NOTHING RETURNING id
            """,
            group_id,
            team_id,
            name,
            description,
        )
        if inserted is None:
            return None
        await add_group_members(connection, group_id=group_id, user_ids=user_ids)
        return await get_group(connection, team_id=team_id, group_id=group_id)


async def add_group_members(
    connection: asyncpg.Connection, *, group_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    await connection.execute(
        """
        INSERT INTO group_members (group_id, user_id)
        SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING
        """,
        group_id,
        list(user_ids),
    )


async def remove_group_members(
    connection: asyncpg.Connection, *, group_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    await connection.execute(
        "DELETE FROM group_members WHERE group_id = $1 AND user_id = ANY($2::uuid[])", group_id, list(user_ids)
    )


async def get_group(connection: asyncpg.Connection, *, team_id: uuid.UUID, group_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        _GROUP_SELECT + " WHERE g.team_id = $1 AND g.id = $2 GROUP BY g.id", team_id, group_id
    )


async def list_groups(connection: asyncpg.Connection, *, team_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(_GROUP_SELECT + " WHERE g.team_id = $1 GROUP BY g.id ORDER BY g.name", team_id)


def user_record_to_dict(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    if isinstance(data.get("addresses"), str):
        data["addresses"] = json.loads(data["addresses"])
    return data


_USER_SELECT = """
    SELECT u.id, u.email, u.first_name, u.last_name, u.timezone, u.addresses, u.created_at, m.role
    FROM users u JOIN team_memberships m ON m.user_id = u.id AND m.team_id = $1
"""

_GROUP_SELECT = """
    SELECT g.id, g.name, g.description, count(gm.user_id) AS member_count
    FROM groups g LEFT JOIN group_members gm ON gm.group_id = g.id
"""
