"""Build response bodies from campaign and run rows."""

from __future__ import annotations

from typing import Any

import asyncpg

from campaign_api.campaigns import schemas
from shared.domain import CampaignKind


def run_counts(run: asyncpg.Record, *, earlier_delivered: int = 0) -> schemas.DeliveryCounts:
    """Return a run's counts; ``earlier_delivered`` adds recipients delivered by earlier attempts."""
    return schemas.DeliveryCounts(
        total=run["recipient_count"] + earlier_delivered,
        pending=run["pending_count"],
        sending=run["sending_count"],
        delivered=run["delivered_count"] + earlier_delivered,
        failed=run["failed_count"],
        skipped=run["skipped_count"],
    )


def run_view(run: asyncpg.Record) -> schemas.Run:
    return schemas.Run(
        id=run["id"],
        run_number=run["run_number"],
        fire_at=run["fire_at"],
        workflow_id=run["workflow_id"],
        status=run["status"],
        stage=schemas.Stage(**run["stage"]) if run["stage"] else None,
        counts=run_counts(run),
        created_at=run["created_at"],
        started_at=run["started_at"],
        finished_at=run["finished_at"],
    )


def campaign_fields(row: asyncpg.Record, latest: asyncpg.Record | None, *, earlier_delivered: int) -> dict[str, Any]:
    """Return the fields shared by the list and detail views.

    A one-time campaign's later runs send only to recipients still without the
    message, so its counts add the deliveries of earlier runs to the latest run's.
    """
    if row["kind"] != CampaignKind.ONE_TIME:
        earlier_delivered = 0
    return dict(
        id=row["id"],
        team_id=row["team_id"],
        kind=row["kind"],
        name=row["name"],
        description=row["description"],
        channel=row["channel"],
        template=schemas.Template(subject=row["subject_template"], body=row["body_template"]),
        targets=schemas.Targets(user_ids=row["target_user_ids"], group_ids=row["target_group_ids"]),
        schedule=row["schedule"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        archived_at=row["archived_at"],
        counts=run_counts(latest, earlier_delivered=earlier_delivered) if latest else None,
        latest_run=run_view(latest) if latest else None,
    )


def detail_view(row: asyncpg.Record, runs: list[asyncpg.Record]) -> schemas.CampaignDetail:
    """Return the detail view; ``runs`` are newest first."""
    latest = runs[0] if runs else None
    earlier = sum(r["delivered_count"] for r in runs[1:])
    return schemas.CampaignDetail(
        **campaign_fields(row, latest, earlier_delivered=earlier), runs=[run_view(r) for r in runs]
    )
