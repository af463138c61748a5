"""Which lifecycle actions each campaign status allows.

The 409 answer to an action on the wrong status lists these, so a client can show
what the user may do instead.
"""

from __future__ import annotations

from shared.domain import CampaignStatus

RUN = "run"
RUN_AGAIN = "run_again"
STOP = "stop"
EDIT = "edit"
RETRY = "retry"
PREVIEW = "preview"

_ONE_TIME: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (EDIT, PREVIEW, RUN),
    CampaignStatus.SCHEDULED: (PREVIEW, STOP),
    CampaignStatus.SENDING: (PREVIEW, STOP),
    CampaignStatus.SENT: (PREVIEW, RETRY, RUN_AGAIN),
    CampaignStatus.STOPPED: (PREVIEW, RETRY, RUN_AGAIN),
}


def allowed_actions(status: str) -> tuple[str, ...]:
    return _ONE_TIME.get(status, ())


def allows(status: str, action: str) -> bool:
    return action in allowed_actions(status)
