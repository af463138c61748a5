"""Schedule checks and summaries on the API side, over the pure functions in shared.schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from campaign_api.campaigns import schemas
from campaign_api.errors import FieldError, ValidationFailed
from shared.domain import CampaignKind, ScheduleType
from shared.schedules import describe_one_time, recurrence

RECURRING = "recurring"
NEXT_FIRE_TIMES_SHOWN = 5


def kind_of(schedule: schemas.Schedule) -> CampaignKind:
    return CampaignKind.RECURRING if schedule.type == RECURRING else CampaignKind.ONE_TIME


def schedule_json(schedule: schemas.Schedule, *, minimum_interval_minutes: float) -> dict[str, Any]:
    """Return the schedule as stored, or raise ValidationFailed naming each bad field.

    A recurrence is parsed and checked by shared.schedules.recurrence; its field
    errors are reported as ``schedule.recurrence.<field>``.
    """
    data = schedule.model_dump(mode="json")
    if schedule.type != RECURRING:
        return data
    try:
        parsed = recurrence.from_dict(schedule.recurrence)
    except recurrence.InvalidScheduleError as error:
        raise _recurrence_errors(error.errors) from error
    problems = recurrence.validate(parsed, minimum_interval_minutes=minimum_interval_minutes)
    if problems:
        raise _recurrence_errors(problems)
    data["recurrence"] = recurrence.to_dict(parsed)
    return data


def _recurrence_errors(problems: list[tuple[str, str]]) -> ValidationFailed:
    return ValidationFailed([FieldError(f"schedule.recurrence.{field}", reason) for field, reason in problems])


def with_interval_anchor(schedule: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Anchor an interval schedule without anchor or start date at ``now``.

    Without an anchor, "every 4 hours" would count from the Unix epoch; anchored at
    activation it counts from the first run.
    """
    recurrence_data = schedule.get("recurrence", {})
    if recurrence_data.get("kind") != "interval" or recurrence_data.get("anchor") or recurrence_data.get("start_date"):
        return schedule
    return {**schedule, "recurrence": {**recurrence_data, "anchor": now.isoformat()}}


def next_fire_times(schedule: dict[str, Any], now: datetime, *, run_immediately: bool) -> list[datetime]:
    """Return the first fire times a series would have if activated at ``now``."""
    anchored = with_interval_anchor(schedule, now)
    parsed = recurrence.from_dict(anchored["recurrence"])
    upcoming = recurrence.next_fire_times(parsed, now, NEXT_FIRE_TIMES_SHOWN)
    return ([now] + upcoming)[:NEXT_FIRE_TIMES_SHOWN] if run_immediately else upcoming


def describe(schedule: dict[str, Any], *, run_immediately: bool = True) -> str:
    """Return the one-line schedule summary that a confirmation dialog shows."""
    kind = schedule.get("type", ScheduleType.IMMEDIATE)
    if kind == RECURRING:
        summary = recurrence.describe(recurrence.from_dict(schedule["recurrence"]))
        if schedule.get("delivery") == "local_time":
            summary += ", delivered at that time in each recipient's time zone"
        return summary + (", first run now" if run_immediately else "")
    if kind == ScheduleType.IMMEDIATE:
        return describe_one_time(kind)
    local_date = date.fromisoformat(schedule["date"])
    local_time = time.fromisoformat(schedule["time"])
    summary = describe_one_time(kind, local_date, local_time, schedule.get("timezone"))
    if kind == ScheduleType.LOCAL_TIME and schedule.get("passed_time_policy") == "skip":
        summary += "; zones where that time has passed are skipped"
    elif kind == ScheduleType.LOCAL_TIME:
        summary += "; zones where that time has passed are sent at once"
    return summary


def utc_now() -> datetime:
    return datetime.now(UTC)
