"""Test data written straight to Postgres, for the state a test starts from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg

from campaign_api.auth.tokens import generate_token, hash_token


@dataclass
class TeamFixture:
    id: uuid.UUID
    tokens: dict[str, str] = field(default_factory=dict)
    """API token per role name: manager, contributor, viewer."""
    users: list[uuid.UUID] = field(default_factory=list)
    """Recipients (role member), in creation order."""

    def auth(self, role: str = "manager") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


class Directory:
    def __init__(self, pool: asyncpg.Pool, *, webhook_secret: str) -> None:
        self._pool = pool
        self._webhook_secret = webhook_secret

    async def team(self, *, name: str = "People Ops", default_timezone: str = "UTC") -> TeamFixture:
        """Create a team with a manager, a contributor and a viewer, each with a token."""
        team = TeamFixture(id=uuid.uuid4())
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO teams (id, name, default_timezone, webhook_secret) VALUES ($1, $2, $3, $4)",
                team.id,
                name,
                default_timezone,
                self._webhook_secret,
            )
            for role in ("manager", "contributor", "viewer"):
                user_id = await self._insert_user(connection, team.id, role=role, email=f"{role}-{team.id.hex[:8]}@example.com")
                token = generate_token()
                await connection.execute(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, $3, $4)",
                    uuid.uuid4(),
                    user_id,
                    f"{role} token",
                    hash_token(token),
                )
                team.tokens[role] = token
        return team

    async def recipients(
        self,
        team: TeamFixture,
        count: int,
        *,
        webhook_url: str | None = None,
        timezone: str | None = None,
        with_email: bool = True,
        prefix: str = "person",
    ) -> list[uuid.UUID]:
        """Add ``count`` recipients (role member); the n-th gets First<n>, Last<n> and <prefix><n>-... email."""
        users = []
        for _ in range(count):
            number = len(team.users) + 1
            user_id = uuid.uuid4()
            email = f"{prefix}{number}-{team.id.hex[:8]}@example.com" if with_email else None
            addresses = {"webhook": webhook_url} if webhook_url else {}
            users.append((user_id, email, f"First{number}", f"Last{number}", timezone, addresses))
            team.users.append(user_id)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.copy_records_to_table(
                "users", records=users, columns=["id", "email", "first_name", "last_name", "timezone", "addresses"]
            )
            await connection.copy_records_to_table(
                "team_memberships",
                records=[(team.id, u[0], "member") for u in users],
                columns=["team_id", "user_id", "role"],
            )
        return [u[0] for u in users]

    async def group(self, team: TeamFixture, name: str, user_ids: list[uuid.UUID]) -> uuid.UUID:
        group_id = uuid.uuid4()
        async with self._pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO groups (id, team_id, name) VALUES ($1, $2, $3)", group_id, team.id, name
            )
            await connection.executemany(
                "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)", [(group_id, u) for u in user_ids]
            )
        return group_id

    async def _insert_user(
        self,
        connection: asyncpg.Connection,
        team_id: uuid.UUID,
        *,
        role: str,
        email: str | None,
        first_name: str = "Test",
        last_name: str = "User",
        timezone: str | None = None,
        addresses: dict[str, str] | None = None,
    ) -> uuid.UUID:
        user_id = uuid.uuid4()
        await connection.execute(
            "INSERT INTO users (id, email, first_name, last_name, timezone, addresses) VALUES ($1, $2, $3, $4, $5, $6)",
            user_id,
            email,
            first_name,
            last_name,
            timezone,
            addresses or {},
        )
        await connection.execute(
            "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, $3)", team_id, user_id, role
        )
        return user_id
