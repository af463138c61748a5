"""Request and response bodies of duplicate, archive, unarchive and delete."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from campaign_api.campaigns.schemas import CampaignDetail


class DuplicateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: uuid.UUID | None = Field(
        default=None, description="Team of the copy, where you are a contributor or manager; the source's team when omitted"
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Name of the copy; 'Copy of <name>' when omitted"
    )


class DroppedTargets(BaseModel):
    """Targets of the source that the copy does not have, because they are not in the copy's team."""

    user_ids: list[uuid.UUID] = Field(description="Users who are not members of the copy's team")
    group_ids: list[uuid.UUID] = Field(description="Groups of another team; a group belongs to one team")
    csv_row_count: int = Field(description="Rows of the CSV list whose user is not a member of the copy's team")


class DuplicateResult(CampaignDetail):
    """The new draft, and the targets that could not carry over."""

    dropped_targets: DroppedTargets
