"""Audit trail reads: a campaign's events and a team's events, each scoped to the caller's team."""

from __future__ import annotations

import uuid

import asyncpg

from campaign_api.audit import repository, schemas
from campaign_api.auth import repository as auth_repository
from campaign_api.auth.dependencies import Principal, check_role
from campaign_api.errors import NotFound, ValidationFailed
from shared.domain import Role


def _event_id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ValidationFailed.single("cursor", "invalid cursor; pass the next_cursor of a previous page")
    return int(cursor)


def _page(rows: list[asyncpg.Record], limit: int) -> schemas.AuditEventPage:
    items = [schemas.AuditEvent(**dict(r)) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return schemas.AuditEventPage(items=items, next_cursor=next_cursor)


async def list_campaign_events(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.AuditEventPage:
    """Return a campaign's events oldest first; a deleted campaign's events stay readable by its team."""
    after_id = _event_id_cursor(cursor)
    async with pool.acquire() as connection:
        team_id = await repository.get_campaign_team_id(connection, campaign_id)
        if team_id is None:
            raise NotFound(f"campaign {campaign_id} not found")
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        if role is None or not Role(role).allows(Role.VIEWER):
            # The same error as for an unknown id, so other teams' ids reveal nothing.
            raise NotFound(f"campaign {campaign_id} not found")
        rows = await repository.list_campaign_events(
            connection, team_id=team_id, campaign_id=campaign_id, after_id=after_id, limit=limit + 1
        )
    return _page(rows, limit)


async def list_team_events(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    team_id: uuid.UUID,
    actions: list[schemas.AuditAction] | None,
    cursor: str | None,
    limit: int,
) -> schemas.AuditEventPage:
    """Return the team's events newest first."""
    before_id = _event_id_cursor(cursor)
    async with pool.acquire() as connection:
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        check_role(role=role, required=Role.VIEWER, team_id=team_id, action="reading the audit trail")
        rows = await repository.list_team_events(
            connection, team_id=team_id, actions=actions, before_id=before_id, limit=limit + 1
        )
    return _page(rows, limit)
