"""A forward-only SQL migration runner.

Migrations are the ``NNNN_name.sql`` files in ``shared/migrations``, applied in order,
each in its own transaction. An advisory lock lets several processes call
``apply_migrations`` at once: the first applies, the others wait and find nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# An arbitrary constant that identifies this runner's advisory lock.
_LOCK_KEY = 0x43414D50

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        version_text, _, name = path.stem.partition("_")
        migrations.append(Migration(int(version_text), name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {directory}")
    return migrations


async def apply_migrations(connection: asyncpg.Connection) -> list[int]:
    """Apply every pending migration and return the versions applied."""
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied: list[int] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        done = {r["version"] for r in await connection.fetch("SELECT version FROM schema_migrations")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("migration.applied", version=migration.version, migration=migration.name)
            applied.append(migration.version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied
