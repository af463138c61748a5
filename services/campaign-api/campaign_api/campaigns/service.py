"""Campaign use cases: role check, validation, persistence, then workflow calls."""

from __future__ import annotations

import uuid
from datetime import date, time
from typing import Any

import asyncpg
import structlog

from campaign_api.auth import repository as auth_repository
from campaign_api.auth.dependencies import Principal, check_role
from campaign_api.campaigns import lifecycle, repository, schemas, views
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.directory import repository as directory_repository
from campaign_api.errors import FieldError, InvalidLifecycleAction, NotFound, ValidationFailed
from campaign_api.pagination import decode_cursor, encode_cursor
from shared.domain import (
    SUPPORTED_CHANNELS,
    CampaignKind,
    CampaignStatus,
    Role,
    RunStatus,
    ScheduleType,
    run_workflow_id,
    unreachable_reason,
)
from shared.schedules import describe_one_time
from shared.templating import PROFILE_VARIABLES, check_template

log = structlog.get_logger(__name__)

async def load_campaign(
    connection: asyncpg.Connection,
    *,
    principal: Principal,
    campaign_id: uuid.UUID,
    required: Role,
    action: str,
    for_update: bool = False,
) -> asyncpg.Record:
    row = await repository.get_campaign_for_user(
        connection, campaign_id=campaign_id, user_id=principal.user_id, for_update=for_update
    )
    if row is None:
        raise NotFound(f"campaign {campaign_id} not found")
    check_role(role=row["caller_role"], required=required, team_id=row["team_id"], action=action)
    return row


async def _validate_content(
    connection: asyncpg.Connection,
    *,
    team_id: uuid.UUID,
    channel: str,
    subject: str,
    body: str,
    user_ids: list[uuid.UUID],
    group_ids: list[uuid.UUID],
) -> None:
    errors: list[FieldError] = []
    if channel not in SUPPORTED_CHANNELS:
        supported = ", ".join(sorted(SUPPORTED_CHANNELS))
        errors.append(FieldError("channel", f"channel {channel!r} is not available; supported: {supported}"))
    for field, source in (("template.subject", subject), ("template.body", body)):
        problem = check_template(source, PROFILE_VARIABLES)
        if problem is not None:
            where = f" (line {problem.line})" if problem.line else ""
            errors.append(FieldError(field, problem.message + where))
    if not user_ids and not group_ids:
        errors.append(FieldError("targets", "choose at least one user or group"))
    if user_ids:
        found = await directory_repository.team_members_among(connection, team_id=team_id, user_ids=user_ids)
        missing = [str(u) for u in user_ids if u not in found]
        if missing:
            errors.append(FieldError("targets.user_ids", f"not members of this team: {', '.join(missing[:20])}"))
    if group_ids:
        found = await directory_repository.team_groups_among(connection, team_id=team_id, group_ids=group_ids)
        missing = [str(g) for g in group_ids if g not in found]
        if missing:
            errors.append(FieldError("targets.group_ids", f"not groups of this team: {', '.join(missing[:20])}"))
    if errors:
        raise ValidationFailed(errors)


async def campaign_detail(connection: asyncpg.Connection, row: asyncpg.Record) -> schemas.CampaignDetail:
    return views.detail_view(row, await repository.list_runs(connection, row["id"]))


async def create_campaign(
    pool: asyncpg.Pool, *, principal: Principal, team_id: uuid.UUID, body: schemas.CampaignCreate
) -> schemas.CampaignDetail:
    async with pool.acquire() as connection:
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        check_role(role=role, required=Role.CONTRIBUTOR, team_id=team_id, action="creating campaigns")
        await _validate_content(
            connection,
            team_id=team_id,
            channel=body.channel,
            subject=body.template.subject,
            body=body.template.body,
            user_ids=body.targets.user_ids,
            group_ids=body.targets.group_ids,
        )
        campaign_id = await repository.insert_campaign(
            connection,
            values=dict(
                team_id=team_id,
                kind=CampaignKind.ONE_TIME,
                name=body.name,
                description=body.description,
                channel=body.channel,
                subject_template=body.template.subject,
                body_template=body.template.body,
                schedule=body.schedule.model_dump(mode="json"),
                target_user_ids=_unique(body.targets.user_ids),
                target_group_ids=_unique(body.targets.group_ids),
                status=CampaignStatus.DRAFT,
                created_by=principal.user_id,
            ),
        )
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        detail = await campaign_detail(connection, row)
    log.info("campaign.created", campaign_id=str(campaign_id), team_id=str(team_id), user_id=str(principal.user_id))
    return detail


def _unique(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys(ids))


async def get_campaign(pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID) -> schemas.CampaignDetail:
    async with pool.acquire() as connection:
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading campaigns")
        return await campaign_detail(connection, row)


async def list_campaigns(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    team_id: uuid.UUID,
    statuses: list[CampaignStatus] | None,
    cursor: str | None,
    limit: int,
) -> schemas.CampaignPage:
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as connection:
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        check_role(role=role, required=Role.VIEWER, team_id=team_id, action="listing campaigns")
        rows = await repository.list_campaigns(connection, team_id=team_id, statuses=statuses, after=after, limit=limit + 1)
        page = rows[:limit]
        latest = await repository.latest_runs(connection, [r["id"] for r in page])
    items = []
    for row in page:
        run = latest.get(row["id"])
        earlier = run["earlier_delivered"] if run else 0
        items.append(schemas.Campaign(**views.campaign_fields(row, run, earlier_delivered=earlier)))
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return schemas.CampaignPage(items=items, next_cursor=next_cursor)


async def update_campaign(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, body: schemas.CampaignUpdate
) -> schemas.CampaignDetail:
    async with pool.acquire() as connection, connection.transaction():
        row = await load_campaign(
            connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR, action="editing campaigns", for_update=True
        )
        if row["status"] != CampaignStatus.DRAFT:
            raise InvalidLifecycleAction(action="edit", current_status=row["status"], allowed_actions=lifecycle.allowed_actions(row["status"]))
        template = body.template or schemas.Template(subject=row["subject_template"], body=row["body_template"])
        targets = body.targets or schemas.Targets(user_ids=row["target_user_ids"], group_ids=row["target_group_ids"])
        channel = body.channel or row["channel"]
        await _validate_content(
            connection,
            team_id=row["team_id"],
            channel=channel,
            subject=template.subject,
            body=template.body,
            user_ids=targets.user_ids,
            group_ids=targets.group_ids,
        )
        values: dict[str, Any] = {}
        if body.name is not None:
            values["name"] = body.name
        if body.description is not None:
            values["description"] = body.description
        if body.channel is not None:
            values["channel"] = body.channel
        if body.template is not None:
            values["subject_template"] = template.subject
            values["body_template"] = template.body
        if body.targets is not None:
            values["target_user_ids"] = _unique(targets.user_ids)
            values["target_group_ids"] = _unique(targets.group_ids)
        if body.schedule is not None:
            values["schedule"] = body.schedule.model_dump(mode="json")
        await repository.update_campaign(connection, campaign_id=campaign_id, values=values)
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        detail = await campaign_detail(connection, row)
    log.info("campaign.updated", campaign_id=str(campaign_id), user_id=str(principal.user_id), fields=sorted(values))
    return detail


def describe_schedule(schedule: dict[str, Any]) -> str:
    """Return the one-line schedule summary of a one-time campaign."""
    kind = schedule.get("type", ScheduleType.IMMEDIATE)
    if kind == ScheduleType.IMMEDIATE:
        return describe_one_time(kind)
    local_date = date.fromisoformat(schedule["date"])
    local_time = time.fromisoformat(schedule["time"])
    summary = describe_one_time(kind, local_date, local_time, schedule.get("timezone"))
    if kind == ScheduleType.LOCAL_TIME and schedule.get("passed_time_policy") == "skip":
        summary += "; zones where that time has passed are skipped"
    elif kind == ScheduleType.LOCAL_TIME:
        summary += "; zones where that time has passed are sent at once"
    return summary


async def preview(pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID) -> schemas.Preview:
    async with pool.acquire() as connection:
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="previewing campaigns")
        if lifecycle.allows(row["status"], lifecycle.RUN_AGAIN):
            # After a run, the confirmation dialog is for running again: only the
            # recipients who have not received the message count.
            counts = await repository.preview_unsent_recipients(
                connection, team_id=row["team_id"], campaign_id=row["id"], channel=row["channel"]
            )
        else:
            counts = await repository.preview_recipients(
                connection,
                team_id=row["team_id"],
                channel=row["channel"],
                user_ids=row["target_user_ids"],
                group_ids=row["target_group_ids"],
            )
    unreachable = counts["unreachable"]
    reasons = [schemas.UnreachableReason(reason=unreachable_reason(row["channel"]), count=unreachable)] if unreachable else []
    return schemas.Preview(
        recipient_count=counts["recipients"],
        reachable_count=counts["recipients"] - unreachable,
        unreachable_count=unreachable,
        unreachable=reasons,
        schedule_summary=(
            "Immediately, to the recipients still without the message"
            if lifecycle.allows(row["status"], lifecycle.RUN_AGAIN)
            else describe_schedule(row["schedule"])
        ),
    )


async def list_deliveries(
    pool: asyncpg.Pool,
    *,
    principal: Principal,
    campaign_id: uuid.UUID,
    run_number: int | None,
    statuses: list[str] | None,
    cursor: str | None,
    limit: int,
) -> schemas.DeliveryPage:
    after_id = None
    if cursor:
        if not cursor.isdigit():
            raise ValidationFailed.single("cursor", "invalid cursor; pass the next_cursor of a previous page")
        after_id = int(cursor)
    async with pool.acquire() as connection:
        await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading deliveries")
        runs = await repository.list_runs(connection, campaign_id)
        if not runs:
            return schemas.DeliveryPage(items=[], next_cursor=None)
        if run_number is None:
            run = runs[0]
        else:
            run = next((r for r in runs if r["run_number"] == run_number), None)
            if run is None:
                raise NotFound(f"campaign {campaign_id} has no run {run_number}")
        rows = await repository.list_deliveries(
            connection, run_id=run["id"], statuses=statuses, after_id=after_id, limit=limit + 1
        )
    items = [schemas.Delivery(**dict(r)) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return schemas.DeliveryPage(items=items, next_cursor=next_cursor)
