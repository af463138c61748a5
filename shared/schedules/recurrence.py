"""Recurring schedules: their types, validation, fire times, summaries and JSON form.

Four kinds of schedule exist, each with an IANA time zone and optional start and
end dates (local dates in that zone, both inclusive):

- ``IntervalSchedule``: every N minutes or every N hours.
- ``WeeklySchedule``: chosen weekdays at a time of day.
- ``MonthlySchedule``: chosen days of the month at a time of day.
- ``CronSchedule``: a five-field cron expression.

Weekly, monthly and cron schedules fire at local wall-clock times. A time that
does not exist on a day (a spring-forward gap) fires at the first valid instant
after it, and a time that exists twice (a fall-back overlap) fires once, at its
first occurrence. Interval schedules step in absolute time and ignore daylight
saving changes.

Workflow code imports this module, so every function is pure and deterministic:
callers pass the current time, and croniter only parses expressions and lists
naive wall-clock candidates.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from shared.schedules.wallclock import (
    format_time_of_day,
    is_valid_timezone,
    load_timezone,
    next_local_midnight,
    resolve_local_datetime,
    resolve_wall_clock,
    to_utc,
)

DEFAULT_MINIMUM_INTERVAL_MINUTES = 15

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

FieldError = tuple[str, str]
"""A validation error as ``(field, reason)``, where field is a key of the dictionary form."""


class IntervalUnit(StrEnum):
    """Unit of ``IntervalSchedule.every``.

    Seconds exist so that a deployment with a small minimum interval (tests) can
    fire often; the default minimum of 15 minutes rejects them in practice.
    """

    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"


_SECONDS_PER_UNIT = {IntervalUnit.SECONDS: 1, IntervalUnit.MINUTES: 60, IntervalUnit.HOURS: 3600}


class InvalidScheduleError(ValueError):
    """Raised for a schedule that fails validation or a dictionary that is not a schedule."""

    def __init__(self, errors: list[FieldError]) -> None:
        details = "; ".join(f"{field}: {reason}" for field, reason in errors)
        super().__init__(f"invalid schedule: {details}")
        self.errors = errors


@dataclass(frozen=True, kw_only=True)
class _RecurrenceBase:
    timezone: str
    """IANA time zone name. Wall-clock times and the start and end dates are local to it."""

    start_date: date | None = None
    """First local date on which the schedule may fire."""

    end_date: date | None = None
    """Last local date on which the schedule may fire (inclusive)."""


@dataclass(frozen=True, kw_only=True)
class IntervalSchedule(_RecurrenceBase):
    """A schedule that fires every ``every`` minutes or hours of absolute time.

    Fire times are ``anchor + k * interval`` for whole ``k >= 0``, so daylight
    saving changes do not move them. The anchor is ``anchor`` when set, else local
    midnight at the start of ``start_date``, else 1970-01-01T00:00Z. The last
    default aligns fire times to the Unix epoch, as Temporal's
    ``ScheduleIntervalSpec`` does, so "every 15 minutes" fires on the quarter hour.
    """

    every: int
    unit: IntervalUnit
    anchor: datetime | None = None
    """Timezone-aware instant of the first fire, such as the activation time."""

    def __post_init__(self) -> None:
        if isinstance(self.unit, str) and self.unit in IntervalUnit._value2member_map_:
            object.__setattr__(self, "unit", IntervalUnit(self.unit))


@dataclass(frozen=True, kw_only=True)
class WeeklySchedule(_RecurrenceBase):
    """A schedule that fires on chosen weekdays at a local time of day."""

    weekdays: tuple[int, ...]
    """Weekdays as in ``date.weekday()``: 0 is Monday and 6 is Sunday."""

    time_of_day: time
    """Naive local wall-clock time, in whole minutes."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", tuple(self.weekdays))


@dataclass(frozen=True, kw_only=True)
class MonthlySchedule(_RecurrenceBase):
    """A schedule that fires on chosen days of the month at a local time of day.

    A month that lacks a chosen day is skipped for that day: day 31 does not fire
    in 30-day months or in February, and days 29 and 30 do not fire in a February
    that lacks them. The schedule never moves a fire to another day.
    """

    days_of_month: tuple[int, ...]
    """Days from 1 to 31."""

    time_of_day: time
    """Naive local wall-clock time, in whole minutes."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "days_of_month", tuple(self.days_of_month))


@dataclass(frozen=True, kw_only=True)
class CronSchedule(_RecurrenceBase):
    """A schedule given as a five-field cron expression in local wall-clock time.

    The fields are minute, hour, day of month, month and day of week, with the
    syntax croniter accepts, except random (``R``) and hashed (``H``) values. When
    both day fields are restricted, a day matches if either field matches, as in
    Vixie cron.
    """

    expression: str


RecurringSchedule = IntervalSchedule | WeeklySchedule | MonthlySchedule | CronSchedule

_KIND_BY_TYPE: dict[type, str] = {
    IntervalSchedule: "interval",
    WeeklySchedule: "weekly",
    MonthlySchedule: "monthly",
    CronSchedule: "cron",
}

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Start time for probing cron expressions. croniter calls time.time() when it
# gets no start time, so every croniter call here passes one.
_CRON_PROBE_START = datetime(2000, 1, 1)

# A stand-alone R or H is croniter's random or hashed value. Letters inside
# names such as THU or FRI are not matched.
_NONDETERMINISTIC_CRON_VALUE = re.compile(r"(?<![A-Za-z])[RrHh](?![A-Za-z])")

_MINUTES_PER_DAY = 24 * 60


# Validation


def validate(
    schedule: RecurringSchedule,
    *,
    minimum_interval_minutes: float = DEFAULT_MINIMUM_INTERVAL_MINUTES,
) -> list[FieldError]:
    """Check a schedule and return its errors as ``(field, reason)`` pairs.

    Returns an empty list for a valid schedule. ``minimum_interval_minutes`` is
    the shortest allowed time between fires of interval and cron schedules.
    """
    if not isinstance(schedule, tuple(_KIND_BY_TYPE)):
        raise TypeError(f"expected a recurring schedule, got {type(schedule).__name__}")
    errors = _common_errors(schedule)

    if isinstance(schedule, IntervalSchedule):
        errors += _interval_errors(schedule, minimum_interval_minutes)
    elif isinstance(schedule, WeeklySchedule):
        errors += _weekday_errors(schedule.weekdays)
        errors += _time_of_day_errors(schedule.time_of_day)
    elif isinstance(schedule, MonthlySchedule):
        errors += _day_of_month_errors(schedule.days_of_month)
        errors += _time_of_day_errors(schedule.time_of_day)
    else:
        errors += _cron_errors(schedule.expression, minimum_interval_minutes)

    return errors


def _is_date(value: object) -> bool:
    # datetime is a subclass of date, but a start or end must be a whole day.
    return isinstance(value, date) and not isinstance(value, datetime)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _common_errors(schedule: RecurringSchedule) -> list[FieldError]:
    errors: list[FieldError] = []

    if not is_valid_timezone(schedule.timezone):
        errors.append(
            (
                "timezone",
                f"unknown time zone {schedule.timezone!r}, expected an IANA name such as 'Europe/Berlin'",
            )
        )

    for field in ("start_date", "end_date"):
        value = getattr(schedule, field)
        if value is not None and not _is_date(value):
            errors.append((field, f"must be a date, got {value!r}"))

    start, end = schedule.start_date, schedule.end_date
    if _is_date(start) and _is_date(end) and end < start:
        errors.append(("end_date", f"end date {end.isoformat()} is before start date {start.isoformat()}"))

    return errors


def _interval_errors(schedule: IntervalSchedule, minimum_interval_minutes: float) -> list[FieldError]:
    errors: list[FieldError] = []

    unit_is_valid = isinstance(schedule.unit, IntervalUnit)
    if not unit_is_valid:
        errors.append(("unit", f"must be 'seconds', 'minutes' or 'hours', got {schedule.unit!r}"))

    if not _is_int(schedule.every) or schedule.every < 1:
        errors.append(("every", f"must be a positive whole number, got {schedule.every!r}"))
    elif unit_is_valid:
        interval_minutes = schedule.every * _SECONDS_PER_UNIT[schedule.unit] / 60
        if interval_minutes < minimum_interval_minutes:
            errors.append(
                (
                    "every",
                    f"interval of {interval_minutes:g} minutes is under the minimum of "
                    f"{minimum_interval_minutes:g} minutes",
                )
            )

    anchor = schedule.anchor
    if anchor is not None and (not isinstance(anchor, datetime) or anchor.utcoffset() is None):
        errors.append(("anchor", f"must be a timezone-aware datetime, got {anchor!r}"))

    return errors


def _weekday_errors(weekdays: tuple[int, ...]) -> list[FieldError]:
    if not weekdays:
        return [("weekdays", "must list at least one weekday")]
    return [
        ("weekdays", f"weekday {value!r} is out of range, expected 0 (Monday) to 6 (Sunday)")
        for value in weekdays
        if not _is_int(value) or not 0 <= value <= 6
    ]


def _day_of_month_errors(days: tuple[int, ...]) -> list[FieldError]:
    if not days:
        return [("days_of_month", "must list at least one day of the month")]
    return [
        ("days_of_month", f"day {value!r} is out of range, expected 1 to 31")
        for value in days
        if not _is_int(value) or not 1 <= value <= 31
    ]


def _time_of_day_errors(value: time) -> list[FieldError]:
    if not isinstance(value, time):
        return [("time_of_day", f"must be a time of day, got {value!r}")]
    if value.tzinfo is not None:
        return [("time_of_day", "must be a local wall-clock time without a time zone")]
    if value.second or value.microsecond:
        return [("time_of_day", f"must be a whole minute (HH:MM), got {value.isoformat()}")]
    return []


def _cron_errors(expression: str, minimum_interval_minutes: int) -> list[FieldError]:
    if not isinstance(expression, str) or not expression.strip():
        return [("expression", "must be a non-empty cron expression such as '0 9 * * 1-5'")]

    fields = expression.split()
    if len(fields) != 5:
        return [
            (
                "expression",
                f"invalid cron expression {expression!r}: has {len(fields)} fields, expected 5 "
                "(minute, hour, day of month, month, day of week)",
            )
        ]
    if _NONDETERMINISTIC_CRON_VALUE.search(expression):
        return [
            (
                "expression",
                f"invalid cron expression {expression!r}: random (R) and hashed (H) values are not supported",
            )
        ]

    try:
        parsed = croniter(expression, _CRON_PROBE_START)
        parsed.get_next(datetime)
    except CroniterBadDateError:
        return [("expression", f"cron expression {expression!r} never matches a date")]
    except (ValueError, TypeError) as error:
        # croniter's CroniterError subclasses ValueError and its
        # CroniterBadTypeRangeError subclasses TypeError (croniter 7.0).
        return [("expression", f"invalid cron expression {expression!r}: {error}")]

    gap = _shortest_cron_gap_minutes(parsed.expanded)
    if gap < minimum_interval_minutes:
        return [
            (
                "expression",
                f"cron expression {expression!r} fires {gap} minutes apart, under the minimum of "
                f"{minimum_interval_minutes} minutes",
            )
        ]
    return []


def _shortest_cron_gap_minutes(expanded: list[list[Any]]) -> int:
    """Return the shortest wall-clock gap in minutes between two fires of a cron.

    Uses the minute and hour fields and assumes that two consecutive days can
    both match, so it may underestimate the gap of an expression whose days never
    follow each other.
    """
    # NOTE: the gap is measured in wall-clock minutes. On a spring-forward day the
    # missing hour shortens the real time between the fires on either side of it:
    # "0,50 1,3 * * *" in America/New_York fires at 01:50 and 03:00 on 2027-03-14,
    # which are 10 minutes apart.
    minutes = range(60) if expanded[0] == ["*"] else expanded[0]
    hours = range(24) if expanded[1] == ["*"] else expanded[1]
    times = sorted({hour * 60 + minute for hour in hours for minute in minutes})

    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    gaps.append(times[0] + _MINUTES_PER_DAY - times[-1])
    return min(gaps)


def _raise_if_invalid(schedule: RecurringSchedule) -> None:
    # The fire-time functions need a well-formed schedule, but leave the minimum
    # interval to the caller's validation at input time: any interval of at least
    # one second is well formed here.
    errors = validate(schedule, minimum_interval_minutes=1 / 60)
    if errors:
        raise InvalidScheduleError(errors)


# Fire times


def next_fire_after(schedule: RecurringSchedule, after: datetime) -> datetime | None:
    """Compute the first fire time strictly after ``after``, as a UTC instant.

    Returns None when the schedule has no fire after ``after`` on or before its
    end date. Raises InvalidScheduleError for a malformed schedule (the minimum
    interval is not checked here) and ValueError for a naive ``after``.
    """
    _raise_if_invalid(schedule)
    return _next_fire_after(schedule, to_utc(after, "after"))


def next_fire_times(schedule: RecurringSchedule, after: datetime, count: int) -> list[datetime]:
    """Compute up to ``count`` consecutive fire times strictly after ``after``.

    The list is shorter than ``count`` when the end date comes first. Fire times
    are UTC instants in strictly increasing order.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    _raise_if_invalid(schedule)

    fire_times: list[datetime] = []
    cursor = to_utc(after, "after")
    while len(fire_times) < count:
        fire = _next_fire_after(schedule, cursor)
        if fire is None:
            break
        fire_times.append(fire)
        cursor = fire
    return fire_times


def _next_fire_after(schedule: RecurringSchedule, after: datetime) -> datetime | None:
    zone = load_timezone(schedule.timezone)
    if isinstance(schedule, IntervalSchedule):
        return _next_interval_fire(schedule, zone, after)
    return _next_wall_clock_fire(schedule, zone, after)


def _next_interval_fire(schedule: IntervalSchedule, zone: ZoneInfo, after: datetime) -> datetime | None:
    step = timedelta(seconds=schedule.every * _SECONDS_PER_UNIT[schedule.unit])

    start = None
    if schedule.start_date is not None:
        start = resolve_wall_clock(schedule.start_date, time(0, 0), zone)

    if schedule.anchor is not None:
        anchor = to_utc(schedule.anchor, "anchor")
    elif start is not None:
        anchor = start
    else:
        anchor = _UNIX_EPOCH

    # Index of the first fire strictly after `after`, and not before the anchor.
    index = 0
    if after >= anchor:
        index = (after - anchor) // step + 1

    # Index of the first fire at or after the start of the start date.
    if start is not None and start > anchor:
        index = max(index, -((anchor - start) // step))

    fire = anchor + index * step
    if schedule.end_date is not None and schedule.end_date < date.max:
        if fire >= next_local_midnight(schedule.end_date, zone):
            return None
    return fire


def _next_wall_clock_fire(
    schedule: WeeklySchedule | MonthlySchedule | CronSchedule, zone: ZoneInfo, after: datetime
) -> datetime | None:
    """Return the first fire of a wall-clock schedule strictly after ``after``.

    Resolution to an instant never decreases as the wall-clock time increases,
    and the wall-clock time of ``after`` resolves to ``after`` or earlier. So the
    scan starts just after that wall-clock time and skips candidates that still
    resolve to ``after`` or earlier, which happens when ``after`` is in the
    second pass of a fall-back overlap. All times in one gap resolve to the gap
    end, and the next scan starts after it, so the gap end fires once.
    """
    scan_start = after.astimezone(zone).replace(tzinfo=None)
    include_start = False
    if schedule.start_date is not None:
        start_midnight = datetime.combine(schedule.start_date, time(0, 0))
        if start_midnight > scan_start:
            scan_start = start_midnight
            include_start = True

    for candidate in _wall_clock_candidates(schedule, scan_start, include_start):
        # The end date applies to the requested local date, even when a gap
        # moves the fire past midnight.
        if schedule.end_date is not None and candidate.date() > schedule.end_date:
            return None
        instant = resolve_local_datetime(candidate, zone)
        if instant > after:
            return instant
    return None


def _wall_clock_candidates(
    schedule: WeeklySchedule | MonthlySchedule | CronSchedule, start: datetime, include_start: bool
) -> Iterator[datetime]:
    """Yield naive local wall-clock fire times after ``start`` in increasing order.

    ``start`` itself is yielded only when ``include_start`` is true and it matches.
    The iterator ends only at ``date.max``, so the caller stops it.
    """
    if isinstance(schedule, CronSchedule):
        # croniter returns matches strictly after its start time and matches only
        # whole minutes, so starting one second earlier includes `start` itself.
        cron_start = start - timedelta(seconds=1) if include_start else start
        yield from _cron_candidates(schedule.expression, cron_start)
        return

    if isinstance(schedule, WeeklySchedule):
        candidates = _weekly_candidates(set(schedule.weekdays), schedule.time_of_day, start.date())
    else:
        days = sorted(set(schedule.days_of_month))
        candidates = _monthly_candidates(days, schedule.time_of_day, start.date())

    for candidate in candidates:
        if candidate > start or (include_start and candidate == start):
            yield candidate


def _cron_candidates(expression: str, start: datetime) -> Iterator[datetime]:
    # Naive datetimes keep croniter in plain wall-clock arithmetic: it applies no
    # time zone, so the daylight saving rules are applied by the caller alone.
    matches = croniter(expression, start)
    while True:
        try:
            match = matches.get_next(datetime)
        except CroniterBadDateError:
            return
        yield match


def _weekly_candidates(weekdays: set[int], time_of_day: time, first_day: date) -> Iterator[datetime]:
    day = first_day
    while day < date.max:
        if day.weekday() in weekdays:
            yield datetime.combine(day, time_of_day)
        day += timedelta(days=1)


def _monthly_candidates(days_of_month: list[int], time_of_day: time, first_day: date) -> Iterator[datetime]:
    """Yield the chosen days of each month from the month of ``first_day`` on.

    Days that a month lacks, such as the 31st of April, are left out.
    """
    year, month = first_day.year, first_day.month
    while year <= date.max.year:
        days_in_month = calendar.monthrange(year, month)[1]
        for day in days_of_month:
            if day <= days_in_month:
                yield datetime.combine(date(year, month, day), time_of_day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# Summaries


def describe(schedule: RecurringSchedule) -> str:
    """Summarise a recurring schedule in one English line.

    Examples: "Every 2 hours in UTC", "Every Monday and Wednesday at 09:00
    Europe/Berlin", "On day 1 and 15 of each month at 08:30 America/New_York" and
    "Cron '0 9 * * 1-5' in Asia/Kolkata". Start and end dates are appended, as in
    ", starting on 2027-01-04 and ending on 2027-06-28". Raises
    InvalidScheduleError for a malformed schedule.
    """
    _raise_if_invalid(schedule)

    if isinstance(schedule, IntervalSchedule):
        unit = {IntervalUnit.SECONDS: "second", IntervalUnit.MINUTES: "minute", IntervalUnit.HOURS: "hour"}[schedule.unit]
        every = f"Every {unit}" if schedule.every == 1 else f"Every {schedule.every} {unit}s"
        summary = f"{every} in {schedule.timezone}"
    elif isinstance(schedule, WeeklySchedule):
        weekdays = sorted(set(schedule.weekdays))
        days = "day" if len(weekdays) == 7 else _join_words([WEEKDAY_NAMES[day] for day in weekdays])
        summary = f"Every {days} at {format_time_of_day(schedule.time_of_day)} {schedule.timezone}"
    elif isinstance(schedule, MonthlySchedule):
        days = _join_words([str(day) for day in sorted(set(schedule.days_of_month))])
        summary = f"On day {days} of each month at {format_time_of_day(schedule.time_of_day)} {schedule.timezone}"
    else:
        expression = " ".join(schedule.expression.split())
        summary = f"Cron '{expression}' in {schedule.timezone}"

    return summary + _describe_date_range(schedule.start_date, schedule.end_date)


def _join_words(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _describe_date_range(start: date | None, end: date | None) -> str:
    if start is not None and end is not None:
        return f", starting on {start.isoformat()} and ending on {end.isoformat()}"
    if start is not None:
        return f", starting on {start.isoformat()}"
    if end is not None:
        return f", ending on {end.isoformat()}"
    return ""


# JSON form


def to_dict(schedule: RecurringSchedule) -> dict[str, Any]:
    """Convert a schedule to a JSON-friendly dictionary that ``from_dict`` reads back.

    Dates are ISO strings (YYYY-MM-DD), times of day are HH:MM, the anchor is an
    ISO datetime with its UTC offset, and ``kind`` is interval, weekly, monthly
    or cron.
    """
    data: dict[str, Any] = {
        "kind": _KIND_BY_TYPE[type(schedule)],
        "timezone": schedule.timezone,
        "start_date": schedule.start_date.isoformat() if schedule.start_date is not None else None,
        "end_date": schedule.end_date.isoformat() if schedule.end_date is not None else None,
    }

    if isinstance(schedule, IntervalSchedule):
        data["every"] = schedule.every
        data["unit"] = str(schedule.unit)
        data["anchor"] = schedule.anchor.isoformat() if schedule.anchor is not None else None
    elif isinstance(schedule, WeeklySchedule):
        data["weekdays"] = list(schedule.weekdays)
        data["time_of_day"] = format_time_of_day(schedule.time_of_day)
    elif isinstance(schedule, MonthlySchedule):
        data["days_of_month"] = list(schedule.days_of_month)
        data["time_of_day"] = format_time_of_day(schedule.time_of_day)
    else:
        data["expression"] = schedule.expression

    return data


_COMMON_OPTIONAL_FIELDS = frozenset({"start_date", "end_date"})

# Required and optional keys of each kind, besides "kind" itself.
_FIELDS_BY_KIND: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "interval": (frozenset({"timezone", "every", "unit"}), _COMMON_OPTIONAL_FIELDS | {"anchor"}),
    "weekly": (frozenset({"timezone", "weekdays", "time_of_day"}), _COMMON_OPTIONAL_FIELDS),
    "monthly": (frozenset({"timezone", "days_of_month", "time_of_day"}), _COMMON_OPTIONAL_FIELDS),
    "cron": (frozenset({"timezone", "expression"}), _COMMON_OPTIONAL_FIELDS),
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_OF_DAY = re.compile(r"\d{2}:\d{2}(:\d{2})?")


class _DictParser:
    """Reads typed fields from a schedule dictionary and collects field errors.

    A field that fails to parse records an error and yields None, so that
    ``from_dict`` reports every bad field at once instead of only the first.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: list[FieldError] = []

    def _required(self, key: str) -> Any:
        if self.data.get(key) is None:
            self.errors.append((key, "missing"))
        return self.data.get(key)

    def string(self, key: str) -> Any:
        value = self._required(key)
        if value is not None and not isinstance(value, str):
            self.errors.append((key, f"must be a string, got {value!r}"))
            return None
        return value

    def integer(self, key: str) -> Any:
        value = self._required(key)
        if value is not None and not _is_int(value):
            self.errors.append((key, f"must be a whole number, got {value!r}"))
            return None
        return value

    def integer_list(self, key: str) -> Any:
        value = self._required(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(_is_int(item) for item in value):
            self.errors.append((key, f"must be a list of whole numbers, got {value!r}"))
            return ()
        return tuple(value)

    def optional_date(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            self.errors.append((key, f"invalid date {value!r}, expected YYYY-MM-DD"))
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as error:
            self.errors.append((key, f"invalid date {value!r}: {error}"))
            return None

    def time_of_day(self, key: str) -> Any:
        value = self._required(key)
        if value is None:
            return None
        if not isinstance(value, str) or not _TIME_OF_DAY.fullmatch(value):
            self.errors.append((key, f"invalid time of day {value!r}, expected HH:MM"))
            return None
        try:
            return time.fromisoformat(value)
        except ValueError as error:
            self.errors.append((key, f"invalid time of day {value!r}: {error}"))
            return None

    def optional_datetime(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.errors.append((key, f"must be an ISO 8601 datetime string, got {value!r}"))
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            self.errors.append((key, f"invalid datetime {value!r}: {error}"))
            return None
        if parsed.utcoffset() is None:
            self.errors.append((key, f"datetime {value!r} must include a UTC offset, such as +00:00"))
            return None
        return parsed


def from_dict(data: Mapping[str, Any]) -> RecurringSchedule:
    """Build a schedule from the dictionary form that ``to_dict`` produces.

    Checks types and formats only: a malformed date or time, a missing field or
    an unknown key raises InvalidScheduleError listing every such field. Call
    ``validate`` on the result to check values such as the time zone name.
    """
    if not isinstance(data, Mapping):
        raise InvalidScheduleError([("schedule", f"must be an object, got {type(data).__name__}")])

    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS_BY_KIND:
        kinds = ", ".join(sorted(_FIELDS_BY_KIND))
        raise InvalidScheduleError([("kind", f"must be one of {kinds}, got {kind!r}")])

    parser = _DictParser(data)
    required, optional = _FIELDS_BY_KIND[kind]
    for key in data:
        if key != "kind" and key not in required and key not in optional:
            parser.errors.append((key, "unknown field"))

    common = {
        "timezone": parser.string("timezone"),
        "start_date": parser.optional_date("start_date"),
        "end_date": parser.optional_date("end_date"),
    }
    if kind == "interval":
        schedule: RecurringSchedule = IntervalSchedule(
            every=parser.integer("every"),
            unit=parser.string("unit"),
            anchor=parser.optional_datetime("anchor"),
            **common,
        )
    elif kind == "weekly":
        schedule = WeeklySchedule(
            weekdays=parser.integer_list("weekdays"),
            time_of_day=parser.time_of_day("time_of_day"),
            **common,
        )
    elif kind == "monthly":
        schedule = MonthlySchedule(
            days_of_month=parser.integer_list("days_of_month"),
            time_of_day=parser.time_of_day("time_of_day"),
            **common,
        )
    else:
        schedule = CronSchedule(expression=parser.string("expression"), **common)

    if parser.errors:
        raise InvalidScheduleError(parser.errors)
    return schedule

