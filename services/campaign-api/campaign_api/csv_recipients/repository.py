"""CSV recipient list queries. Callers check the campaign's team first; lists are keyed by campaign."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

_RECIPIENT_COLUMNS = ["campaign_id", "user_id", "line", "timezone", "variables"]


async def get_list(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT columns, row_count, file_name, uploaded_at FROM campaign_csv_lists WHERE campaign_id = $1",
        campaign_id,
    )


async def get_columns(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> list[str] | None:
    """Return the variable columns of the campaign's list, or None when it has no list."""
    return await connection.fetchval("SELECT columns FROM campaign_csv_lists WHERE campaign_id = $1", campaign_id)


async def has_rows(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> bool:
    return await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM campaign_csv_recipients WHERE campaign_id = $1)", campaign_id
    )


async def member_ids_by_email(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, emails: Sequence[str]
) -> dict[str, uuid.UUID]:
    """Map each lower-cased email that belongs to a member of the team to the user's id."""
    rows = await connection.fetch(
        """
        SELECT lower(u.email) AS email, u.id
        FROM users u JOIN team_memberships m ON m.user_id = u.id AND m.team_id = $1
        WHERE lower(u.email) = ANY($2::text[])
        """,
        team_id,
        list(emails),
    )
    return {r["email"]: r["id"] for r in rows}


async def replace_list(
    connection: asyncpg.Connection,
    *,
    campaign_id: uuid.UUID,
    team_id: uuid.UUID,
    columns: list[str],
    file_name: str | None,
    uploaded_by: uuid.UUID,
) -> None:
    """Empty the campaign's list, or create it, with new columns; rows follow with ``copy_rows``."""
    await connection.execute("DELETE FROM campaign_csv_recipients WHERE campaign_id = $1", campaign_id)
    await connection.execute(
        """
        INSERT INTO campaign_csv_lists (campaign_id, team_id, columns, row_count, file_name, uploaded_by, uploaded_at)
        VALUES ($1, $2, $3, 0, $4, $5, now())
        ON CONFLICT (campaign_id) DO UPDATE
        SET columns = EXCLUDED.columns, row_count = 0, file_name = EXCLUDED.file_name,
            uploaded_by = EXCLUDED.uploaded_by, uploaded_at = EXCLUDED.uploaded_at
        """,
        campaign_id,
        team_id,
        columns,
        file_name,
        uploaded_by,
    )


async def copy_rows(connection: asyncpg.Connection, records: Sequence[tuple[Any, ...]]) -> None:
    """COPY rows of (campaign_id, user_id, line, timezone, variables) into the list."""
    if records:
        await connection.copy_records_to_table("campaign_csv_recipients", records=records, columns=_RECIPIENT_COLUMNS)


async def set_row_count(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, row_count: int) -> None:
    await connection.execute("UPDATE campaign_csv_lists SET row_count = $2 WHERE campaign_id = $1", campaign_id, row_count)


async def delete_list(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> int | None:
    """Delete the campaign's list with its rows; return its row count, or None when it had none."""
    return await connection.fetchval(
        "DELETE FROM campaign_csv_lists WHERE campaign_id = $1 RETURNING row_count", campaign_id
    )


async def copy_list(
    connection: asyncpg.Connection, *, source_campaign_id: uuid.UUID, campaign_id: uuid.UUID, team_id: uuid.UUID
) -> tuple[int, int] | None:
    """Copy a campaign's list to another campaign, keeping only rows of members of ``team_id``.

    Returns (rows copied, rows in the source list), or None when the source has no list.
    """
    source_count = await connection.fetchval(
        """
        INSERT INTO campaign_csv_lists (campaign_id, team_id, columns, row_count, file_name, uploaded_by, uploaded_at)
        SELECT $2, $3, columns, 0, file_name, uploaded_by, uploaded_at
        FROM campaign_csv_lists WHERE campaign_id = $1
        RETURNING (SELECT row_count FROM campaign_csv_lists WHERE campaign_id = $1)
        """,
        source_campaign_id,
        campaign_id,
        team_id,
    )
    if source_count is None:
        return None
    result = await connection.execute(
        """
        INSERT INTO campaign_csv_recipients (campaign_id, user_id, line, timezone, variables)
        SELECT $2, cr.user_id, cr.line, cr.timezone, cr.variables
        FROM campaign_csv_recipients cr
        JOIN team_memberships m ON m.user_id = cr.user_id AND m.team_id = $3
        WHERE cr.campaign_id = $1
        """,
        source_campaign_id,
        campaign_id,
        team_id,
    )
    copied = int(result.split()[-1])
    await set_row_count(connection, campaign_id=campaign_id, row_count=copied)
    return copied, source_count
