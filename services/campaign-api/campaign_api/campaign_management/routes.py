"""HTTP endpoints of duplicate, archive, unarchive and delete."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.campaign_management import schemas, service
from campaign_api.campaigns.schemas import CampaignDetail

router = APIRouter(prefix="/v1", tags=["campaigns"])


@router.post(
    "/campaigns/{campaign_id}/duplicate", response_model=schemas.DuplicateResult, status_code=status.HTTP_201_CREATED
)
async def duplicate_campaign(
    campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool, body: schemas.DuplicateRequest | None = None
) -> schemas.DuplicateResult:
    """Create a draft copy of any campaign, archived or not, optionally in another of your teams."""
    return await service.duplicate(
        pool, principal=principal, campaign_id=campaign_id, body=body or schemas.DuplicateRequest()
    )


@router.post("/campaigns/{campaign_id}/archive", response_model=CampaignDetail)
async def archive_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> CampaignDetail:
    """Move a campaign to the archived list; a sending, scheduled or active one must be stopped or paused first."""
    return await service.set_archived(pool, principal=principal, campaign_id=campaign_id, archived=True)


@router.post("/campaigns/{campaign_id}/unarchive", response_model=CampaignDetail)
async def unarchive_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> CampaignDetail:
    """Bring an archived campaign back to the main list."""
    return await service.set_archived(pool, principal=principal, campaign_id=campaign_id, archived=False)


@router.delete("/campaigns/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_campaign(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> None:
    """Delete a draft for good; its audit trail stays readable."""
    await service.delete(pool, principal=principal, campaign_id=campaign_id)
