"""SQL used by the delivery activities. Every query is scoped by run id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.recipients import recipients_cte, unsent_recipients_cte


class RunNotFound(Exception):
    pass


@dataclass(frozen=True)
class RunContext:
    """A run and the campaign fields that a batch activity uses."""

    run_id: str
    campaign_id: str
    team_id: str
    run_number: int
    campaign_kind: str
    channel: str
    subject_template: str
    body_template: str
    schedule: dict[str, Any]
    team_default_timezone: str
    webhook_secret: str
    stopped: bool
    recipients_source: str


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    user_id: str
    address: str
    first_name: str
    last_name: str
    email: str | None
    # The recipient's row of the campaign's CSV list; None when they are not in it.
    csv_variables: dict[str, str] | None = None


async def fetch_run_context(connection: asyncpg.Connection, run_id: str) -> RunContext:
    row = await connection.fetchrow(
        """
        SELECT r.id, r.campaign_id, r.team_id, r.run_number, r.stop_requested_at, r.recipients_source,
               c.kind, c.channel, c.subject_template, c.body_template,
               coalesce(r.schedule, c.schedule) AS schedule,
               t.default_timezone, t.webhook_secret
        FROM campaign_runs r
        JOIN campaigns c ON c.id = r.campaign_id
        JOIN teams t ON t.id = r.team_id
        WHERE r.id = $1
        """,
        run_id,
    )
    if row is None:
        raise RunNotFound(run_id)
    return RunContext(
        run_id=str(row["id"]),
        campaign_id=str(row["campaign_id"]),
        team_id=str(row["team_id"]),
        run_number=row["run_number"],
        campaign_kind=row["kind"],
        channel=row["channel"],
        subject_template=row["subject_template"],
        body_template=row["body_template"],
        schedule=row["schedule"],
        team_default_timezone=row["default_timezone"],
        webhook_secret=row["webhook_secret"],
        stopped=row["stop_requested_at"] is not None,
        recipients_source=row["recipients_source"],
    )


async def count_deliveries(connection: asyncpg.Connection, run_id: str) -> int:
    return await connection.fetchval("SELECT count(*) FROM deliveries WHERE run_id = $1", run_id)


def _recipients_sql(context: RunContext) -> str:
    """Return the run's ``recipients`` CTE body; $1 is the campaign id and $2 the team id."""
    if context.recipients_source == "unsent":
        return unsent_recipients_cte(channel=context.channel, team_param="$2", campaign_param="$1")
    targets = recipients_cte(
        channel=context.channel, team_param="$2", user_ids_param="c.target_user_ids", group_ids_param="c.target_group_ids",
        campaign_param="c.id",
    )
    return f"SELECT r.* FROM campaigns c, LATERAL ({targets}) r WHERE c.id = $1"


async def recipient_zone_counts(connection: asyncpg.Connection, context: RunContext) -> dict[str, int]:
    """Count the run's recipients per stored time zone ('' for none)."""
    rows = await connection.fetch(
        f"""
        WITH recipients AS ({_recipients_sql(context)})
        SELECT coalesce(timezone, '') AS zone, count(*) AS n FROM recipients GROUP BY 1
        """,
        context.campaign_id,
        context.team_id,
    )
    return {r["zone"]: r["n"] for r in rows}


async def insert_deliveries(
    connection: asyncpg.Connection,
    *,
    context: RunContext,
    batch_size: int,
    wave_by_zone: dict[str, int],
    skipped_waves: frozenset[int],
    skipped_reason: str,
    unreachable_reason: str,
    default_zone: str,
) -> None:
    """Write one delivery row per distinct recipient of the run.

    Rows are numbered into batches within each wave, in user-id order, and batch
    numbers increase with the wave. A recipient without an address on the channel
    is written as failed, one in a skipped wave as skipped.
    """
    zones = list(wave_by_zone)
    await connection.execute(
        f"""
        WITH recipients AS ({_recipients_sql(context)}),
        zone_waves AS (
            SELECT * FROM unnest($6::text[], $7::int[]) AS z (zone, wave)
        ),
        numbered AS (
            SELECT r.id, r.address, r.timezone, z.wave,
                   (row_number() OVER (PARTITION BY z.wave ORDER BY r.id) - 1) / $4 AS chunk
            FROM recipients r JOIN zone_waves z ON z.zone = coalesce(r.timezone, '')
        )
        INSERT INTO deliveries (run_id, campaign_id, team_id, user_id, address, timezone, wave, batch_no, status, last_error)
        SELECT $3, $1, $2, id, address, coalesce(nullif(timezone, ''), $10), wave,
               (dense_rank() OVER (ORDER BY wave, chunk)) - 1,
               CASE WHEN address IS NULL OR address = '' THEN 'failed'
                    WHEN wave = ANY($8::int[]) THEN 'skipped'
                    ELSE 'pending' END,
               CASE WHEN address IS NULL OR address = '' THEN $5
                    WHEN wave = ANY($8::int[]) THEN $9 END
        FROM numbered
        ON CONFLICT (run_id, user_id) DO NOTHING
        """,
        context.campaign_id,
        context.team_id,
        context.run_id,
        batch_size,
        unreachable_reason,
        zones,
        [wave_by_zone[z] for z in zones],
        sorted(skipped_waves),
        skipped_reason,
        default_zone,
    )


async def wave_rows(connection: asyncpg.Connection, run_id: str) -> list[asyncpg.Record]:
    """Return each wave's first batch, batch count, size, pending recipients and zones."""
    return await connection.fetch(
        """
        SELECT wave, min(batch_no) AS first_batch, max(batch_no) - min(batch_no) + 1 AS batch_count,
               count(*) AS recipients, count(*) FILTER (WHERE status = 'pending') AS pending,
               array_agg(DISTINCT timezone ORDER BY timezone) AS zones
        FROM deliveries WHERE run_id = $1
        GROUP BY wave ORDER BY wave
        """,
        run_id,
    )


async def mark_run_prepared(
    connection: asyncpg.Connection, *, run_id: str, recipient_count: int, batch_count: int
) -> None:
    await connection.execute(
        """
        UPDATE campaign_runs
        SET recipient_count = $2, batch_count = $3, started_at = coalesce(started_at, now())
        WHERE id = $1
        """,
        run_id,
        recipient_count,
        batch_count,
    )


async def record_stage(
    connection: asyncpg.Connection,
    *,
    run_id: str,
    run_status: str,
    campaign_status: str | None,
    stage: dict[str, Any],
) -> None:
    """Store the run's stage and move the run (and a one-time campaign) to a status.

    A stopped run keeps its status: a late stage update must not revive it.
    """
    async with connection.transaction():
        campaign_id = await connection.fetchval(
            """
            UPDATE campaign_runs SET stage = $2, status = $3
            WHERE id = $1 AND status NOT IN ('stopped', 'sent')
            RETURNING campaign_id
            """,
            run_id,
            stage,
            run_status,
        )
        if campaign_id is not None and campaign_status is not None:
            await _set_one_time_status(connection, campaign_id=campaign_id, run_id=run_id, status=campaign_status)


async def find_in_doubt(
    connection: asyncpg.Connection, *, run_id: str, batch_no: int, delivery_id: int | None = None
) -> list[ClaimedDelivery]:
    """Return the batch's rows (or the one delivery) left mid-send by an earlier attempt."""
    if delivery_id is not None:
        rows = await connection.fetch(
            _CLAIMED_SELECT + " WHERE d.id = $1 AND d.run_id = $2 AND d.status = 'sending'", delivery_id, run_id
        )
    else:
        rows = await connection.fetch(
            _CLAIMED_SELECT + " WHERE d.run_id = $1 AND d.batch_no = $2 AND d.status = 'sending' ORDER BY d.id",
            run_id,
            batch_no,
        )
    return [_claimed(row) for row in rows]


async def claim_one(connection: asyncpg.Connection, *, run_id: str, delivery_id: int) -> list[ClaimedDelivery]:
    """Move one pending delivery to ``sending`` and return it (an empty list if it isn't pending).

    Unlike ``claim_pending`` this ignores a stop of the run: a retry of one
    recipient is a new request made after the run ended.
    """
    rows = await connection.fetch(
        """
        WITH claimed AS (
            UPDATE deliveries
            SET status = 'sending', attempts = attempts + 1, claimed_at = now(), updated_at = now()
            WHERE id = $1 AND run_id = $2 AND status = 'pending'
            RETURNING id, user_id, address, campaign_id
        )
        SELECT c.id, c.user_id, c.address, u.first_name, u.last_name, u.email, cr.variables AS csv_variables
        FROM claimed c JOIN users u ON u.id = c.user_id
        LEFT JOIN campaign_csv_recipients cr ON cr.campaign_id = c.campaign_id AND cr.user_id = c.user_id
        """,
        delivery_id,
        run_id,
    )
    return [_claimed(row) for row in rows]


async def claim_pending(
    connection: asyncpg.Connection, *, run_id: str, batch_no: int, limit: int
) -> list[ClaimedDelivery]:
    """Move up to ``limit`` pending rows of the batch to ``sending`` and return them.

    Claiming happens before sending so that a crash leaves evidence: a row found in
    ``sending`` later is a send whose outcome is unknown, never an unsent one. A run
    whose stop was requested claims nothing.
    """
    rows = await connection.fetch(
        """
        WITH claimed AS (
            UPDATE deliveries d
            SET status = 'sending', attempts = attempts + 1, claimed_at = now(), updated_at = now()
            WHERE d.id IN (
                SELECT id FROM deliveries
                WHERE run_id = $1 AND batch_no = $2 AND status = 'pending'
                ORDER BY id
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            AND NOT EXISTS (
                SELECT 1 FROM campaign_runs r WHERE r.id = $1 AND r.stop_requested_at IS NOT NULL
            )
            RETURNING d.id, d.user_id, d.address, d.campaign_id
        )
        SELECT c.id, c.user_id, c.address, u.first_name, u.last_name, u.email, cr.variables AS csv_variables
        FROM claimed c JOIN users u ON u.id = c.user_id
        LEFT JOIN campaign_csv_recipients cr ON cr.campaign_id = c.campaign_id AND cr.user_id = c.user_id
        ORDER BY c.id
        """,
        run_id,
        batch_no,
        limit,
    )
    return [_claimed(row) for row in rows]


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: str
    error: str | None
    sent_at: datetime | None


async def record_outcomes(connection: asyncpg.Connection, outcomes: list[Outcome]) -> None:
    """Store the final status of claimed rows. Only rows still in ``sending`` change."""
    if not outcomes:
        return
    await connection.execute(
        """
        UPDATE deliveries d
        SET status = o.status, last_error = o.error, sent_at = o.sent_at, updated_at = now()
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) AS o (id, status, error, sent_at)
        WHERE d.id = o.id AND d.status = 'sending'
        """,
        [o.delivery_id for o in outcomes],
        [o.status for o in outcomes],
        [o.error for o in outcomes],
        [o.sent_at for o in outcomes],
    )


async def finish_run(connection: asyncpg.Connection, *, run_id: str, stopped: bool) -> asyncpg.Record:
    """Give every unsent row a final status and close the run and a one-time campaign.

    Rows still ``pending`` at this point exist only when the run was stopped; they
    become skipped with reason "stopped". A run that was not stopped has none.
    """
    async with connection.transaction():
        run = await connection.fetchrow(
            "SELECT campaign_id, stop_requested_at FROM campaign_runs WHERE id = $1 FOR UPDATE", run_id
        )
        if run is None:
            raise RunNotFound(run_id)
        stopped = stopped or run["stop_requested_at"] is not None
        if stopped:
            await connection.execute(
                """
                UPDATE deliveries SET status = 'skipped', last_error = 'stopped', updated_at = now()
                WHERE run_id = $1 AND status = 'pending'
                """,
                run_id,
            )
        final_status = "stopped" if stopped else "sent"
        row = await connection.fetchrow(
            """
            UPDATE campaign_runs
            SET status = $2, finished_at = coalesce(finished_at, now()),
                stage = jsonb_build_object('name', 'finished')
            WHERE id = $1
            RETURNING status, delivered_count, failed_count, skipped_count, pending_count, sending_count
            """,
            run_id,
            final_status,
        )
        await _set_one_time_status(connection, campaign_id=run["campaign_id"], run_id=run_id, status=final_status)
        return row


async def _set_one_time_status(
    connection: asyncpg.Connection, *, campaign_id: uuid.UUID | str, run_id: str, status: str
) -> None:
    """Move a one-time campaign that is scheduled or sending to ``status``.

    Only the campaign's latest run may do so: a stopped run that finishes after a
    run-again has started must not turn the campaign back to stopped.
    """
    await connection.execute(
        """
        UPDATE campaigns c SET status = $3, updated_at = now()
        WHERE c.id = $1 AND c.kind = 'one_time' AND c.status IN ('scheduled', 'sending')
          AND NOT EXISTS (
                SELECT 1 FROM campaign_runs later, campaign_runs this
                WHERE this.id = $2 AND later.campaign_id = c.id AND later.run_number > this.run_number
          )
        """,
        campaign_id,
        run_id,
        status,
    )


_CLAIMED_SELECT = """
    SELECT d.id, d.user_id, d.address, u.first_name, u.last_name, u.email, cr.variables AS csv_variables
    FROM deliveries d JOIN users u ON u.id = d.user_id
    LEFT JOIN campaign_csv_recipients cr ON cr.campaign_id = d.campaign_id AND cr.user_id = d.user_id
"""


def _claimed(row: asyncpg.Record) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=row["id"],
        user_id=str(row["user_id"]),
        address=row["address"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        csv_variables=row["csv_variables"],
    )
