"""The lifecycle actions that each campaign status allows.

The 409 response to an action on the wrong status lists these, so a client can show
what the user may do instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from campaign_api.errors import InvalidLifecycleAction
from shared.domain import CampaignKind, CampaignStatus

RUN = "run"
RUN_AGAIN = "run_again"
STOP = "stop"
EDIT = "edit"
RETRY = "retry"
PREVIEW = "preview"
ACTIVATE = "activate"
PAUSE = "pause"
RESUME = "resume"

_ONE_TIME: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (EDIT, PREVIEW, RUN),
    CampaignStatus.SCHEDULED: (PREVIEW, STOP),
    CampaignStatus.SENDING: (PREVIEW, STOP),
    CampaignStatus.SENT: (PREVIEW, RETRY, RUN_AGAIN),
    CampaignStatus.STOPPED: (PREVIEW, RETRY, RUN_AGAIN),
}


# A series' runs are stopped one by one (`stop` on a run), never through the series.
_RECURRING: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (ACTIVATE, EDIT, PREVIEW),
    CampaignStatus.ACTIVE: (PAUSE, PREVIEW),
    CampaignStatus.PAUSED: (EDIT, PREVIEW, RESUME),
}


def allowed_actions(status: str, kind: str = CampaignKind.ONE_TIME) -> tuple[str, ...]:
    table = _RECURRING if kind == CampaignKind.RECURRING else _ONE_TIME
    return table.get(status, ())


def allows(status: str, action: str, kind: str = CampaignKind.ONE_TIME) -> bool:
    return action in allowed_actions(status, kind)


DUPLICATE = "duplicate"
ARCHIVE = "archive"
UNARCHIVE = "unarchive"
DELETE = "delete"
UPLOAD_CSV = "upload_csv"

# Statuses in which a campaign sends, or will send by itself, with what ends that.
_RUNNING = {
    CampaignStatus.SCHEDULED: "stop it first",
    CampaignStatus.SENDING: "stop it first",
    CampaignStatus.ACTIVE: "pause it first",
}


def campaign_actions(campaign: Mapping[str, Any]) -> list[str]:
    """Return every action the campaign allows now: the status table plus archive,
    duplicate, delete and CSV upload. An archived campaign is read-only until it is
    unarchived."""
    status = campaign["status"]
    if campaign.get("archived_at") is not None:
        actions = {PREVIEW, DUPLICATE, UNARCHIVE}
    else:
        actions = set(allowed_actions(status, campaign["kind"])) | {DUPLICATE}
        if status not in _RUNNING:
            actions.add(ARCHIVE)
        if status == CampaignStatus.DRAFT:
            actions.add(UPLOAD_CSV)
    if status == CampaignStatus.DRAFT:
        actions.add(DELETE)
    return sorted(actions)


def how_to_end(status: str) -> str | None:
    """Return what must happen before a campaign in ``status`` can be archived, or None if nothing."""
    return _RUNNING.get(status)


def conflict(action: str, campaign: Mapping[str, Any], detail: str | None = None) -> InvalidLifecycleAction:
    """Return the 409 error for ``action``, listing every action the campaign allows now."""
    return InvalidLifecycleAction(
        action=action,
        current_status=campaign["status"],
        allowed_actions=campaign_actions(campaign),
        detail=detail,
    )


def ensure_not_archived(campaign: Mapping[str, Any], *, action: str) -> None:
    """Raise 409 when the campaign is archived: it sends and changes nothing until unarchived."""
    if campaign.get("archived_at") is not None:
        raise conflict(action, campaign, f"{action} is not allowed on an archived campaign; unarchive it first")
