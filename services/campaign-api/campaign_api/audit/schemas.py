"""Response bodies of the audit endpoints and the recorded action names."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class AuditAction(StrEnum):
    """Names of the recorded lifecycle actions; the ``action`` filter accepts these."""

    CREATE = "create"
    EDIT = "edit"
    RUN = "run"
    RUN_AGAIN = "run_again"
    STOP = "stop"
    ACTIVATE = "activate"
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    DUPLICATE = "duplicate"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"
    DELETE = "delete"
    CSV_UPLOAD = "csv_upload"
    CSV_DELETE = "csv_delete"


class AuditEvent(BaseModel):
    id: int
    campaign_id: uuid.UUID
    team_id: uuid.UUID
    action: str
    actor_id: uuid.UUID | None = Field(description="The user who made the call")
    actor_email: str | None = Field(description="The user's email when the event was recorded")
    status_before: str | None = Field(description="Campaign status before the action; null when it created the campaign")
    status_after: str | None = Field(description="Campaign status after the action; null when it deleted the campaign")
    details: dict[str, Any] = Field(description="Facts about the action, such as run_number or delivery_id")
    created_at: datetime


class AuditEventPage(BaseModel):
    items: list[AuditEvent]
    next_cursor: str | None
