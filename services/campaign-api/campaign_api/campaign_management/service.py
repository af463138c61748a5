"""Duplicate, archive, unarchive and delete campaigns.

Each action locks the campaign row, checks the role and the status, makes its
change and records its audit event in one transaction.
"""

from __future__ import annotations

import uuid

import asyncpg
import structlog

from campaign_api.audit.repository import record_event
from campaign_api.audit.schemas import AuditAction
from campaign_api.auth import repository as auth_repository
from campaign_api.auth.dependencies import Principal, check_role
from campaign_api.campaign_management import repository, schemas
from campaign_api.campaigns import lifecycle
from campaign_api.campaigns import repository as campaigns_repository
from campaign_api.campaigns.schemas import CampaignDetail
from campaign_api.campaigns.service import campaign_detail, load_campaign
from campaign_api.csv_recipients import repository as csv_repository
from campaign_api.directory import repository as directory_repository
from shared.domain import CampaignStatus, Role

log = structlog.get_logger(__name__)

MAX_NAME_LENGTH = 200
COPY_NAME_PREFIX = "Copy of "


def copy_name(name: str) -> str:
    """Return the default name of a copy, cut to the campaign name limit."""
    return (COPY_NAME_PREFIX + name)[:MAX_NAME_LENGTH]


async def _read_detail(connection: asyncpg.Connection, principal: Principal, campaign_id: uuid.UUID) -> CampaignDetail:
    row = await load_campaign(connection, principal=principal, campaign_id=campaign_id, required=Role.VIEWER, action="reading")
    return await campaign_detail(connection, row)


async def duplicate(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, body: schemas.DuplicateRequest
) -> schemas.DuplicateResult:
    """Create a draft that copies the campaign's content, schedule and targets, in its team or another.

    Nothing about runs or deliveries is copied. Targets outside the copy's team are
    left out and listed in ``dropped_targets``. The CSV list is copied with the
    rows of the copy's team members, so a template that reads CSV columns stays valid.
    """
    async with pool.acquire() as connection, connection.transaction():
        source = await load_campaign(
            connection,
            principal=principal,
            campaign_id=campaign_id,
            required=Role.CONTRIBUTOR,
            action="duplicating campaigns",
            for_update=True,
        )
        team_id = body.team_id or source["team_id"]
        if team_id != source["team_id"]:
            role = await auth_repository.get_role(connection, team_id=team_id, user_id=principal.user_id)
            check_role(role=role, required=Role.CONTRIBUTOR, team_id=team_id, action="creating campaigns")

        members = await directory_repository.team_members_among(
            connection, team_id=team_id, user_ids=source["target_user_ids"]
        )
        user_ids = [u for u in source["target_user_ids"] if u in members]
        dropped_user_ids = [u for u in source["target_user_ids"] if u not in members]
        groups: set[uuid.UUID] = set()
        if team_id == source["team_id"]:
            groups = await directory_repository.team_groups_among(
                connection, team_id=team_id, group_ids=source["target_group_ids"]
            )
        group_ids = [g for g in source["target_group_ids"] if g in groups]
        dropped_group_ids = [g for g in source["target_group_ids"] if g not in groups]

        copy_id = await campaigns_repository.insert_campaign(
            connection,
            values=dict(
                team_id=team_id,
                kind=source["kind"],
                name=body.name or copy_name(source["name"]),
                description=source["description"],
                channel=source["channel"],
                subject_template=source["subject_template"],
                body_template=source["body_template"],
                schedule=source["schedule"],
                target_user_ids=user_ids,
                target_group_ids=group_ids,
                status=CampaignStatus.DRAFT,
                created_by=principal.user_id,
            ),
        )
        csv_counts = await csv_repository.copy_list(
            connection, source_campaign_id=campaign_id, campaign_id=copy_id, team_id=team_id
        )
        dropped = schemas.DroppedTargets(
            user_ids=dropped_user_ids,
            group_ids=dropped_group_ids,
            csv_row_count=csv_counts[1] - csv_counts[0] if csv_counts else 0,
        )

        await record_event(
            connection,
            team_id=source["team_id"],
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=AuditAction.DUPLICATE,
            status_before=source["status"],
            status_after=source["status"],
            details={"copy_campaign_id": str(copy_id), "copy_team_id": str(team_id)},
        )
        await record_event(
            connection,
            team_id=team_id,
            campaign_id=copy_id,
            actor_id=principal.user_id,
            action=AuditAction.DUPLICATE,
            status_before=None,
            status_after=CampaignStatus.DRAFT,
            details={
                "source_campaign_id": str(campaign_id),
                "source_team_id": str(source["team_id"]),
                "dropped_user_count": len(dropped.user_ids),
                "dropped_group_count": len(dropped.group_ids),
                "dropped_csv_row_count": dropped.csv_row_count,
            },
        )
        detail = await _read_detail(connection, principal, copy_id)

    log.info(
        "campaign.duplicated",
        campaign_id=str(copy_id),
        team_id=str(team_id),
        source_campaign_id=str(campaign_id),
        source_team_id=str(source["team_id"]),
        user_id=str(principal.user_id),
        dropped_users=len(dropped.user_ids),
        dropped_groups=len(dropped.group_ids),
        dropped_csv_rows=dropped.csv_row_count,
    )
    return schemas.DuplicateResult(**detail.model_dump(), dropped_targets=dropped)


async def _check_archivable(connection: asyncpg.Connection, campaign: asyncpg.Record) -> None:
    if campaign["archived_at"] is not None:
        raise lifecycle.conflict(
            lifecycle.ARCHIVE,
            campaign,
            f"the campaign is already archived, since {campaign['archived_at'].isoformat()}",
        )
    status = campaign["status"]
    if (step := lifecycle.how_to_end(status)) is not None:
        raise lifecycle.conflict(lifecycle.ARCHIVE, campaign, f"cannot archive a campaign in status {status!r}; {step}")
    run = await campaigns_repository.active_run(connection, campaign["id"])
    if run is not None:
        # A paused series may still have a run in progress; it finishes on its own.
        raise lifecycle.conflict(
            lifecycle.ARCHIVE,
            campaign,
            f"run {run['run_number']} of this campaign is still {run['status']}; stop it or wait until it ends",
        )


async def set_archived(
    pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID, archived: bool
) -> CampaignDetail:
    """Archive a campaign that sends nothing, or unarchive an archived one."""
    action = AuditAction.ARCHIVE if archived else AuditAction.UNARCHIVE
    async with pool.acquire() as connection, connection.transaction():
        campaign = await load_campaign(
            connection,
            principal=principal,
            campaign_id=campaign_id,
            required=Role.MANAGER,
            action="archiving campaigns" if archived else "unarchiving campaigns",
            for_update=True,
        )
        if archived:
            await _check_archivable(connection, campaign)
        elif campaign["archived_at"] is None:
            raise lifecycle.conflict(lifecycle.UNARCHIVE, campaign, "the campaign is not archived; nothing to unarchive")
        await repository.set_archived_at(connection, campaign_id=campaign_id, archived=archived)
        await record_event(
            connection,
            team_id=campaign["team_id"],
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=action,
            status_before=campaign["status"],
            status_after=campaign["status"],
        )
        detail = await _read_detail(connection, principal, campaign_id)
    log.info(
        "campaign.archived" if archived else "campaign.unarchived",
        campaign_id=str(campaign_id),
        team_id=str(campaign["team_id"]),
        user_id=str(principal.user_id),
    )
    return detail


async def delete(pool: asyncpg.Pool, *, principal: Principal, campaign_id: uuid.UUID) -> None:
    """Delete a draft for good, with its CSV list. Its audit events stay."""
    async with pool.acquire() as connection, connection.transaction():
        campaign = await load_campaign(
            connection,
            principal=principal,
            campaign_id=campaign_id,
            required=Role.MANAGER,
            action="deleting campaigns",
            for_update=True,
        )
        status = campaign["status"]
        if status != CampaignStatus.DRAFT:
            raise lifecycle.conflict(
                lifecycle.DELETE,
                campaign,
                f"cannot delete a campaign in status {status!r}; only drafts can be deleted, "
                "and archiving removes a campaign from the main list",
            )
        await record_event(
            connection,
            team_id=campaign["team_id"],
            campaign_id=campaign_id,
            actor_id=principal.user_id,
            action=AuditAction.DELETE,
            status_before=status,
            status_after=None,
            details={"name": campaign["name"]},
        )
        await repository.delete_draft(connection, campaign_id)
    log.info("campaign.deleted", campaign_id=str(campaign_id), team_id=str(campaign["team_id"]), user_id=str(principal.user_id))
