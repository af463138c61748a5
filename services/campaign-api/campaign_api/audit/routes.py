"""HTTP endpoints of the audit trail."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from campaign_api.audit import schemas, service
from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.pagination import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/campaigns/{campaign_id}/audit", response_model=schemas.AuditEventPage)
async def list_campaign_audit(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.AuditEventPage:
    """List the campaign's lifecycle actions, oldest first; also for a deleted campaign."""
    return await service.list_campaign_events(pool, principal=principal, campaign_id=campaign_id, cursor=cursor, limit=limit)


@router.get("/teams/{team_id}/audit", response_model=schemas.AuditEventPage)
async def list_team_audit(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    action: Annotated[list[schemas.AuditAction] | None, Query(description="Repeat to list several actions")] = None,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.AuditEventPage:
    """List the lifecycle actions on the team's campaigns, newest first."""
    return await service.list_team_events(
        pool, principal=principal, team_id=team_id, actions=action, cursor=cursor, limit=limit
    )
