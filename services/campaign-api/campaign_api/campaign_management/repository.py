"""Queries of archive, unarchive and delete. Callers load the campaign through its team first."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg


async def set_archived_at(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, archived: bool) -> datetime | None:
    """Archive the campaign now, or unarchive it; return the new ``archived_at``."""
    return await connection.fetchval(
        """
        UPDATE campaigns SET archived_at = CASE WHEN $2 THEN now() END, updated_at = now()
        WHERE id = $1
        RETURNING archived_at
        """,
        campaign_id,
        archived,
    )


async def delete_draft(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> bool:
    """Delete the campaign if it is a draft, with its CSV list; return whether a row was deleted."""
    result = await connection.execute("DELETE FROM campaigns WHERE id = $1 AND status = 'draft'", campaign_id)
    return result == "DELETE 1"
