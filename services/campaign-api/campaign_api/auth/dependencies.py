"""FastAPI dependencies that authenticate the caller and check team roles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from campaign_api.auth import repository
from campaign_api.errors import Forbidden, NotFound, Unauthorized
from shared.domain import Role


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID


def get_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]


async def get_principal(request: Request, pool: Pool) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    async with pool.acquire() as connection:
        user_id = await repository.get_user_id_by_token(connection, token.strip())
    if user_id is None:
        raise Unauthorized("the API token is invalid or revoked")
    return Principal(user_id=user_id)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def check_role(*, role: str | None, required: Role, team_id: uuid.UUID, action: str) -> Role:
    """Raise NotFound when the caller is not in the team, Forbidden when the role is too low.

    A caller without API access to a team gets 404, so ids of other teams reveal nothing.
    """
    if role is None or role == Role.MEMBER:
        raise NotFound(f"team {team_id} not found")
    current = Role(role)
    if not current.allows(required):
        raise Forbidden(f"{action} needs the {required} role or higher in this team; your role is {current}")
    return current
