"""Seed a demo team for the development stack.

The team has 1,200 users spread over 36 IANA time zones (every 17th without a time
zone, every 23rd without an email address), four overlapping groups (one with everyone) and a manager
with an API token. Ids are derived from fixed names, so seeding twice changes nothing.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from campaign_api.auth.tokens import generate_token, hash_token

log = structlog.get_logger(__name__)

_NAMESPACE = uuid.UUID("9b0f5d7e-4f0c-4a51-9a7e-3c1f2f6f8a10")
DEMO_TEAM_ID = uuid.uuid5(_NAMESPACE, "team:demo")
DEMO_MANAGER_ID = uuid.uuid5(_NAMESPACE, "user:manager")
DEMO_MANAGER_EMAIL = "demo.manager@example.com"
USER_COUNT = 1200

ZONES = (
    "America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York", "America/Toronto",
    "America/Mexico_City", "America/Bogota", "America/Sao_Paulo", "America/Argentina/Buenos_Aires",
    "America/St_Johns", "Atlantic/Reykjavik", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
    "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Warsaw", "Europe/Helsinki", "Europe/Istanbul",
    "Africa/Lagos", "Africa/Nairobi", "Africa/Johannesburg", "Asia/Dubai", "Asia/Tehran", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Adelaide", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland",
)
FIRST_NAMES = ("Ada", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lea")
LAST_NAMES = ("Almeida", "Berg", "Costa", "Dubois", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jansen")


@dataclass(frozen=True)
class DemoTeam:
    team_id: uuid.UUID
    token: str
    user_count: int


def _user_rows() -> list[tuple]:
    rows = []
    for index in range(USER_COUNT):
        user_id = uuid.uuid5(_NAMESPACE, f"user:{index}")
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        email = None if index % 23 == 22 else f"{first.lower()}.{last.lower()}.{index}@demo.example.com"
        zone = None if index % 17 == 16 else ZONES[index % len(ZONES)]
        rows.append((user_id, email, first, last, zone))
    return rows


async def seed_demo(connection: asyncpg.Connection, *, token_file: Path) -> DemoTeam:
    """Create the demo team unless it exists, and return it with a working token."""
    async with connection.transaction():
        exists = await connection.fetchval("SELECT 1 FROM teams WHERE id = $1", DEMO_TEAM_ID)
        if not exists:
            await _create(connection)
        token = await _token(connection, token_file)
    return DemoTeam(team_id=DEMO_TEAM_ID, token=token, user_count=USER_COUNT)


async def _create(connection: asyncpg.Connection) -> None:
    await connection.execute(
        "INSERT INTO teams (id, name, default_timezone, webhook_secret) VALUES ($1, 'Demo IT', 'Europe/Berlin', $2)",
        DEMO_TEAM_ID,
        secrets.token_hex(32),
    )
    await connection.execute(
        "INSERT INTO users (id, email, first_name, last_name, timezone) VALUES ($1, $2, 'Dana', 'Manager', 'Europe/Berlin')",
        DEMO_MANAGER_ID,
        DEMO_MANAGER_EMAIL,
    )
    await connection.execute(
        "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, 'manager')", DEMO_TEAM_ID, DEMO_MANAGER_ID
    )
    rows = _user_rows()
    await connection.copy_records_to_table(
        "users", records=rows, columns=["id", "email", "first_name", "last_name", "timezone"]
    )
    await connection.copy_records_to_table(
        "team_memberships", records=[(DEMO_TEAM_ID, r[0], "member") for r in rows], columns=["team_id", "user_id", "role"]
    )
    user_ids = [r[0] for r in rows]
    groups = {
        "Everyone": user_ids,
        "Engineering": user_ids[0:500],
        "Product": user_ids[400:700],
        "Remote workers": user_ids[::5],
    }
    for name, members in groups.items():
        group_id = uuid.uuid5(_NAMESPACE, f"group:{name}")
        await connection.execute(
            "INSERT INTO groups (id, team_id, name) VALUES ($1, $2, $3)", group_id, DEMO_TEAM_ID, name
        )
        await connection.copy_records_to_table(
            "group_members", records=[(group_id, m) for m in members], columns=["group_id", "user_id"]
        )
    log.info("seed.created", team_id=str(DEMO_TEAM_ID), users=len(rows), groups=len(groups))


async def _token(connection: asyncpg.Connection, token_file: Path) -> str:
    """Reuse the token in ``token_file`` while it is valid, else create and store a new one."""
    if token_file.exists():
        token = token_file.read_text().strip()
        valid = await connection.fetchval(
            "SELECT 1 FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", hash_token(token)
        )
        if valid:
            return token
    token = generate_token()
    await connection.execute(
        "INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, 'demo token', $3)",
        uuid.uuid4(),
        DEMO_MANAGER_ID,
        hash_token(token),
    )
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token
