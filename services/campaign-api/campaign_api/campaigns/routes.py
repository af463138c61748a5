"""HTTP endpoints of campaigns."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.campaigns import actions, schemas, service
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.domain import CampaignStatus, DeliveryStatus

router = APIRouter(prefix="/v1", tags=["campaigns"])


def get_launcher(request: Request) -> RunLauncher:
    return request.app.state.launcher


Launcher = Annotated[RunLauncher, Depends(get_launcher)]


@router.post("/teams/{team_id}/campaigns", response_model=schemas.CampaignDetail, status_code=status.HTTP_201_CREATED)
async def create_campaign(
    team_id: uuid.UUID, body: schemas.CampaignCreate, principal: CurrentPrincipal, pool: Pool
) -> schemas.CampaignDetail:
    return await service.create_campaign(pool, principal=principal, team_id=team_id, body=body)


@router.get("/teams/{team_id}/campaigns", response_model=schemas.CampaignPage)
async def list_campaigns(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    status_filter: Annotated[list[CampaignStatus] | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.CampaignPage:
    """List the team's campaigns, newest first; repeat ``status`` to filter by several."""
    return await service.list_campaigns(
        pool, principal=principal, team_id=team_id, statuses=status_filter, cursor=cursor, limit=limit
    )


@router.get("/campaigns/{campaign_id}", response_model=schemas.CampaignDetail)
async def get_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> schemas.CampaignDetail:
    return await service.get_campaign(pool, principal=principal, campaign_id=campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=schemas.CampaignDetail)
async def update_campaign(
    campaign_id: uuid.UUID, body: schemas.CampaignUpdate, principal: CurrentPrincipal, pool: Pool
) -> schemas.CampaignDetail:
    return await service.update_campaign(pool, principal=principal, campaign_id=campaign_id, body=body)


@router.post("/campaigns/{campaign_id}/preview", response_model=schemas.Preview)
async def preview_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> schemas.Preview:
    """Return what a confirmation dialog shows before run: recipients, unreachable ones, schedule."""
    return await service.preview(pool, principal=principal, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/run", response_model=schemas.RunStarted, status_code=status.HTTP_202_ACCEPTED)
async def run_campaign(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher
) -> schemas.RunStarted:
    """Start sending. Concurrent or repeated calls start one run; the others get 409."""
    return await actions.run_campaign(pool, launcher, principal=principal, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/stop", response_model=schemas.StopResult)
async def stop_campaign(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher
) -> schemas.StopResult:
    """Stop a scheduled or sending campaign; recipients not yet sent end skipped."""
    return await actions.stop_campaign(pool, launcher, principal=principal, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/run-again", response_model=schemas.RunStarted, status_code=status.HTTP_202_ACCEPTED)
async def run_again(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher
) -> schemas.RunStarted:
    """Send again, only to recipients who have not received the message (failed or skipped)."""
    return await actions.run_again(pool, launcher, principal=principal, campaign_id=campaign_id)


@router.post(
    "/campaigns/{campaign_id}/deliveries/{delivery_id}/retry",
    response_model=schemas.Delivery,
    status_code=status.HTTP_202_ACCEPTED,
)
async def retry_delivery(
    campaign_id: uuid.UUID, delivery_id: int, principal: CurrentPrincipal, pool: Pool, launcher: Launcher
) -> schemas.Delivery:
    """Send once more to one failed or skipped recipient of a finished run."""
    return await actions.retry_delivery(
        pool, launcher, principal=principal, campaign_id=campaign_id, delivery_id=delivery_id
    )


@router.get("/campaigns/{campaign_id}/deliveries", response_model=schemas.DeliveryPage)
async def list_deliveries(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    run: Annotated[int | None, Query(ge=1, description="Run number; the latest run when omitted")] = None,
    status_filter: Annotated[list[DeliveryStatus] | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.DeliveryPage:
    return await service.list_deliveries(
        pool,
        principal=principal,
        campaign_id=campaign_id,
        run_number=run,
        statuses=status_filter,
        cursor=cursor,
        limit=limit,
    )
