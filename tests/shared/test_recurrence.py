"""Tests of recurring schedules: fire times, validation, summaries and JSON form.

Expected instants are written out by hand from the zones' offsets. In 2027 the
United States springs forward on March 14 (02:00-03:00 is missing) and falls
back on November 7 (01:00-02:00 repeats). The European Union springs forward
on March 28 and falls back on October 31 at 01:00 UTC.
"""

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.schedules import (
    CronSchedule,
    IntervalSchedule,
    IntervalUnit,
    InvalidScheduleError,
    MonthlySchedule,
    WeeklySchedule,
    describe,
    from_dict,
    next_fire_after,
    next_fire_times,
    resolve_wall_clock,
    to_dict,
    validate,
    wall_clock_exists,
)

try:
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st
except ImportError:  # the property tests need the hypothesis package
    given = None

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
EVERY_DAY = tuple(range(7))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(weekdays, at: time, zone: str, **bounds) -> WeeklySchedule:
    return WeeklySchedule(weekdays=weekdays, time_of_day=at, timezone=zone, **bounds)


def monthly(days, at: time, zone: str, **bounds) -> MonthlySchedule:
    return MonthlySchedule(days_of_month=days, time_of_day=at, timezone=zone, **bounds)


def cron(expression: str, zone: str, **bounds) -> CronSchedule:
    return CronSchedule(expression=expression, timezone=zone, **bounds)


def interval(every: int, unit: str, zone: str, **options) -> IntervalSchedule:
    return IntervalSchedule(every=every, unit=unit, timezone=zone, **options)


# Weekly schedules across daylight saving changes

WEEKLY_CASES = [
    pytest.param(
        weekly([SUNDAY], time(2, 30), "America/New_York"),
        utc(2027, 3, 1),
        [utc(2027, 3, 7, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 21, 6, 30)],
        id="new-york-sunday-02:30-spring-gap",
    ),
    pytest.param(
        weekly([SUNDAY], time(1, 30), "America/New_York"),
        utc(2027, 10, 25),
        [utc(2027, 10, 31, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 14, 6, 30)],
        id="new-york-sunday-01:30-fall-overlap",
    ),
    pytest.param(
        weekly([MONDAY, WEDNESDAY], time(9, 0), "Europe/Berlin"),
        utc(2027, 3, 20),
        [utc(2027, 3, 22, 8), utc(2027, 3, 24, 8), utc(2027, 3, 29, 7), utc(2027, 3, 31, 7)],
        id="berlin-monday-wednesday-spring",
    ),
    pytest.param(
        weekly([WEDNESDAY, MONDAY], time(9, 0), "Europe/Berlin"),
        utc(2027, 10, 25),
        [utc(2027, 10, 25, 7), utc(2027, 10, 27, 7), utc(2027, 11, 1, 8), utc(2027, 11, 3, 8)],
        id="berlin-monday-wednesday-fall",
    ),
    pytest.param(
        weekly([SUNDAY], time(2, 30), "Europe/Berlin"),
        utc(2027, 3, 15),
        [utc(2027, 3, 21, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 4, 4, 0, 30)],
        id="berlin-sunday-02:30-spring-gap",
    ),
    pytest.param(
        weekly([SUNDAY], time(2, 30), "Europe/Berlin"),
        utc(2027, 10, 18),
        [utc(2027, 10, 24, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 7, 1, 30)],
        id="berlin-sunday-02:30-fall-overlap",
    ),
    pytest.param(
        weekly([MONDAY, MONDAY, FRIDAY], time(9, 0), "UTC"),
        utc(2027, 1, 1, 9, 0),
        [utc(2027, 1, 4, 9), utc(2027, 1, 8, 9), utc(2027, 1, 11, 9)],
        id="duplicate-weekday-fires-once",
    ),
    pytest.param(
        weekly([FRIDAY], time(9, 0), "Asia/Kathmandu"),
        utc(2027, 1, 1),
        [utc(2027, 1, 1, 3, 15), utc(2027, 1, 8, 3, 15)],
        id="kathmandu-45-minute-offset",
    ),
    pytest.param(
        weekly([SUNDAY], time(2, 15), "Australia/Lord_Howe"),
        utc(2027, 9, 20),
        [utc(2027, 9, 25, 15, 45), utc(2027, 10, 2, 15, 30), utc(2027, 10, 9, 15, 15)],
        id="lord-howe-30-minute-gap",
    ),
]


@pytest.mark.parametrize(("schedule", "after", "expected"), WEEKLY_CASES)
def test_weekly_fire_times(schedule: WeeklySchedule, after: datetime, expected: list[datetime]) -> None:
    assert next_fire_times(schedule, after, len(expected)) == expected


def _expected_new_york(day: date, at: time) -> datetime:
    """Hand-written 2027 New York rule: EST before the spring gap, EDT until 02:00 on Nov 7."""
    spring, fall = date(2027, 3, 14), date(2027, 11, 7)
    local = datetime.combine(day, at)
    if day == spring and time(2, 0) <= at < time(3, 0):
        return utc(2027, 3, 14, 7, 0)
    summer = (day > spring or (day == spring and at >= time(3, 0))) and (
        day < fall or (day == fall and at < time(2, 0))
    )
    offset = timedelta(hours=-4 if summer else -5)
    return (local - offset).replace(tzinfo=UTC)


def _expected_berlin(day: date, at: time) -> datetime:
    """Hand-written 2027 Berlin rule: CET before the spring gap, CEST until 03:00 on Oct 31."""
    spring, fall = date(2027, 3, 28), date(2027, 10, 31)
    local = datetime.combine(day, at)
    if day == spring and time(2, 0) <= at < time(3, 0):
        return utc(2027, 3, 28, 1, 0)
    summer = (day > spring or (day == spring and at >= time(3, 0))) and (
        day < fall or (day == fall and at < time(3, 0))
    )
    offset = timedelta(hours=2 if summer else 1)
    return (local - offset).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "expected_instant", "first_day"),
    [
        ("America/New_York", _expected_new_york, date(2027, 3, 12)),
        ("America/New_York", _expected_new_york, date(2027, 11, 5)),
        ("Europe/Berlin", _expected_berlin, date(2027, 3, 26)),
        ("Europe/Berlin", _expected_berlin, date(2027, 10, 29)),
    ],
)
def test_daily_fires_exactly_once_per_day(zone, expected_instant, first_day: date) -> None:
    days = [first_day + timedelta(days=offset) for offset in range(5)]
    times_of_day = [time(hour, minute) for hour in range(24) for minute in (0, 15, 30, 45)]

    for at in times_of_day:
        schedule = weekly(EVERY_DAY, at, zone)
        start = resolve_wall_clock(first_day, time(0, 0), zone) - timedelta(seconds=1)

        fires = next_fire_times(schedule, start, len(days))

        assert fires == [expected_instant(day, at) for day in days], at
        assert len(set(fires)) == len(days), at


def test_weekly_after_inside_overlap() -> None:
    schedule = weekly(EVERY_DAY, time(1, 30), "America/New_York")
    # 01:10 EST on Nov 7 is the second pass through 01:00-02:00. The 01:30 of that
    # day already fired at 05:30 UTC, during the first pass.
    after = utc(2027, 11, 7, 6, 10)

    assert next_fire_after(schedule, after) == utc(2027, 11, 8, 6, 30)


# Monthly schedules

MONTHLY_CASES = [
    pytest.param(
        monthly([31], time(9, 0), "UTC"),
        utc(2027, 1, 1),
        [
            utc(2027, 1, 31, 9),
            utc(2027, 3, 31, 9),
            utc(2027, 5, 31, 9),
            utc(2027, 7, 31, 9),
            utc(2027, 8, 31, 9),
            utc(2027, 10, 31, 9),
            utc(2027, 12, 31, 9),
            utc(2028, 1, 31, 9),
        ],
        id="31st-skips-short-months",
    ),
    pytest.param(
        monthly([29, 30, 31], time(9, 0), "UTC"),
        utc(2027, 2, 1),
        [utc(2027, 3, 29, 9), utc(2027, 3, 30, 9), utc(2027, 3, 31, 9)],
        id="february-2027-has-no-29th",
    ),
    pytest.param(
        monthly([29, 30, 31], time(9, 0), "UTC"),
        utc(2028, 2, 1),
        [utc(2028, 2, 29, 9), utc(2028, 3, 29, 9), utc(2028, 3, 30, 9), utc(2028, 3, 31, 9)],
        id="february-2028-leap-day",
    ),
    pytest.param(
        monthly([30], time(9, 0), "UTC"),
        utc(2027, 1, 31),
        [utc(2027, 3, 30, 9), utc(2027, 4, 30, 9), utc(2027, 5, 30, 9)],
        id="30th-skips-february",
    ),
    pytest.param(
        monthly([1, 15], time(8, 30), "America/New_York"),
        utc(2027, 2, 20),
        [utc(2027, 3, 1, 13, 30), utc(2027, 3, 15, 12, 30), utc(2027, 4, 1, 12, 30), utc(2027, 4, 15, 12, 30)],
        id="new-york-1st-and-15th-spring",
    ),
    pytest.param(
        monthly([15, 1, 15], time(8, 30), "America/New_York"),
        utc(2027, 2, 20),
        [utc(2027, 3, 1, 13, 30), utc(2027, 3, 15, 12, 30)],
        id="unsorted-duplicate-days",
    ),
    pytest.param(
        monthly([14], time(2, 30), "America/New_York"),
        utc(2027, 3, 1),
        [utc(2027, 3, 14, 7, 0), utc(2027, 4, 14, 6, 30)],
        id="new-york-14th-spring-gap",
    ),
    pytest.param(
        monthly([7], time(1, 30), "America/New_York"),
        utc(2027, 11, 1),
        [utc(2027, 11, 7, 5, 30), utc(2027, 12, 7, 6, 30)],
        id="new-york-7th-fall-overlap",
    ),
    pytest.param(
        monthly([31], time(2, 30), "Europe/Berlin"),
        utc(2027, 10, 1),
        [utc(2027, 10, 31, 0, 30), utc(2027, 12, 31, 1, 30)],
        id="berlin-31st-fall-overlap",
    ),
    pytest.param(
        monthly([28], time(2, 30), "Europe/Berlin"),
        utc(2027, 2, 1),
        [utc(2027, 2, 28, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 4, 28, 0, 30)],
        id="berlin-28th-spring-gap",
    ),
    pytest.param(
        monthly([1], time(0, 0), "America/Sao_Paulo"),
        utc(2018, 10, 20),
        [utc(2018, 11, 1, 3, 0), utc(2018, 12, 1, 2, 0)],
        id="sao-paulo-midnight",
    ),
]


@pytest.mark.parametrize(("schedule", "after", "expected"), MONTHLY_CASES)
def test_monthly_fire_times(schedule: MonthlySchedule, after: datetime, expected: list[datetime]) -> None:
    assert next_fire_times(schedule, after, len(expected)) == expected


# Cron schedules

CRON_CASES = [
    pytest.param(
        cron("30 2 * * *", "America/New_York"),
        utc(2027, 3, 12),
        [utc(2027, 3, 12, 7, 30), utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 15, 6, 30)],
        id="daily-02:30-spring-gap-fires-at-03:00",
    ),
    pytest.param(
        cron("30 2 * * *", "America/New_York"),
        utc(2027, 11, 5),
        [utc(2027, 11, 5, 6, 30), utc(2027, 11, 6, 6, 30), utc(2027, 11, 7, 7, 30), utc(2027, 11, 8, 7, 30)],
        id="daily-02:30-fall-back-day",
    ),
    pytest.param(
        cron("30 1 * * *", "America/New_York"),
        utc(2027, 11, 6),
        [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)],
        id="daily-01:30-fall-overlap-fires-once",
    ),
    pytest.param(
        cron("*/30 * * * *", "America/New_York"),
        utc(2027, 3, 14, 5, 45),
        [utc(2027, 3, 14, 6, 0), utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 14, 7, 30)],
        id="half-hourly-spring-gap-collapses",
    ),
    pytest.param(
        cron("*/30 * * * *", "America/New_York"),
        utc(2027, 11, 7, 4, 15),
        [utc(2027, 11, 7, 4, 30), utc(2027, 11, 7, 5, 0), utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 7, 0)],
        id="half-hourly-fall-overlap-once",
    ),
    pytest.param(
        cron("*/30 * * * *", "America/New_York"),
        utc(2027, 11, 7, 6, 10),
        [utc(2027, 11, 7, 7, 0)],
        id="half-hourly-after-in-second-pass",
    ),
    pytest.param(
        cron("0 9 * * 1-5", "Asia/Kolkata"),
        utc(2027, 1, 1),
        [utc(2027, 1, 1, 3, 30), utc(2027, 1, 4, 3, 30), utc(2027, 1, 5, 3, 30)],
        id="weekdays-kolkata",
    ),
    pytest.param(
        cron("0 12 13 * 5", "UTC"),
        utc(2027, 9, 1),
        [utc(2027, 9, 3, 12), utc(2027, 9, 10, 12), utc(2027, 9, 13, 12), utc(2027, 9, 17, 12)],
        id="day-of-month-or-day-of-week",
    ),
    pytest.param(
        cron("0 8 1 JAN,JUL *", "UTC"),
        utc(2027, 1, 1),
        [utc(2027, 1, 1, 8), utc(2027, 7, 1, 8), utc(2028, 1, 1, 8)],
        id="month-names",
    ),
    pytest.param(
        cron("0 0 31 * *", "UTC"),
        utc(2027, 4, 1),
        [utc(2027, 5, 31), utc(2027, 7, 31)],
        id="31st-skips-short-months",
    ),
    pytest.param(
        cron("15 2 * * *", "Australia/Lord_Howe"),
        utc(2027, 10, 1),
        [utc(2027, 10, 1, 15, 45), utc(2027, 10, 2, 15, 30), utc(2027, 10, 3, 15, 15)],
        id="lord-howe-30-minute-gap",
    ),
    pytest.param(
        cron("45 1 * * *", "Australia/Lord_Howe"),
        utc(2027, 4, 2),
        [utc(2027, 4, 2, 14, 45), utc(2027, 4, 3, 14, 45), utc(2027, 4, 4, 15, 15)],
        id="lord-howe-30-minute-overlap",
    ),
    pytest.param(
        cron("0 3 * * *", "Pacific/Chatham"),
        utc(2027, 9, 24),
        [utc(2027, 9, 24, 14, 15), utc(2027, 9, 25, 14, 0), utc(2027, 9, 26, 13, 15)],
        id="chatham-45-minute-offset-gap",
    ),
    pytest.param(
        cron("0 9 * * *", "Asia/Kathmandu"),
        utc(2027, 6, 1),
        [utc(2027, 6, 1, 3, 15), utc(2027, 6, 2, 3, 15)],
        id="kathmandu",
    ),
]


@pytest.mark.parametrize(("schedule", "after", "expected"), CRON_CASES)
def test_cron_fire_times(schedule: CronSchedule, after: datetime, expected: list[datetime]) -> None:
    assert next_fire_times(schedule, after, len(expected)) == expected


def test_cron_gap_fires_once_at_gap_end() -> None:
    schedule = cron("30 2 * * *", "America/New_York")

    fires = next_fire_times(schedule, utc(2027, 3, 13, 12), 2)
    fire_on_gap_day = fires[0].astimezone(ZoneInfo("America/New_York"))

    assert fire_on_gap_day.replace(tzinfo=None) == datetime(2027, 3, 14, 3, 0)
    assert fires[1] - fires[0] == timedelta(hours=23, minutes=30)


def test_cron_overlap_fires_once() -> None:
    schedule = cron("30 1 * * *", "America/New_York")

    fires = next_fire_times(schedule, utc(2027, 11, 6, 12), 2)
    local_dates = [fire.astimezone(ZoneInfo("America/New_York")).date() for fire in fires]

    assert local_dates == [date(2027, 11, 7), date(2027, 11, 8)]
    assert fires[1] - fires[0] == timedelta(hours=25)


# Interval schedules

INTERVAL_CASES = [
    pytest.param(
        interval(15, "minutes", "UTC"),
        utc(2027, 1, 1, 0, 7),
        [utc(2027, 1, 1, 0, 15), utc(2027, 1, 1, 0, 30), utc(2027, 1, 1, 0, 45)],
        id="epoch-aligned-quarter-hours",
    ),
    pytest.param(
        interval(15, "minutes", "UTC"),
        utc(2027, 1, 1, 0, 15),
        [utc(2027, 1, 1, 0, 30)],
        id="strictly-after-grid-point",
    ),
    pytest.param(
        interval(1, "hours", "America/New_York", start_date=date(2027, 3, 14)),
        utc(2027, 3, 13),
        [utc(2027, 3, 14, hour) for hour in range(5, 11)],
        id="new-york-hourly-across-spring-forward",
    ),
    pytest.param(
        interval(1, "hours", "America/New_York", start_date=date(2027, 11, 7)),
        utc(2027, 11, 6),
        [utc(2027, 11, 7, hour) for hour in range(4, 9)],
        id="new-york-hourly-across-fall-back",
    ),
    pytest.param(
        interval(2, "hours", "Europe/Berlin", start_date=date(2027, 3, 28)),
        utc(2027, 3, 27),
        [utc(2027, 3, 27, 23), utc(2027, 3, 28, 1), utc(2027, 3, 28, 3), utc(2027, 3, 28, 5)],
        id="berlin-two-hourly-from-local-midnight",
    ),
    pytest.param(
        interval(1, "hours", "Asia/Kathmandu"),
        utc(2027, 1, 1, 0, 30),
        [utc(2027, 1, 1, 1), utc(2027, 1, 1, 2)],
        id="kathmandu-without-start-aligns-to-utc-hours",
    ),
    pytest.param(
        interval(1, "hours", "Asia/Kathmandu", start_date=date(2027, 1, 1)),
        utc(2026, 12, 1),
        [utc(2026, 12, 31, 18, 15), utc(2026, 12, 31, 19, 15)],
        id="kathmandu-from-local-midnight",
    ),
    pytest.param(
        interval(20, "minutes", "UTC", anchor=utc(2027, 1, 1, 9, 7)),
        utc(2027, 1, 1, 8),
        [utc(2027, 1, 1, 9, 7), utc(2027, 1, 1, 9, 27), utc(2027, 1, 1, 9, 47)],
        id="anchor-is-first-fire",
    ),
    pytest.param(
        interval(20, "minutes", "UTC", anchor=utc(2027, 1, 1, 9, 7)),
        utc(2027, 1, 1, 10),
        [utc(2027, 1, 1, 10, 7)],
        id="anchor-grid-after-anchor",
    ),
    pytest.param(
        interval(20, "minutes", "Europe/Berlin", anchor=datetime(2027, 1, 1, 10, 7, tzinfo=ZoneInfo("Europe/Berlin"))),
        utc(2027, 1, 1, 9, 7),
        [utc(2027, 1, 1, 9, 27)],
        id="anchor-with-offset",
    ),
    pytest.param(
        interval(1, "hours", "UTC", anchor=utc(2027, 1, 1, 9, 7), start_date=date(2027, 1, 3)),
        utc(2027, 1, 1),
        [utc(2027, 1, 3, 0, 7), utc(2027, 1, 3, 1, 7)],
        id="start-date-after-anchor",
    ),
    pytest.param(
        interval(1, "hours", "UTC", anchor=utc(2027, 1, 5, 9, 7), start_date=date(2027, 1, 3)),
        utc(2027, 1, 1),
        [utc(2027, 1, 5, 9, 7)],
        id="anchor-after-start-date",
    ),
    pytest.param(
        interval(1, "hours", "America/Sao_Paulo", start_date=date(2018, 11, 4)),
        utc(2018, 11, 1),
        [utc(2018, 11, 4, 3), utc(2018, 11, 4, 4)],
        id="start-midnight-in-gap",
    ),
]


@pytest.mark.parametrize(("schedule", "after", "expected"), INTERVAL_CASES)
def test_interval_fire_times(schedule: IntervalSchedule, after: datetime, expected: list[datetime]) -> None:
    assert next_fire_times(schedule, after, len(expected)) == expected


def test_interval_local_times_across_dst() -> None:
    schedule = interval(1, "hours", "America/New_York", start_date=date(2027, 3, 14))
    zone = ZoneInfo("America/New_York")

    fires = next_fire_times(schedule, utc(2027, 3, 13), 4)
    local_hours = [fire.astimezone(zone).hour for fire in fires]

    # 02:00 does not exist that day, and the steps stay one hour apart.
    assert local_hours == [0, 1, 3, 4]
    assert {later - earlier for earlier, later in zip(fires, fires[1:])} == {timedelta(hours=1)}


def test_interval_hours_equal_minutes() -> None:
    in_hours = interval(3, "hours", "Europe/Berlin", start_date=date(2027, 3, 27))
    in_minutes = interval(180, "minutes", "Europe/Berlin", start_date=date(2027, 3, 27))

    assert next_fire_times(in_hours, utc(2027, 3, 1), 20) == next_fire_times(in_minutes, utc(2027, 3, 1), 20)


# Start and end dates


def test_end_date_is_inclusive() -> None:
    schedule = weekly([MONDAY], time(9, 0), "UTC", end_date=date(2027, 1, 11))

    assert next_fire_times(schedule, utc(2027, 1, 1), 10) == [utc(2027, 1, 4, 9), utc(2027, 1, 11, 9)]
    assert next_fire_after(schedule, utc(2027, 1, 11, 9)) is None
    assert next_fire_after(schedule, utc(2030, 1, 1)) is None


def test_end_date_uses_local_date() -> None:
    # 23:30 on Jan 10 in New York is 04:30 UTC on Jan 11, still inside the end date.
    schedule = weekly([SUNDAY], time(23, 30), "America/New_York", end_date=date(2027, 1, 10))

    assert next_fire_times(schedule, utc(2027, 1, 1), 5) == [utc(2027, 1, 4, 4, 30), utc(2027, 1, 11, 4, 30)]


def test_end_date_gap_past_midnight() -> None:
    # Friday 2011-12-30 does not exist in Pacific/Apia. Its 09:00 fires at the gap
    # end, 00:00 on Dec 31, and still counts as a fire of the end date Dec 30.
    schedule = weekly([FRIDAY], time(9, 0), "Pacific/Apia", end_date=date(2011, 12, 30))

    assert next_fire_times(schedule, utc(2011, 12, 20), 5) == [utc(2011, 12, 23, 19), utc(2011, 12, 30, 10)]


def test_end_date_for_interval() -> None:
    schedule = interval(6, "hours", "Europe/Berlin", start_date=date(2027, 1, 1), end_date=date(2027, 1, 2))

    fires = next_fire_times(schedule, utc(2026, 12, 1), 20)

    assert fires == [
        utc(2026, 12, 31, 23),
        utc(2027, 1, 1, 5),
        utc(2027, 1, 1, 11),
        utc(2027, 1, 1, 17),
        utc(2027, 1, 1, 23),
        utc(2027, 1, 2, 5),
        utc(2027, 1, 2, 11),
        utc(2027, 1, 2, 17),
    ]
    assert next_fire_after(schedule, utc(2027, 1, 2, 17)) is None


def test_end_date_before_midnight_gap() -> None:
    # The day after the end date starts at 01:00 (03:00 UTC) in Sao Paulo.
    schedule = interval(1, "hours", "America/Sao_Paulo", end_date=date(2018, 11, 3))

    assert next_fire_times(schedule, utc(2018, 11, 4, 0, 30), 5) == [utc(2018, 11, 4, 1), utc(2018, 11, 4, 2)]


def test_end_date_for_cron() -> None:
    schedule = cron("0 9 * * *", "Europe/Berlin", end_date=date(2027, 1, 3))

    assert next_fire_times(schedule, utc(2027, 1, 1), 5) == [
        utc(2027, 1, 1, 8),
        utc(2027, 1, 2, 8),
        utc(2027, 1, 3, 8),
    ]


def test_start_date_includes_midnight() -> None:
    schedules = [
        weekly([MONDAY], time(0, 0), "Europe/Berlin", start_date=date(2027, 2, 1)),
        monthly([1], time(0, 0), "Europe/Berlin", start_date=date(2027, 2, 1)),
        cron("0 0 * * *", "Europe/Berlin", start_date=date(2027, 2, 1)),
    ]

    for schedule in schedules:
        assert next_fire_after(schedule, utc(2027, 1, 1)) == utc(2027, 1, 31, 23), schedule


def test_start_date_skips_earlier_days() -> None:
    schedule = weekly([MONDAY, THURSDAY], time(9, 0), "UTC", start_date=date(2027, 1, 5))

    assert next_fire_times(schedule, utc(2027, 1, 1), 2) == [utc(2027, 1, 7, 9), utc(2027, 1, 11, 9)]


def test_single_day_range() -> None:
    schedule = cron("0 */6 * * *", "UTC", start_date=date(2027, 1, 5), end_date=date(2027, 1, 5))

    assert next_fire_times(schedule, utc(2027, 1, 1), 10) == [
        utc(2027, 1, 5, 0),
        utc(2027, 1, 5, 6),
        utc(2027, 1, 5, 12),
        utc(2027, 1, 5, 18),
    ]


def test_after_with_other_offset() -> None:
    schedule = weekly([MONDAY], time(9, 0), "Europe/Berlin")
    after = datetime(2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))

    assert next_fire_after(schedule, after) == utc(2027, 1, 11, 8)


def test_fire_times_are_utc() -> None:
    fire = next_fire_after(weekly([MONDAY], time(9, 0), "Asia/Kolkata"), utc(2027, 1, 1))

    assert fire is not None
    assert fire.tzinfo is UTC


def test_next_fire_rejects_naive_after() -> None:
    with pytest.raises(ValueError, match="after"):
        next_fire_after(weekly([MONDAY], time(9, 0), "UTC"), datetime(2027, 1, 1))


def test_next_fire_rejects_invalid_schedule() -> None:
    with pytest.raises(InvalidScheduleError) as raised:
        next_fire_after(weekly([], time(9, 0), "Mars/Base"), utc(2027, 1, 1))

    assert ("weekdays", "must list at least one weekday") in raised.value.errors
    assert [field for field, _ in raised.value.errors] == ["timezone", "weekdays"]


def test_next_fire_ignores_minimum_interval() -> None:
    # The minimum interval is an input rule, checked by validate() only.
    schedule = interval(5, "minutes", "UTC")

    assert next_fire_after(schedule, utc(2027, 1, 1, 0, 1)) == utc(2027, 1, 1, 0, 5)


def test_next_fire_times_count() -> None:
    schedule = weekly([MONDAY], time(9, 0), "UTC")

    assert next_fire_times(schedule, utc(2027, 1, 1), 0) == []
    assert len(next_fire_times(schedule, utc(2027, 1, 1), 52)) == 52
    with pytest.raises(ValueError, match="count"):
        next_fire_times(schedule, utc(2027, 1, 1), -1)


# Validation


VALID_SCHEDULES = [
    interval(15, "minutes", "UTC"),
    interval(1, "hours", "Europe/Berlin", start_date=date(2027, 1, 1), end_date=date(2027, 1, 1)),
    interval(20, "minutes", "UTC", anchor=utc(2027, 1, 1, 9, 7)),
    weekly([MONDAY, SUNDAY], time(9, 0), "America/New_York"),
    monthly([1, 31], time(23, 59), "Pacific/Chatham"),
    cron("0 9 * * 1-5", "Asia/Kolkata"),
    cron("*/15 * * * *", "UTC"),
    cron("0 9 L * *", "UTC"),
    cron("0 9 * * MON#2", "UTC"),
    cron("0 9 * * THU,FRI", "UTC"),
    cron("0 0 29 2 *", "UTC"),
    cron("55 23 * * *", "UTC"),
    cron("0,45 0,23 * * *", "UTC"),
]


@pytest.mark.parametrize("schedule", VALID_SCHEDULES)
def test_validate_accepts_valid(schedule) -> None:
    assert validate(schedule) == []


INVALID_CASES = [
    pytest.param(weekly([MONDAY], time(9), "Mars/Base"), "timezone", "unknown time zone 'Mars/Base'", id="zone"),
    pytest.param(weekly([MONDAY], time(9), ""), "timezone", "unknown time zone ''", id="empty-zone"),
    pytest.param(interval(10, "minutes", "UTC"), "every", "10 minutes is under the minimum of 15", id="interval"),
    pytest.param(interval(0, "hours", "UTC"), "every", "positive whole number", id="zero-interval"),
    pytest.param(interval(-15, "minutes", "UTC"), "every", "positive whole number", id="negative-interval"),
    pytest.param(interval(True, "hours", "UTC"), "every", "positive whole number", id="bool-interval"),
    pytest.param(interval(15, "days", "UTC"), "unit", "'minutes' or 'hours'", id="unit"),
    pytest.param(
        interval(15, "minutes", "UTC", anchor=datetime(2027, 1, 1)), "anchor", "timezone-aware", id="naive-anchor"
    ),
    pytest.param(weekly([], time(9), "UTC"), "weekdays", "at least one weekday", id="no-weekdays"),
    pytest.param(weekly([7], time(9), "UTC"), "weekdays", "weekday 7 is out of range", id="weekday-7"),
    pytest.param(weekly([-1], time(9), "UTC"), "weekdays", "weekday -1 is out of range", id="weekday-negative"),
    pytest.param(weekly(["mon"], time(9), "UTC"), "weekdays", "weekday 'mon' is out of range", id="weekday-name"),
    pytest.param(monthly([], time(9), "UTC"), "days_of_month", "at least one day", id="no-days"),
    pytest.param(monthly([0], time(9), "UTC"), "days_of_month", "day 0 is out of range", id="day-0"),
    pytest.param(monthly([32], time(9), "UTC"), "days_of_month", "day 32 is out of range", id="day-32"),
    pytest.param(weekly([MONDAY], time(9, 0, 30), "UTC"), "time_of_day", "whole minute", id="seconds"),
    pytest.param(weekly([MONDAY], time(9, tzinfo=UTC), "UTC"), "time_of_day", "without a time zone", id="aware"),
    pytest.param(monthly([1], "09:00", "UTC"), "time_of_day", "must be a time of day", id="string-time"),
    pytest.param(cron("0 9 * *", "UTC"), "expression", "has 4 fields, expected 5", id="cron-4-fields"),
    pytest.param(cron("0 0 9 * * *", "UTC"), "expression", "has 6 fields, expected 5", id="cron-seconds"),
    pytest.param(cron("@daily", "UTC"), "expression", "has 1 fields, expected 5", id="cron-alias"),
    pytest.param(cron("60 9 * * *", "UTC"), "expression", "invalid cron expression '60 9 * * *'", id="cron-range"),
    pytest.param(cron("0 9 * * XYZ", "UTC"), "expression", "invalid cron expression", id="cron-bad-name"),
    pytest.param(cron("R 9 * * *", "UTC"), "expression", "random (R) and hashed (H)", id="cron-random"),
    pytest.param(cron("H 9 * * *", "UTC"), "expression", "random (R) and hashed (H)", id="cron-hashed"),
    pytest.param(cron("0 0 30 2 *", "UTC"), "expression", "never matches a date", id="cron-february-30"),
    pytest.param(cron("", "UTC"), "expression", "non-empty", id="cron-empty"),
    pytest.param(cron("*/5 * * * *", "UTC"), "expression", "fires 5 minutes apart", id="cron-too-often"),
    pytest.param(cron("0,10 9 * * *", "UTC"), "expression", "fires 10 minutes apart", id="cron-close-pair"),
    pytest.param(
        weekly([MONDAY], time(9), "UTC", start_date=date(2027, 2, 1), end_date=date(2027, 1, 31)),
        "end_date",
        "end date 2027-01-31 is before start date 2027-02-01",
        id="end-before-start",
    ),
    pytest.param(
        weekly([MONDAY], time(9), "UTC", start_date=datetime(2027, 2, 1)), "start_date", "must be a date", id="datetime"
    ),
    pytest.param(weekly([MONDAY], time(9), "UTC", end_date="2027-02-01"), "end_date", "must be a date", id="string"),
]


@pytest.mark.parametrize(("schedule", "field", "reason"), INVALID_CASES)
def test_validate_reports_field(schedule, field: str, reason: str) -> None:
    errors = validate(schedule)

    assert len(errors) == 1, errors
    assert errors[0][0] == field
    assert reason in errors[0][1]


def test_validate_reports_every_field() -> None:
    schedule = monthly([0, 15, 40], time(9, 0, 1), "Nowhere/Town", start_date=date(2027, 2, 1), end_date=date(2027, 1, 1))

    fields = [field for field, _ in validate(schedule)]

    assert fields == ["timezone", "end_date", "days_of_month", "days_of_month", "time_of_day"]


def test_validate_minimum_interval_option() -> None:
    five_minutes = interval(5, "minutes", "UTC")
    every_minute = cron("* * * * *", "UTC")

    assert validate(five_minutes, minimum_interval_minutes=5) == []
    assert validate(five_minutes, minimum_interval_minutes=6) != []
    assert validate(every_minute, minimum_interval_minutes=1) == []
    assert validate(every_minute) == [
        ("expression", "cron expression '* * * * *' fires 1 minutes apart, under the minimum of 15 minutes")
    ]


def test_validate_hours_against_minimum() -> None:
    assert validate(interval(1, "hours", "UTC"), minimum_interval_minutes=60) == []
    assert validate(interval(1, "hours", "UTC"), minimum_interval_minutes=61) == [
        ("every", "interval of 60 minutes is under the minimum of 61 minutes")
    ]


def test_validate_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="dict"):
        validate({"kind": "cron"})


# Summaries

DESCRIBE_CASES = [
    (weekly([MONDAY, WEDNESDAY], time(9, 0), "Europe/Berlin"), "Every Monday and Wednesday at 09:00 Europe/Berlin"),
    (weekly([WEDNESDAY, MONDAY, MONDAY], time(9, 0), "Europe/Berlin"), "Every Monday and Wednesday at 09:00 Europe/Berlin"),
    (weekly([FRIDAY], time(17, 30), "UTC"), "Every Friday at 17:30 UTC"),
    (
        weekly([MONDAY, WEDNESDAY, FRIDAY], time(8, 0), "Asia/Kolkata"),
        "Every Monday, Wednesday and Friday at 08:00 Asia/Kolkata",
    ),
    (weekly(EVERY_DAY, time(7, 5), "UTC"), "Every day at 07:05 UTC"),
    (interval(2, "hours", "UTC"), "Every 2 hours in UTC"),
    (interval(1, "hours", "UTC"), "Every hour in UTC"),
    (interval(15, "minutes", "Europe/London"), "Every 15 minutes in Europe/London"),
    (interval(1, IntervalUnit.MINUTES, "UTC"), "Every minute in UTC"),
    (
        monthly([1, 15], time(8, 30), "America/New_York"),
        "On day 1 and 15 of each month at 08:30 America/New_York",
    ),
    (monthly([31], time(8, 30), "UTC"), "On day 31 of each month at 08:30 UTC"),
    (monthly([20, 1, 10], time(8, 30), "UTC"), "On day 1, 10 and 20 of each month at 08:30 UTC"),
    (cron("0 9 * * 1-5", "Asia/Kolkata"), "Cron '0 9 * * 1-5' in Asia/Kolkata"),
    (cron("  0  9 * *   1-5 ", "Asia/Kolkata"), "Cron '0 9 * * 1-5' in Asia/Kolkata"),
    (
        weekly([MONDAY], time(9, 0), "UTC", start_date=date(2027, 1, 4)),
        "Every Monday at 09:00 UTC, starting on 2027-01-04",
    ),
    (
        weekly([MONDAY], time(9, 0), "UTC", end_date=date(2027, 6, 28)),
        "Every Monday at 09:00 UTC, ending on 2027-06-28",
    ),
    (
        interval(2, "hours", "UTC", start_date=date(2027, 1, 4), end_date=date(2027, 6, 28)),
        "Every 2 hours in UTC, starting on 2027-01-04 and ending on 2027-06-28",
    ),
]


@pytest.mark.parametrize(("schedule", "expected"), DESCRIBE_CASES)
def test_describe_table(schedule, expected: str) -> None:
    assert describe(schedule) == expected


def test_describe_rejects_invalid() -> None:
    with pytest.raises(InvalidScheduleError, match="weekday 9"):
        describe(weekly([9], time(9, 0), "UTC"))


# JSON form

ROUND_TRIP_SCHEDULES = [
    interval(15, "minutes", "UTC"),
    interval(2, "hours", "Europe/Berlin", start_date=date(2027, 1, 1), end_date=date(2027, 12, 31)),
    interval(20, "minutes", "Asia/Kolkata", anchor=datetime(2027, 1, 1, 9, 7, tzinfo=ZoneInfo("Asia/Kolkata"))),
    weekly([MONDAY, WEDNESDAY], time(9, 0), "Europe/Berlin"),
    monthly([1, 15], time(8, 30), "America/New_York", start_date=date(2027, 3, 1)),
    cron("0 9 * * 1-5", "Asia/Kolkata", end_date=date(2028, 1, 1)),
]


@pytest.mark.parametrize("schedule", ROUND_TRIP_SCHEDULES)
def test_dict_round_trip(schedule) -> None:
    data = to_dict(schedule)
    restored = from_dict(json.loads(json.dumps(data)))

    assert restored == schedule
    assert type(restored) is type(schedule)
    assert to_dict(restored) == data


def test_to_dict_weekly_shape() -> None:
    schedule = weekly([MONDAY, WEDNESDAY], time(9, 0), "Europe/Berlin", start_date=date(2027, 1, 4))

    assert to_dict(schedule) == {
        "kind": "weekly",
        "timezone": "Europe/Berlin",
        "start_date": "2027-01-04",
        "end_date": None,
        "weekdays": [0, 2],
        "time_of_day": "09:00",
    }


def test_to_dict_interval_shape() -> None:
    schedule = interval(2, "hours", "UTC", anchor=datetime(2027, 1, 1, 9, 7, tzinfo=ZoneInfo("Asia/Kolkata")))

    assert to_dict(schedule) == {
        "kind": "interval",
        "timezone": "UTC",
        "start_date": None,
        "end_date": None,
        "every": 2,
        "unit": "hours",
        "anchor": "2027-01-01T09:07:00+05:30",
    }


def test_from_dict_minimal_fields() -> None:
    assert from_dict({"kind": "cron", "timezone": "UTC", "expression": "0 9 * * *"}) == cron("0 9 * * *", "UTC")
    assert from_dict({"kind": "monthly", "timezone": "UTC", "days_of_month": [1], "time_of_day": "08:30:00"}) == (
        monthly([1], time(8, 30), "UTC")
    )


def test_from_dict_keeps_values_for_validate() -> None:
    # from_dict checks formats only, so an unknown zone reaches validate().
    schedule = from_dict({"kind": "weekly", "timezone": "Mars/Base", "weekdays": [9], "time_of_day": "09:00"})

    assert [field for field, _ in validate(schedule)] == ["timezone", "weekdays"]


FROM_DICT_ERRORS = [
    pytest.param({"timezone": "UTC"}, [("kind", "must be one of cron, interval, monthly, weekly, got None")], id="no-kind"),
    pytest.param({"kind": "yearly"}, [("kind", "must be one of cron, interval, monthly, weekly, got 'yearly'")], id="kind"),
    pytest.param({"kind": ["cron"]}, [("kind", "must be one of cron, interval, monthly, weekly, got ['cron']")], id="list-kind"),
    pytest.param(
        {"kind": "cron", "expression": "0 9 * * *"}, [("timezone", "missing")], id="no-timezone"
    ),
    pytest.param(
        {"kind": "cron", "timezone": 5, "expression": "0 9 * * *"},
        [("timezone", "must be a string, got 5")],
        id="timezone-type",
    ),
    pytest.param(
        {"kind": "weekly", "timezone": "UTC", "weekdays": [0], "time_of_day": "25:00"},
        [("time_of_day", "invalid time of day '25:00': hour must be in 0..23")],
        id="hour-25",
    ),
    pytest.param(
        {"kind": "weekly", "timezone": "UTC", "weekdays": [0], "time_of_day": "9am"},
        [("time_of_day", "invalid time of day '9am', expected HH:MM")],
        id="time-format",
    ),
    pytest.param(
        {"kind": "weekly", "timezone": "UTC", "weekdays": "0,2", "time_of_day": "09:00"},
        [("weekdays", "must be a list of whole numbers, got '0,2'")],
        id="weekdays-string",
    ),
    pytest.param(
        {"kind": "monthly", "timezone": "UTC", "days_of_month": [1, True], "time_of_day": "09:00"},
        [("days_of_month", "must be a list of whole numbers, got [1, True]")],
        id="days-bool",
    ),
    pytest.param(
        {"kind": "cron", "timezone": "UTC", "expression": "0 9 * * *", "start_date": "2027-02-30"},
        [("start_date", "invalid date '2027-02-30': day is out of range for month")],
        id="february-30",
    ),
    pytest.param(
        {"kind": "cron", "timezone": "UTC", "expression": "0 9 * * *", "end_date": "2027/02/01"},
        [("end_date", "invalid date '2027/02/01', expected YYYY-MM-DD")],
        id="date-format",
    ),
    pytest.param(
        {"kind": "interval", "timezone": "UTC", "every": "15", "unit": "minutes"},
        [("every", "must be a whole number, got '15'")],
        id="every-string",
    ),
    pytest.param(
        {"kind": "interval", "timezone": "UTC", "every": 15.0, "unit": "minutes"},
        [("every", "must be a whole number, got 15.0")],
        id="every-float",
    ),
    pytest.param(
        {"kind": "interval", "timezone": "UTC", "every": 15, "unit": "minutes", "anchor": "2027-01-01T09:00:00"},
        [("anchor", "datetime '2027-01-01T09:00:00' must include a UTC offset, such as +00:00")],
        id="naive-anchor",
    ),
    pytest.param(
        {"kind": "interval", "timezone": "UTC", "every": 15, "unit": "minutes", "anchor": "soon"},
        [("anchor", "invalid datetime 'soon': Invalid isoformat string: 'soon'")],
        id="anchor-format",
    ),
    pytest.param(
        {"kind": "cron", "timezone": "UTC", "expression": "0 9 * * *", "end_dte": "2027-01-01"},
        [("end_dte", "unknown field")],
        id="misspelled-key",
    ),
    pytest.param(
        {"kind": "cron", "timezone": "UTC", "expression": "0 9 * * *", "weekdays": [0]},
        [("weekdays", "unknown field")],
        id="field-of-other-kind",
    ),
    pytest.param(
        {"kind": "weekly"},
        [("timezone", "missing"), ("weekdays", "missing"), ("time_of_day", "missing")],
        id="all-missing",
    ),
]


@pytest.mark.parametrize(("data", "expected"), FROM_DICT_ERRORS)
def test_from_dict_errors(data: dict, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidScheduleError) as raised:
        from_dict(data)

    assert raised.value.errors == expected


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(InvalidScheduleError, match="must be an object"):
        from_dict(["cron"])


def test_invalid_schedule_error_message() -> None:
    error = InvalidScheduleError([("timezone", "missing"), ("every", "must be a whole number, got '15'")])

    assert str(error) == "invalid schedule: timezone: missing; every: must be a whole number, got '15'"
    assert isinstance(error, ValueError)


# Property tests

PROPERTY_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
]


def _is_fire_of(fire: datetime, day: date, at: time, zone: str) -> bool:
    """Check by hand that `fire` is the wall-clock time `at` on `day` or its gap end."""
    requested = datetime.combine(day, at)
    wall = fire.astimezone(ZoneInfo(zone))
    if wall.replace(tzinfo=None) == requested:
        return wall.fold == 0
    before = (fire - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return not wall_clock_exists(requested, zone) and before < requested < wall.replace(tzinfo=None)


if given is None:

    def test_fire_time_properties() -> None:
        pytest.skip("hypothesis is not installed, so the property tests did not run")

else:
    afters = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
    times_of_day = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))

    @settings(max_examples=150, deadline=None)
    @given(
        zone=st.sampled_from(PROPERTY_ZONES),
        weekdays=st.sets(st.integers(0, 6), min_size=1),
        at=times_of_day,
        after=afters,
    )
    def test_weekly_fires_match_and_none_missing(zone: str, weekdays: set[int], at: time, after: datetime) -> None:
        schedule = weekly(sorted(weekdays), at, zone)

        fires = next_fire_times(schedule, after, 8)

        assert len(fires) == 8
        assert fires[0] > after
        assert all(earlier < later for earlier, later in zip(fires, fires[1:]))

        # Every matching day between `after` and the last fire fires exactly once.
        local_after = after.astimezone(ZoneInfo(zone)).date()
        local_last = fires[-1].astimezone(ZoneInfo(zone)).date()
        expected = []
        day = local_after - timedelta(days=1)
        while day <= local_last:
            if day.weekday() in weekdays:
                instant = resolve_wall_clock(day, at, zone)
                if after < instant <= fires[-1]:
                    expected.append((day, instant))
            day += timedelta(days=1)

        assert [instant for _, instant in expected] == fires
        for day, instant in expected:
            assert _is_fire_of(instant, day, at, zone), (day, instant)

    @settings(max_examples=100, deadline=None)
    @given(
        zone=st.sampled_from(PROPERTY_ZONES),
        days=st.sets(st.integers(1, 31), min_size=1, max_size=4),
        at=times_of_day,
        after=afters,
    )
    def test_monthly_fires_match_requested_days(zone: str, days: set[int], at: time, after: datetime) -> None:
        schedule = monthly(sorted(days), at, zone)

        fires = next_fire_times(schedule, after, 6)

        assert len(fires) == 6
        assert fires[0] > after
        assert all(earlier < later for earlier, later in zip(fires, fires[1:]))
        for fire in fires:
            wall_day = fire.astimezone(ZoneInfo(zone)).date()
            # A gap at midnight can move a fire to the next local day.
            candidates = [wall_day, wall_day - timedelta(days=1)]
            assert any(day.day in days and _is_fire_of(fire, day, at, zone) for day in candidates), fire

    @settings(max_examples=100, deadline=None)
    @given(
        zone=st.sampled_from(PROPERTY_ZONES),
        minute=st.integers(0, 59),
        hours=st.sets(st.integers(0, 23), min_size=1, max_size=3),
        after=afters,
    )
    def test_cron_fires_strictly_increase(zone: str, minute: int, hours: set[int], after: datetime) -> None:
        expression = f"{minute} {','.join(str(hour) for hour in sorted(hours))} * * *"
        schedule = cron(expression, zone)

        fires = next_fire_times(schedule, after, 10)

        assert len(fires) == 10
        assert fires[0] > after
        assert all(earlier < later for earlier, later in zip(fires, fires[1:]))
        for fire in fires:
            wall = fire.astimezone(ZoneInfo(zone))
            requested = [time(hour, minute) for hour in hours]
            assert any(_is_fire_of(fire, wall.date(), at, zone) for at in requested), fire

    @settings(max_examples=100, deadline=None)
    @given(
        zone=st.sampled_from(PROPERTY_ZONES),
        every=st.integers(15, 600),
        start=st.dates(min_value=date(2015, 1, 1), max_value=date(2034, 1, 1)),
        after=afters,
    )
    def test_interval_steps_are_constant(zone: str, every: int, start: date, after: datetime) -> None:
        assume(after.date() < date(2034, 1, 1))
        schedule = interval(every, "minutes", zone, start_date=start)

        fires = next_fire_times(schedule, after, 5)

        assert len(fires) == 5
        assert fires[0] > after
        assert fires[0] >= resolve_wall_clock(start, time(0, 0), zone)
        assert {later - earlier for earlier, later in zip(fires, fires[1:])} == {timedelta(minutes=every)}
        # Every fire is a whole number of steps from local midnight of the start date.
        assert (fires[0] - resolve_wall_clock(start, time(0, 0), zone)) % timedelta(minutes=every) == timedelta(0)


def test_interval_in_seconds_fires_on_anchor_grid():
    anchor = datetime(2027, 1, 4, 12, 0, 0, tzinfo=UTC)
    schedule = IntervalSchedule(every=5, unit="seconds", timezone="UTC", anchor=anchor)

    fires = next_fire_times(schedule, anchor, 3)

    assert fires == [anchor + timedelta(seconds=5), anchor + timedelta(seconds=10), anchor + timedelta(seconds=15)]


def test_interval_in_seconds_under_default_minimum_is_rejected():
    schedule = IntervalSchedule(every=30, unit="seconds", timezone="UTC")

    errors = validate(schedule)

    assert errors == [("every", "interval of 0.5 minutes is under the minimum of 15 minutes")]


def test_describe_interval_in_seconds():
    assert describe(IntervalSchedule(every=2, unit="seconds", timezone="UTC")) == "Every 2 seconds in UTC"
