"""Audit event queries.

``record_event`` writes on the caller's connection, so an action that records an
event inside its transaction leaves no event when it rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

_EVENT_COLUMNS = """
    e.id, e.campaign_id, e.team_id, e.action, e.actor_id, e.actor_email, e.status_before, e.status_after,
    e.details, e.created_at
"""


async def record_event(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    campaign_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: str,
    status_before: str | None,
    status_after: str | None,
    details: dict[str, Any] | None = None,
) -> int:
    """Insert one audit event and return its id; the actor's email is copied from their user row."""
    return await connection.fetchval(
        """
        INSERT INTO audit_events (team_id, campaign_id, actor_id, actor_email, action, status_before, status_after, details)
        VALUES ($1, $2, $3, (SELECT email FROM users WHERE id = $3), $4, $5, $6, $7)
        RETURNING id
        """,
        team_id,
        campaign_id,
        actor_id,
        action,
        status_before,
        status_after,
        details or {},
    )


async def get_campaign_team_id(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> uuid.UUID | None:
    """Return the team of a campaign, also of a deleted one that left audit events."""
    return await connection.fetchval(
        """
        SELECT team_id FROM campaigns WHERE id = $1
        UNION ALL
        (SELECT team_id FROM audit_events WHERE campaign_id = $1 ORDER BY id LIMIT 1)
        LIMIT 1
        """,
        campaign_id,
    )


async def list_campaign_events(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, campaign_id: uuid.UUID, after_id: int | None, limit: int
) -> list[asyncpg.Record]:
    """Return one page of a campaign's events, oldest first."""
    return await connection.fetch(
        f"""
        SELECT {_EVENT_COLUMNS} FROM audit_events e
        WHERE e.campaign_id = $1 AND e.team_id = $2 AND ($3::bigint IS NULL OR e.id > $3)
        ORDER BY e.id
        LIMIT $4
        """,
        campaign_id,
        team_id,
        after_id,
        limit,
    )


async def list_team_events(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    actions: Sequence[str] | None,
    before_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Return one page of the team's events, newest first, optionally of some actions only."""
    return await connection.fetch(
        f"""
        SELECT {_EVENT_COLUMNS} FROM audit_events e
        WHERE e.team_id = $1
          AND ($2::text[] IS NULL OR e.action = ANY($2::text[]))
          AND ($3::bigint IS NULL OR e.id < $3)
        ORDER BY e.id DESC
        LIMIT $4
        """,
        team_id,
        list(actions) if actions else None,
        before_id,
        limit,
    )
