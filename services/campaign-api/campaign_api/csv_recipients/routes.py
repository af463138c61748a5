"""HTTP endpoints of a campaign's CSV recipient list."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status

from campaign_api.auth.dependencies import CurrentPrincipal, Pool
from campaign_api.csv_recipients import schemas, service

router = APIRouter(prefix="/v1", tags=["campaigns"])

# Maximum length of the file name stored with the list; longer names are cut.
_MAX_FILE_NAME = 255


@router.post("/campaigns/{campaign_id}/recipients/csv", response_model=schemas.CsvUploadResult)
async def upload_csv_recipients(
    campaign_id: uuid.UUID,
    file: UploadFile,
    principal: CurrentPrincipal,
    pool: Pool,
    dry_run: Annotated[bool, Query(description="Check the file and report every row problem without saving")] = False,
) -> schemas.CsvUploadResult:
    """Check a UTF-8 CSV of recipients and, unless dry_run, make its valid rows the draft's CSV list.

    Columns: email (required, a member of the team), timezone (optional, IANA),
    and any others, each readable in the template as csv.<column name>.
    """
    file_name = file.filename[:_MAX_FILE_NAME] if file.filename else None
    return await service.upload(
        pool, principal=principal, campaign_id=campaign_id, file=file.file, file_name=file_name, dry_run=dry_run
    )


@router.delete("/campaigns/{campaign_id}/recipients/csv", status_code=status.HTTP_204_NO_CONTENT)
async def delete_csv_recipients(campaign_id: uuid.UUID, principal: CurrentPrincipal, pool: Pool) -> None:
    """Remove the draft's CSV list."""
    await service.delete_list(pool, principal=principal, campaign_id=campaign_id)
