"""HTTP endpoints of campaigns."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.campaigns import actions, schemas, series, service
from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from shared.domain import CampaignStatus, DeliveryStatus
from shared.settings import Settings

router = APIRouter(prefix="/v1", tags=["campaigns"])


def get_launcher(request: Request) -> RunLauncher:
    return request.app.state.launcher


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Launcher = Annotated[RunLauncher, Depends(get_launcher)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@router.post("/teams/{team_id}/campaigns", response_model=schemas.CampaignDetail, status_code=status.HTTP_201_CREATED)
async def create_campaign(
    team_id: uuid.UUID, body: schemas.CampaignCreate, principal: CurrentPrincipal, pool: Pool, settings: AppSettings
) -> schemas.CampaignDetail:
    """Create a draft; a `recurring` schedule makes a recurring campaign."""
    return await service.create_campaign(pool, settings, principal=principal, team_id=team_id, body=body)


@router.get("/teams/{team_id}/campaigns", response_model=schemas.CampaignPage)
async def list_campaigns(
    team_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    status_filter: Annotated[list[CampaignStatus] | None, Query(alias="status")] = None,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    archived: Annotated[bool, Query(description="List the archived campaigns instead of the others")] = False,
) -> schemas.CampaignPage:
    """List the team's campaigns, newest first; repeat ``status`` to filter by several."""
    return await service.list_campaigns(
        pool, principal=principal, team_id=team_id, statuses=status_filter, cursor=cursor, limit=limit, archived=archived
    )


@router.get("/campaigns/{campaign_id}", response_model=schemas.CampaignDetail)
async def get_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> schemas.CampaignDetail:
    return await service.get_campaign(pool, principal=principal, campaign_id=campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=schemas.CampaignDetail)
async def update_campaign(
    campaign_id: uuid.UUID, body: schemas.CampaignUpdate, principal: CurrentPrincipal, pool: Pool, settings: AppSettings
) -> schemas.CampaignDetail:
    """Edit a draft, or a paused series (the change applies from its next run)."""
    return await service.update_campaign(pool, settings, principal=principal, campaign_id=campaign_id, body=body)


@router.post("/campaigns/{campaign_id}/preview", response_model=schemas.Preview)
async def preview_campaign(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    run_immediately: Annotated[bool, Query(description="For a recurring draft: the activate option")] = True,
) -> schemas.Preview:
    """Return what a confirmation dialog shows before run or activate: recipients, unreachable ones, schedule."""
    return await service.preview(pool, principal=principal, campaign_id=campaign_id, run_immediately=run_immediately)


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


@router.post("/campaigns/{campaign_id}/activate", response_model=schemas.CampaignDetail, status_code=status.HTTP_202_ACCEPTED)
async def activate_campaign(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    launcher: Launcher,
    settings: AppSettings,
    body: schemas.Activate | None = None,
) -> schemas.CampaignDetail:
    """Start a recurring campaign's schedule; by default the first run starts now."""
    return await series.activate(
        pool, launcher, settings, principal=principal, campaign_id=campaign_id, body=body or schemas.Activate()
    )


@router.post("/campaigns/{campaign_id}/pause", response_model=schemas.CampaignDetail)
async def pause_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher) -> schemas.CampaignDetail:
    """Pause an active series: no new run starts; a run in progress finishes."""
    return await series.set_paused(pool, launcher, principal=principal, campaign_id=campaign_id, pause=True)


@router.post("/campaigns/{campaign_id}/resume", response_model=schemas.CampaignDetail)
async def resume_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher) -> schemas.CampaignDetail:
    """Resume a paused series from the next fire time after now; missed fires are not created."""
    return await series.set_paused(pool, launcher, principal=principal, campaign_id=campaign_id, pause=False)


@router.get("/campaigns/{campaign_id}/series", response_model=schemas.SeriesState)
async def get_series_state(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, launcher: Launcher) -> schemas.SeriesState:
    """Return the series' live state from its workflow: active or paused, next fire time, runs so far."""
    return await series.series_state(pool, launcher, principal=principal, campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}/runs", response_model=schemas.RunPage)
async def list_runs(
    campaign_id: uuid.UUID,
    principal: CurrentPrincipal,
    pool: Pool,
    cursor: str | None = None,
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> schemas.RunPage:
    """List the campaign's runs, newest first, with fire time, status and counts."""
    return await service.list_runs(pool, principal=principal, campaign_id=campaign_id, cursor=cursor, limit=limit)


@router.post("/campaigns/{campaign_id}/runs/{run_number}/stop", response_model=schemas.Run)
async def stop_series_run(
    campaign_id: uuid.UUID, run_number: int, principal: CurrentPrincipal, pool: Pool, launcher: Launcher
) -> schemas.Run:
    """Stop one run of a recurring campaign; the series keeps firing."""
    return await series.stop_run(pool, launcher, principal=principal, campaign_id=campaign_id, run_number=run_number)
