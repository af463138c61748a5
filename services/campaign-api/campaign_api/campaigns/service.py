"""Campaign use cases: role check, validation, persistence, then workflow calls."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog

from campaign_api.audit.repository import record_event
from campaign_api.audit.schemas import AuditAction
from campaign_api.auth import repository as auth_repository
from campaign_api.auth.dependencies import Principal, check_role
from campaign_api.campaigns import lifecycle, repository, schedules, schemas, views
from campaign_api.csv_recipients import repository as csv_repository
from campaign_api.csv_recipients.schemas import summary_view
from campaign_api.directory import repository as directory_repository
from campaign_api.errors import FieldError, InvalidLifecycleAction, NotFound, ValidationFailed
from campaign_api.pagination import decode_cursor, encode_cursor
from shared.domain import (
    SUPPORTED_CHANNELS,
    CampaignKind,
    CampaignStatus,
    Role,
    unreachable_reason,
)
from shared.settings import Settings
from shared.templating import NOT_IN_CSV_LIST_REASON, PROFILE_VARIABLES, check_template, csv_columns_used

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
    csv_columns: list[str] | None = None,
) -> None:
    """Raise 422 listing every problem; ``csv_columns`` are those of the campaign's CSV list, if it has one."""
    errors: list[FieldError] = []
    if channel not in SUPPORTED_CHANNELS:
        supported = ", ".join(sorted(SUPPORTED_CHANNELS))
        errors.append(FieldError("channel", f"channel {str(channel)!r} is not available; supported: {supported}"))
    for field, source in (("template.subject", subject), ("template.body", body)):
        problem = check_template(source, PROFILE_VARIABLES, csv_columns=csv_columns)
        if problem is not None:
            where = f" (line {problem.line})" if problem.line else ""
            errors.append(FieldError(field, problem.message + where))
    if not user_ids and not group_ids and csv_columns is None:
        # A campaign with a CSV list may target its rows only.
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
    detail = views.detail_view(row, await repository.list_runs(connection, row["id"]))
    detail.csv_recipients = summary_view(await csv_repository.get_list(connection, row["id"]))
    return detail


async def create_campaign(
    pool: asyncpg.Pool, settings: Settings, *, principal: Principal, team_id: uuid.UUID, body: schemas.CampaignCreate
) -> schemas.CampaignDetail:
    async with pool.acquire() as connection, connection.transaction():
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        check_role(role=role, required=Role.CONTRIBUTOR, team_id=team_id, action="creating campaigns")
        schedule = schedules.schedule_json(body.schedule, minimum_interval_minutes=settings.recurring_min_interval_minutes)
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
                kind=schedules.kind_of(body.schedule),
                name=body.name,
                description=body.description,
                channel=body.channel,
                subject_template=body.template.subject,
                body_template=body.template.body,
                schedule=schedule,
                target_user_ids=_unique(body.targets.user_ids),
                target_group_ids=_unique(body.targets.group_ids),
                status=CampaignStatus.DRAFT,
                created_by=principal.user_id,
            ),
        )
        await record_event(
            connection,
            team_id=team_id,
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=AuditAction.CREATE,
            status_before=None,
            status_after=CampaignStatus.DRAFT,
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
    archived: bool = False,
) -> schemas.CampaignPage:
    after = decode_cursor(cursor) if cursor else None
    async with pool.acquire() as connection:
        role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
        check_role(role=role, required=Role.VIEWER, team_id=team_id, action="listing campaigns")
        rows = await repository.list_campaigns(
            connection,
            team_id=team_id,
            caller_id=principal.user_id,
            statuses=statuses,
            after=after,
            limit=limit + 1,
            archived=archived,
        )
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
    pool: asyncpg.Pool, settings: Settings, *, principal: Principal, campaign_id: uuid.UUID, body: schemas.CampaignUpdate
) -> schemas.CampaignDetail:
    async with pool.acquire() as connection, connection.transaction():
        row = await load_campaign(
            connection, principal=principal, campaign_id=campaign_id, required=Role.CONTRIBUTOR, action="editing campaigns", for_update=True
        )
        if not lifecycle.allows(row["status"], lifecycle.EDIT, row["kind"]):
            raise InvalidLifecycleAction(
                action="edit",
                current_status=row["status"],
                allowed_actions=lifecycle.allowed_actions(row["status"], row["kind"]),
            )
        lifecycle.ensure_not_archived(row, action=lifecycle.EDIT)
        csv_columns = await csv_repository.get_columns(connection, campaign_id)
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
            csv_columns=csv_columns,
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
            if schedules.kind_of(body.schedule) != row["kind"]:
                raise ValidationFailed.single(
                    "schedule.type",
                    f"a {row['kind']} campaign keeps its kind; duplicate it to make a campaign of the other kind",
                )
            values["schedule"] = schedules.schedule_json(
                body.schedule, minimum_interval_minutes=settings.recurring_min_interval_minutes
            )
        await repository.update_campaign(connection, campaign_id=campaign_id, values=values)
        await record_event(
            connection,
            team_id=row["team_id"],
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=AuditAction.EDIT,
            status_before=row["status"],
            status_after=row["status"],
            details={"fields": sorted(values)},
        )
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
        detail = await campaign_detail(connection, row)
    log.info("campaign.updated", campaign_id=str(campaign_id), user_id=str(principal.user_id), fields=sorted(values))
    return detail


async def preview(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, run_immediately: bool = True
) -> schemas.Preview:
    """Return what the confirmation dialog before run or activate shows.

    ``run_immediately`` is the activate option the dialog offers for a recurring
    campaign; it changes the summary and the fire times listed.
    """
    async with pool.acquire() as connection:
        row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="previewing campaigns")
        if lifecycle.allows(row["status"], lifecycle.RUN_AGAIN, row["kind"]):
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
                campaign_id=row["id"],
            )
    unreachable = counts["unreachable"]
    reasons = [schemas.UnreachableReason(reason=unreachable_reason(row["channel"]), count=unreachable)] if unreachable else []
    if counts["without_csv_row"] and (csv_columns_used(row["subject_template"]) or csv_columns_used(row["body_template"])):
        # These recipients' deliveries will fail: the template reads a CSV row they don't have.
        reasons.append(schemas.UnreachableReason(reason=NOT_IN_CSV_LIST_REASON, count=counts["without_csv_row"]))
        unreachable += counts["without_csv_row"]
    if lifecycle.allows(row["status"], lifecycle.RUN_AGAIN, row["kind"]):
        summary = "Immediately, to the recipients still without the message"
    else:
        summary = schedules.describe(row["schedule"], run_immediately=run_immediately)
    fire_times = []
    if row["kind"] == CampaignKind.RECURRING and row["status"] == CampaignStatus.DRAFT:
        fire_times = schedules.next_fire_times(row["schedule"], schedules.utc_now(), run_immediately=run_immediately)
    return schemas.Preview(
        recipient_count=counts["recipients"],
        reachable_count=counts["recipients"] - unreachable,
        unreachable_count=unreachable,
        unreachable=reasons,
        schedule_summary=summary,
        next_fire_times=fire_times,
    )


async def list_runs(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, cursor: str | None, limit: int
) -> schemas.RunPage:
    if cursor is not None and not cursor.isdigit():
        raise ValidationFailed.single("cursor", "invalid cursor; pass the next_cursor of a previous page")
    async with pool.acquire() as connection:
        await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading runs")
        rows = await repository.list_runs_page(
            connection,
            campaign_id=campaign_id,
            caller_id=principal.user_id,
            before_run_number=int(cursor) if cursor else None,
            limit=limit + 1,
        )
    items = [views.run_view(r) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1]["run_number"]) if len(rows) > limit else None
    return schemas.RunPage(items=items, next_cursor=next_cursor)


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
            connection,
            run_id=run["id"],
            caller_id=principal.user_id,
            statuses=statuses,
            after_id=after_id,
            limit=limit + 1,
        )
    items = [schemas.Delivery(**dict(r)) for r in rows[:limit]]
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return schemas.DeliveryPage(items=items, next_cursor=next_cursor)
