"""Schedule arithmetic: wall-clock times in time zones, one-time and recurring schedules.

Pure and deterministic, so workflow code can import it: callers pass the current
time, and nothing here reads the clock or does I/O other than ``zoneinfo``
loading time zone data. ``validate``, ``describe``, ``from_dict`` and ``to_dict``
apply to recurring schedules. One-time schedules use ``describe_one_time``.
"""

from shared.schedules.oneshot import describe_one_time, is_due, scheduled_instant
from shared.schedules.recurrence import (
    DEFAULT_MINIMUM_INTERVAL_MINUTES,
    CronSchedule,
    FieldError,
    IntervalSchedule,
    IntervalUnit,
    InvalidScheduleError,
    MonthlySchedule,
    RecurringSchedule,
    WeeklySchedule,
    describe,
    from_dict,
    next_fire_after,
    next_fire_times,
    to_dict,
    validate,
)
from shared.schedules.wallclock import (
    LocalTimeGroup,
    UnknownTimeZoneError,
    is_valid_timezone,
    load_timezone,
    local_time_groups,
    resolve_local_datetime,
    resolve_wall_clock,
    split_passed_groups,
    wall_clock_exists,
)

__all__ = [
    "DEFAULT_MINIMUM_INTERVAL_MINUTES",
    "CronSchedule",
    "FieldError",
    "IntervalSchedule",
    "IntervalUnit",
    "InvalidScheduleError",
    "LocalTimeGroup",
    "MonthlySchedule",
    "RecurringSchedule",
    "UnknownTimeZoneError",
    "WeeklySchedule",
    "describe",
    "describe_one_time",
    "from_dict",
    "is_due",
    "is_valid_timezone",
    "load_timezone",
    "local_time_groups",
    "next_fire_after",
    "next_fire_times",
    "resolve_local_datetime",
    "resolve_wall_clock",
    "scheduled_instant",
    "split_passed_groups",
    "to_dict",
    "validate",
    "wall_clock_exists",
]
