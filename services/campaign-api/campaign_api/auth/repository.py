"""Token and membership lookups."""

from __future__ import annotations

import uuid

import asyncpg

from campaign_api.auth.tokens import generate_token, hash_token


async def get_user_id_by_token(connection: asyncpg.Connection, token: str) -> uuid.UUID | None:
    return await connection.fetchval(
        """
        UPDATE api_tokens SET last_used_at = now()
        WHERE token_hash = $1 AND revoked_at IS NULL
        RETURNING user_id
        """,
        hash_token(token),
    )


async def create_token(connection: asyncpg.Connection, *, user_id: uuid.UUID, name: str) -> tuple[uuid.UUID, str]:
    """Store a new token for ``user_id`` and return its id and the token itself."""
    token = generate_token()
    token_id = uuid.uuid4()
    await connection.execute(
        "INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, $3, $4)",
        token_id,
        user_id,
        name,
        hash_token(token),
    )
    return token_id, token


async def get_role(connection: asyncpg.Connection, *, team_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    return await connection.fetchval(
        "SELECT role FROM team_memberships WHERE team_id = $1 AND user_id = $2", team_id, user_id
    )
