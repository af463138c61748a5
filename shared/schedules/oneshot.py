"""Schedules of one-time campaigns: immediate, scheduled and local time.

A scheduled campaign sends at one wall-clock date and time in one IANA time zone.
A local-time campaign sends at a wall-clock date and time in each recipient's own
zone (see ``wallclock.local_time_groups``). Both resolve wall-clock times with the
gap and overlap rules of ``shared.schedules.wallclock``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from shared.domain import ScheduleType
from shared.schedules.wallclock import format_time_of_day, resolve_wall_clock, to_utc


def scheduled_instant(local_date: date, local_time: time, timezone: str | ZoneInfo) -> datetime:
    """Resolve the send time of a scheduled campaign to a UTC instant.

    Raises UnknownTimeZoneError for an unknown zone name.
    """
    return resolve_wall_clock(local_date, local_time, timezone)


def is_due(instant: datetime, now: datetime) -> bool:
    """Return whether a send time has arrived, meaning ``instant`` is at or before ``now``.

    A scheduled campaign whose instant is due sends at once, and one that is not
    due waits. Raises ValueError if either datetime is naive.
    """
    return to_utc(instant, "instant") <= to_utc(now, "now")


def describe_one_time(
    schedule_type: ScheduleType | str,
    local_date: date | None = None,
    local_time: time | None = None,
    timezone: str | None = None,
) -> str:
    """Summarise a one-time schedule in one English line.

    Examples: "Immediately", "On 2027-03-14 at 09:00 Europe/Berlin" (scheduled)
    and "On 2027-03-14 at 09:00 in each recipient's time zone" (local time).
    Raises ValueError for an unknown schedule type or a missing date, time or zone.
    """
    kind = ScheduleType(schedule_type)
    if kind is ScheduleType.IMMEDIATE:
        return "Immediately"

    if local_date is None or local_time is None:
        raise ValueError(f"a schedule of type {kind.value!r} needs local_date and local_time")
    when = f"On {local_date.isoformat()} at {format_time_of_day(local_time)}"

    if kind is ScheduleType.LOCAL_TIME:
        return f"{when} in each recipient's time zone"

    if not timezone:
        raise ValueError("a schedule of type 'scheduled' needs a timezone")
    return f"{when} {timezone}"
