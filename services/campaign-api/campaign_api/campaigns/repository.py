"""Campaign, run and delivery queries.

Team scoping lives here: every lookup by campaign id joins the caller's membership,
so a campaign of another team is simply not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from shared.db.recipients import ADDRESS_SQL, recipients_cte, unsent_recipients_cte

CAMPAIGN_COLUMNS = """
    c.id, c.team_id, c.kind, c.name, c.description, c.channel, c.subject_template, c.body_template,
    c.schedule, c.target_user_ids, c.target_group_ids, c.status, c.created_at, c.updated_at, c.archived_at,
    c.series_started_at
"""

RUN_COLUMNS = """
    r.id, r.campaign_id, r.run_number, r.workflow_id, r.status, r.stage, r.recipient_count,
    r.pending_count, r.sending_count, r.delivered_count, r.failed_count, r.skipped_count,
    r.created_at, r.started_at, r.finished_at, r.workflow_started_at, r.recipients_source, r.team_id, r.fire_at
"""


# A caller with API access to a team: any role but member. Formatted with the SQL
# expressions of the team id and the caller's user id.
_CALLER_IN_TEAM = (
    "SELECT 1 FROM team_memberships cm"
    " WHERE cm.team_id = {team} AND cm.user_id = {caller} AND cm.role <> 'member'"
)


async def insert_campaign(connection: asyncpg.Connection, *, values: dict[str, Any]) -> uuid.UUID:
    campaign_id = uuid.uuid4()
    await connection.execute(
        """
        INSERT INTO campaigns (id, team_id, kind, name, description, channel, subject_template, body_template,
                               schedule, target_user_ids, target_group_ids, status, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        campaign_id,
        values["team_id"],
        values["kind"],
        values["name"],
        values["description"],
        values["channel"],
        values["subject_template"],
        values["body_template"],
        values["schedule"],
        values["target_user_ids"],
        values["target_group_ids"],
        values["status"],
        values["created_by"],
    )
    return campaign_id


async def get_campaign_for_user(
    connection: asyncpg.Connection, *, campaign_id: uuid.UUID, user_id: uuid.UUID, for_update: bool = False
) -> asyncpg.Record | None:
    """Return the campaign with the caller's role in its team, or None if the caller is not a member.

    ``for_update`` locks the campaign row until the transaction ends, which
    serializes concurrent lifecycle calls on one campaign.
    """
    lock = "FOR UPDATE OF c" if for_update else ""
    return await connection.fetchrow(
        f"""
        SELECT {CAMPAIGN_COLUMNS}, m.role AS caller_role
        FROM campaigns c
        JOIN team_memberships m ON m.team_id = c.team_id AND m.user_id = $2 AND m.role <> 'member'
        WHERE c.id = $1
        {lock}
        """,
        campaign_id,
        user_id,
    )


async def list_campaigns(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    caller_id: uuid.UUID,
    statuses: Sequence[str] | None,
    after: tuple[datetime, str] | None,
    limit: int,
    archived: bool = False,
) -> list[asyncpg.Record]:
    """Return one page of the team's unarchived campaigns, or its archived ones, newest first.

    Empty unless ``caller_id`` has API access to the team.
    """
    conditions = [
        "c.team_id = $1",
        "c.archived_at IS NOT NULL" if archived else "c.archived_at IS NULL",
        f"EXISTS ({_CALLER_IN_TEAM.format(team='c.team_id', caller='$3')})",
    ]
    args: list[Any] = [team_id, limit, caller_id]
    if statuses:
        args.append(list(statuses))
        conditions.append(f"c.status = ANY(${len(args)}::text[])")
    if after is not None:
        args += [after[0], after[1]]
        conditions.append(f"(c.created_at, c.id) < (${len(args) - 1}, ${len(args)}::uuid)")
    return await connection.fetch(
        f"""
        SELECT {CAMPAIGN_COLUMNS}
        FROM campaigns c
        WHERE {" AND ".join(conditions)}
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT $2
        """,
        *args,
    )


async def update_campaign(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, values: dict[str, Any]) -> None:
    if not values:
        return
    assignments = ", ".join(f"{column} = ${index}" for index, column in enumerate(values, start=2))
    await connection.execute(
        f"UPDATE campaigns SET {assignments}, updated_at = now() WHERE id = $1", campaign_id, *values.values()
    )


async def set_campaign_status(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, status: str) -> None:
    await connection.execute("UPDATE campaigns SET status = $2, updated_at = now() WHERE id = $1", campaign_id, status)


async def list_runs(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        f"SELECT {RUN_COLUMNS} FROM campaign_runs r WHERE r.campaign_id = $1 ORDER BY r.run_number DESC", campaign_id
    )


async def latest_runs(connection: asyncpg.Connection, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """Return each campaign's latest run, with ``earlier_delivered``: the deliveries of its earlier runs."""
    rows = await connection.fetch(
        f"""
        SELECT DISTINCT ON (r.campaign_id) {RUN_COLUMNS},
               sum(r.delivered_count) OVER (PARTITION BY r.campaign_id) - r.delivered_count AS earlier_delivered
        FROM campaign_runs r
        WHERE r.campaign_id = ANY($1::uuid[])
        ORDER BY r.campaign_id, r.run_number DESC
        """,
        list(campaign_ids),
    )
    return {r["campaign_id"]: r for r in rows}


async def insert_run(
    connection: asyncpg.Connection,
    *,
    campaign_id: uuid.UUID,
    team_id: uuid.UUID,
    run_number: int,
    workflow_id: str,
    status: str,
    created_by: uuid.UUID,
    recipients_source: str = "targets",
) -> asyncpg.Record:
    return await connection.fetchrow(
        f"""
        INSERT INTO campaign_runs AS r (id, campaign_id, team_id, run_number, workflow_id, status, created_by,
                                        recipients_source)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {RUN_COLUMNS}
        """,
        uuid.uuid4(),
        campaign_id,
        team_id,
        run_number,
        workflow_id,
        status,
        created_by,
        recipients_source,
    )


async def next_run_number(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> int:
    return await connection.fetchval(
        "SELECT coalesce(max(run_number), 0) + 1 FROM campaign_runs WHERE campaign_id = $1", campaign_id
    )


async def active_run(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"""
        SELECT {RUN_COLUMNS} FROM campaign_runs r
        WHERE r.campaign_id = $1 AND r.status IN ('pending', 'scheduled', 'sending')
        ORDER BY r.run_number DESC LIMIT 1
        """,
        campaign_id,
    )


async def activate_series(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, schedule: dict[str, Any]) -> None:
    await connection.execute(
        "UPDATE campaigns SET status = 'active', schedule = $2, updated_at = now() WHERE id = $1",
        campaign_id,
        schedule,
    )


async def mark_series_started(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> None:
    await connection.execute(
        "UPDATE campaigns SET series_started_at = coalesce(series_started_at, now()) WHERE id = $1", campaign_id
    )


async def unstarted_series(connection: asyncpg.Connection, *, older_than_seconds: float) -> list[asyncpg.Record]:
    return await connection.fetch(
        """
        SELECT id, team_id FROM campaigns
        WHERE kind = 'recurring' AND status IN ('active', 'paused') AND series_started_at IS NULL
          AND updated_at < now() - make_interval(secs => $1)
        LIMIT 100
        """,
        older_than_seconds,
    )


async def get_run(connection: asyncpg.Connection, *, campaign_id: uuid.UUID, run_number: int) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"SELECT {RUN_COLUMNS} FROM campaign_runs r WHERE r.campaign_id = $1 AND r.run_number = $2",
        campaign_id,
        run_number,
    )


async def list_runs_page(
    connection: asyncpg.Connection,
    *,
    campaign_id: uuid.UUID,
    caller_id: uuid.UUID,
    before_run_number: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Return runs newest first, those numbered below ``before_run_number`` when given.

    Empty unless ``caller_id`` has API access to the campaign's team.
    """
    return await connection.fetch(
        f"""
        SELECT {RUN_COLUMNS} FROM campaign_runs r
        WHERE r.campaign_id = $1 AND ($2::int IS NULL OR r.run_number < $2)
          AND EXISTS ({_CALLER_IN_TEAM.format(team="r.team_id", caller="$4")})
        ORDER BY r.run_number DESC LIMIT $3
        """,
        campaign_id,
        before_run_number,
        limit,
        caller_id,
    )


async def stop_run(connection: asyncpg.Connection, run_id: uuid.UUID) -> int:
    """Record the stop and skip every recipient not yet claimed; return how many were skipped.

    A row already claimed for sending is left to finish: its message may be with
    the channel already. The delivery rows are updated before the run row, the same
    order in which a batch's claim locks them (its count trigger updates the run
    row), so a stop and a claim take their locks in one order and can't deadlock.
    """
    result = await connection.execute(
        """
        UPDATE deliveries SET status = 'skipped', last_error = 'stopped', updated_at = now()
        WHERE run_id = $1 AND status = 'pending'
        """,
        run_id,
    )
    await connection.execute(
        """
        UPDATE campaign_runs
        SET stop_requested_at = coalesce(stop_requested_at, now()), status = 'stopped',
            stage = jsonb_build_object('name', 'stopping')
        WHERE id = $1
        """,
        run_id,
    )
    return int(result.split()[-1])


async def unstarted_runs(connection: asyncpg.Connection, campaign_id: uuid.UUID) -> list[asyncpg.Record]:
    """Return runs whose workflow start was never confirmed (a crash between commit and start)."""
    return await connection.fetch(
        f"""
        SELECT {RUN_COLUMNS} FROM campaign_runs r
        WHERE r.campaign_id = $1 AND r.workflow_started_at IS NULL AND r.status NOT IN ('sent', 'stopped')
        ORDER BY r.run_number
        """,
        campaign_id,
    )


async def all_unstarted_runs(connection: asyncpg.Connection, *, older_than_seconds: float) -> list[asyncpg.Record]:
    return await connection.fetch(
        f"""
        SELECT {RUN_COLUMNS}, c.kind AS campaign_kind
        FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id
        WHERE r.workflow_started_at IS NULL AND r.status NOT IN ('sent', 'stopped')
          AND r.created_at < now() - make_interval(secs => $1)
        ORDER BY r.created_at
        LIMIT 100
        """,
        older_than_seconds,
    )


async def mark_run_started(connection: asyncpg.Connection, run_id: uuid.UUID) -> None:
    await connection.execute(
        "UPDATE campaign_runs SET workflow_started_at = coalesce(workflow_started_at, now()) WHERE id = $1", run_id
    )


async def preview_unsent_recipients(
    connection: asyncpg.Connection, *, team_id: uuid.UUID, campaign_id: uuid.UUID, channel: str
) -> asyncpg.Record:
    """Count the recipients a run-again would send to, those without an address, and
    those with an address but no row in the campaign's CSV list."""
    recipients = unsent_recipients_cte(channel=channel, team_param="$1", campaign_param="$2")
    return await connection.fetchrow(
        f"""
        WITH recipients AS ({recipients})
        SELECT count(*) AS recipients,
               count(*) FILTER (WHERE address IS NULL OR address = '') AS unreachable,
               {_without_csv_row_count("$2")}
        FROM recipients
        """,
        team_id,
        campaign_id,
    )


async def get_delivery_for_update(
    connection: asyncpg.Connection, *, campaign_id: uuid.UUID, delivery_id: int
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        """
        SELECT d.id, d.run_id, d.user_id, d.status, d.attempts, d.batch_no, r.run_number, r.status AS run_status
        FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id
        WHERE d.id = $1 AND d.campaign_id = $2
        FOR UPDATE OF d
        """,
        delivery_id,
        campaign_id,
    )


async def other_delivery_of_user(
    connection: asyncpg.Connection, *, campaign_id: uuid.UUID, user_id: uuid.UUID, delivery_id: int
) -> asyncpg.Record | None:
    """Return another delivery of the same person in this campaign that was delivered or is in progress."""
    return await connection.fetchrow(
        """
        SELECT d.status, r.run_number FROM deliveries d JOIN campaign_runs r ON r.id = d.run_id
        WHERE d.campaign_id = $1 AND d.user_id = $2 AND d.id <> $3
          AND d.status IN ('delivered', 'pending', 'sending')
        ORDER BY r.run_number DESC LIMIT 1
        """,
        campaign_id,
        user_id,
        delivery_id,
    )


async def current_address(connection: asyncpg.Connection, *, user_id: uuid.UUID, channel: str) -> str | None:
    return await connection.fetchval(
        f"SELECT nullif({ADDRESS_SQL[channel]}, '') FROM users u WHERE u.id = $1", user_id
    )


async def requeue_delivery(connection: asyncpg.Connection, *, delivery_id: int, address: str) -> None:
    await connection.execute(
        """
        UPDATE deliveries SET status = 'pending', last_error = NULL, address = $2, updated_at = now()
        WHERE id = $1
        """,
        delivery_id,
        address,
    )


async def preview_recipients(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    channel: str,
    user_ids: Sequence[uuid.UUID],
    group_ids: Sequence[uuid.UUID],
    campaign_id: uuid.UUID | None = None,
) -> asyncpg.Record:
    """Return the distinct recipient count and how many have no address on the channel.

    With ``campaign_id``, the users of that campaign's CSV list are recipients too,
    and ``without_csv_row`` counts the reachable recipients who are not in it.
    """
    if campaign_id is None:
        recipients = recipients_cte(channel=channel, team_param="$1", user_ids_param="$2", group_ids_param="$3")
        return await connection.fetchrow(
            f"""
            WITH recipients AS ({recipients})
            SELECT count(*) AS recipients,
                   count(*) FILTER (WHERE address IS NULL OR address = '') AS unreachable,
                   0 AS without_csv_row
            FROM recipients
            """,
            team_id,
            list(user_ids),
            list(group_ids),
        )
    recipients = recipients_cte(
        channel=channel, team_param="$1", user_ids_param="$2", group_ids_param="$3", campaign_param="$4"
    )
    return await connection.fetchrow(
        f"""
        WITH recipients AS ({recipients})
        SELECT count(*) AS recipients,
               count(*) FILTER (WHERE address IS NULL OR address = '') AS unreachable,
               {_without_csv_row_count("$4")}
        FROM recipients
        """,
        team_id,
        list(user_ids),
        list(group_ids),
        campaign_id,
    )


def _without_csv_row_count(campaign_param: str) -> str:
    """Return an aggregate over ``recipients`` that counts reachable ones without a row in the CSV list."""
    return f"""count(*) FILTER (
                   WHERE address IS NOT NULL AND address <> ''
                     AND NOT EXISTS (
                         SELECT 1 FROM campaign_csv_recipients cr
                         WHERE cr.campaign_id = {campaign_param} AND cr.user_id = recipients.id
                     )
               ) AS without_csv_row"""


async def get_delivery(connection: asyncpg.Connection, delivery_id: int) -> asyncpg.Record | None:
    return await connection.fetchrow(_DELIVERY_SELECT + " WHERE d.id = $1", delivery_id)


_DELIVERY_SELECT = """
    SELECT d.id, r.run_number, d.user_id, u.email, u.first_name, u.last_name, d.status, d.attempts,
           d.last_error, d.sent_at, d.updated_at
    FROM deliveries d
    JOIN campaign_runs r ON r.id = d.run_id
    JOIN users u ON u.id = d.user_id
"""


async def list_deliveries(
    connection: asyncpg.Connection,
    *,
    run_id: uuid.UUID,
    caller_id: uuid.UUID,
    statuses: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Return one page of a run's deliveries in id order; empty unless ``caller_id`` is in the team."""
    conditions = ["d.run_id = $1", f"EXISTS ({_CALLER_IN_TEAM.format(team='d.team_id', caller='$3')})"]
    args: list[Any] = [run_id, limit, caller_id]
    if statuses:
        args.append(list(statuses))
        conditions.append(f"d.status = ANY(${len(args)}::text[])")
    if after_id is not None:
        args.append(after_id)
        conditions.append(f"d.id > ${len(args)}")
    return await connection.fetch(
        f"""
        {_DELIVERY_SELECT}
        WHERE {" AND ".join(conditions)}
        ORDER BY d.id
        LIMIT $2
        """,
        *args,
    )
