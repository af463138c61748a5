"""Request and response bodies of the campaign endpoints."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from campaign_api.csv_recipients.schemas import CsvListSummary
from shared.domain import CampaignKind, CampaignStatus, Channel, DeliveryStatus, RunStatus
from shared.validation import timezone_problem


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=998, description="Subject line; used by email")
    body: str = Field(min_length=1, max_length=100_000, description="Message body with {{ variables }}")


class Targets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100_000)
    group_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1_000)


class ImmediateSchedule(BaseModel):
    """Send as soon as the campaign is run."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["immediate"] = "immediate"


class ScheduledSchedule(BaseModel):
    """Send at one wall-clock date and time in one time zone; a past time sends at once."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["scheduled"]
    date: dt.date
    time: dt.time = Field(description="Wall-clock time, such as 09:00")
    timezone: str = Field(description="IANA time zone, such as Europe/Berlin")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if problem := timezone_problem(value):
            raise ValueError(problem)
        return value


class LocalTimeSchedule(BaseModel):
    """Send at a wall-clock date and time in each recipient's own time zone.

    Recipients without a time zone use the team's default zone.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["local_time"]
    date: dt.date
    time: dt.time = Field(description="Wall-clock time, such as 09:00")
    passed_time_policy: Literal["send_now", "skip"] = Field(
        default="send_now",
        description="For zones where the time has already passed when the run starts: send at once, or skip them",
    )


class RecurringSchedule(BaseModel):
    """Fire a run on a recurring schedule; each run is delivered at once or in local time."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["recurring"]
    recurrence: dict[str, Any] = Field(
        description=(
            "kind: interval (every, unit: seconds, minutes or hours), weekly (weekdays 0=Monday..6, time_of_day HH:MM), "
            "monthly (days_of_month 1..31, time_of_day), or cron (expression, 5 fields); plus timezone (IANA) "
            "and optional start_date and end_date (local dates, end inclusive). A day the month lacks, "
            "such as the 31st, is skipped for that month."
        )
    )
    delivery: Literal["immediate", "local_time"] = Field(
        default="immediate",
        description="immediate: each run sends at its fire time; local_time: at the fire's wall-clock time in each recipient's zone",
    )
    passed_time_policy: Literal["send_now", "skip"] = "send_now"


Schedule = Annotated[
    ImmediateSchedule | ScheduledSchedule | LocalTimeSchedule | RecurringSchedule, Field(discriminator="type")
]


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    channel: Channel = Field(description="email or webhook; slack and teams are not available yet")
    template: Template
    targets: Targets
    schedule: Schedule = Field(default_factory=ImmediateSchedule)


class CampaignUpdate(BaseModel):
    """Fields to change on a draft; omitted fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5_000)
    channel: Channel | None = None
    template: Template | None = None
    targets: Targets | None = None
    schedule: Schedule | None = None


class DeliveryCounts(BaseModel):
    """Recipients per delivery status. For a campaign with several attempts, delivered
    adds up every attempt and the other counts are those of the latest attempt."""

    total: int
    pending: int
    sending: int
    delivered: int
    failed: int
    skipped: int


class Stage(BaseModel):
    name: str = Field(description="preparing, waiting_until, waiting_for_next_batch, sending or finished")
    due_at: datetime | None = None
    wave_size: int | None = Field(default=None, description="Recipients in the next local-time batch")


class Run(BaseModel):
    id: uuid.UUID
    run_number: int
    fire_at: datetime | None = Field(default=None, description="The series fire time this run belongs to")
    workflow_id: str
    status: RunStatus
    stage: Stage | None
    counts: DeliveryCounts
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Campaign(BaseModel):
    id: uuid.UUID
    team_id: uuid.UUID
    kind: CampaignKind
    name: str
    description: str
    channel: Channel = Field(description="email or webhook; slack and teams are not available yet")
    template: Template
    targets: Targets
    schedule: dict[str, Any]
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = Field(default=None, description="When the campaign was archived; null when it is not")
    counts: DeliveryCounts | None = Field(description="Counts of the latest run; null before the first run")
    latest_run: Run | None


class CampaignDetail(Campaign):
    runs: list[Run] = Field(description="Every run of this campaign, newest first")
    csv_recipients: CsvListSummary | None = Field(default=None, description="The CSV recipient list; null when there is none")


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None


class UnreachableReason(BaseModel):
    reason: str
    count: int


class Preview(BaseModel):
    recipient_count: int = Field(description="Distinct recipients after merging users and groups")
    reachable_count: int
    unreachable_count: int
    unreachable: list[UnreachableReason]
    schedule_summary: str
    next_fire_times: list[datetime] = Field(
        default_factory=list, description="A recurring campaign's next fire times, if activated now"
    )


class Activate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_immediately: bool = Field(default=True, description="Start the first run now, then follow the schedule")


class SeriesState(BaseModel):
    """A series' live state, from its workflow."""

    status: Literal["active", "paused", "ended"]
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    runs_started: int
    workflow_id: str


class RunPage(BaseModel):
    items: list[Run]
    next_cursor: str | None


class RunStarted(BaseModel):
    campaign: CampaignDetail
    run: Run


class StopResult(BaseModel):
    campaign: CampaignDetail
    skipped: int = Field(description="Recipients not yet sent that the stop marked skipped")


class Delivery(BaseModel):
    id: int
    run_number: int
    user_id: uuid.UUID
    email: str | None
    first_name: str
    last_name: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    updated_at: datetime


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None
