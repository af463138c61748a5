"""Domain enums and constants shared by the API, the worker and the workflows.

Pure Python only: workflow code imports this module.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role in a team. ``member`` is a recipient without API access."""

    MEMBER = "member"
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    MANAGER = "manager"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


_ROLE_RANK = {Role.MEMBER: 0, Role.VIEWER: 1, Role.CONTRIBUTOR: 2, Role.MANAGER: 3}


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"


# Channels whose adapter exists in the delivery worker. Campaigns on other channels
# are rejected at save time rather than failing at send time.
SUPPORTED_CHANNELS = frozenset({Channel.EMAIL, Channel.WEBHOOK})


class CampaignKind(StrEnum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    STOPPED = "stopped"
    ACTIVE = "active"
    PAUSED = "paused"


class RunStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    STOPPED = "stopped"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


FINAL_DELIVERY_STATUSES = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED}
)


class ScheduleType(StrEnum):
    IMMEDIATE = "immediate"
    SCHEDULED = "scheduled"
    LOCAL_TIME = "local_time"


def unreachable_reason(channel: str) -> str:
    return f"unreachable on {channel}"


# Temporal custom search attributes. The dev server registers them on start
# (see shared/temporal.py) and production clusters register them once.
SEARCH_ATTRIBUTE_CAMPAIGN_ID = "CampaignId"
SEARCH_ATTRIBUTE_TEAM_ID = "TeamId"
SEARCH_ATTRIBUTE_RUN_NUMBER = "RunNumber"
SEARCH_ATTRIBUTE_CAMPAIGN_KIND = "CampaignKind"


def run_workflow_id(campaign_id: str, run_number: int) -> str:
    """Return the deterministic workflow id of a campaign's run."""
    return f"campaign-{campaign_id}-run-{run_number}"
