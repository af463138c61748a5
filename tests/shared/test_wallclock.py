"""Tests of wall-clock resolution, local-time groups and one-time schedules.

Expected instants are written out by hand from the zones' offsets, not computed
with the code under test. Transition dates come from the IANA time zone database:
in 2027 the United States springs forward on March 14 and falls back on
November 7, and the European Union on March 28 and October 31.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # the property tests need the hypothesis package
    given = None

from shared.domain import ScheduleType
from shared.schedules import (
    LocalTimeGroup,
    UnknownTimeZoneError,
    describe_one_time,
    is_due,
    is_valid_timezone,
    load_timezone,
    local_time_groups,
    resolve_local_datetime,
    resolve_wall_clock,
    scheduled_instant,
    split_passed_groups,
    wall_clock_exists,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# (zone, local date, local time, expected UTC instant)
RESOLVE_CASES = [
    # America/New_York: EST -05:00, EDT -04:00. 02:00-03:00 is missing on
    # 2027-03-14 and 01:00-02:00 repeats on 2027-11-07.
    ("America/New_York", date(2027, 1, 15), time(9, 0), utc(2027, 1, 15, 14, 0)),
    ("America/New_York", date(2027, 7, 15), time(9, 0), utc(2027, 7, 15, 13, 0)),
    ("America/New_York", date(2027, 3, 14), time(1, 59), utc(2027, 3, 14, 6, 59)),
    ("America/New_York", date(2027, 3, 14), time(2, 0), utc(2027, 3, 14, 7, 0)),
    ("America/New_York", date(2027, 3, 14), time(2, 30), utc(2027, 3, 14, 7, 0)),
    ("America/New_York", date(2027, 3, 14), time(2, 59), utc(2027, 3, 14, 7, 0)),
    ("America/New_York", date(2027, 3, 14), time(3, 0), utc(2027, 3, 14, 7, 0)),
    ("America/New_York", date(2027, 3, 14), time(3, 1), utc(2027, 3, 14, 7, 1)),
    ("America/New_York", date(2027, 11, 7), time(0, 59), utc(2027, 11, 7, 4, 59)),
    ("America/New_York", date(2027, 11, 7), time(1, 0), utc(2027, 11, 7, 5, 0)),
    ("America/New_York", date(2027, 11, 7), time(1, 30), utc(2027, 11, 7, 5, 30)),
    ("America/New_York", date(2027, 11, 7), time(1, 59), utc(2027, 11, 7, 5, 59)),
    ("America/New_York", date(2027, 11, 7), time(2, 0), utc(2027, 11, 7, 7, 0)),
    # Europe/London: GMT +00:00, BST +01:00. 01:00-02:00 is missing on
    # 2027-03-28 and 01:00-02:00 repeats on 2027-10-31.
    ("Europe/London", date(2027, 3, 28), time(0, 59), utc(2027, 3, 28, 0, 59)),
    ("Europe/London", date(2027, 3, 28), time(1, 0), utc(2027, 3, 28, 1, 0)),
    ("Europe/London", date(2027, 3, 28), time(1, 30), utc(2027, 3, 28, 1, 0)),
    ("Europe/London", date(2027, 3, 28), time(2, 0), utc(2027, 3, 28, 1, 0)),
    ("Europe/London", date(2027, 10, 31), time(1, 30), utc(2027, 10, 31, 0, 30)),
    ("Europe/London", date(2027, 10, 31), time(2, 0), utc(2027, 10, 31, 2, 0)),
    # Europe/Berlin: CET +01:00, CEST +02:00. 02:00-03:00 is missing on
    # 2027-03-28 and 02:00-03:00 repeats on 2027-10-31.
    ("Europe/Berlin", date(2027, 3, 28), time(1, 59), utc(2027, 3, 28, 0, 59)),
    ("Europe/Berlin", date(2027, 3, 28), time(2, 30), utc(2027, 3, 28, 1, 0)),
    ("Europe/Berlin", date(2027, 3, 28), time(3, 0), utc(2027, 3, 28, 1, 0)),
    ("Europe/Berlin", date(2027, 10, 31), time(2, 0), utc(2027, 10, 31, 0, 0)),
    ("Europe/Berlin", date(2027, 10, 31), time(2, 30), utc(2027, 10, 31, 0, 30)),
    ("Europe/Berlin", date(2027, 10, 31), time(3, 0), utc(2027, 10, 31, 2, 0)),
    # Australia/Lord_Howe shifts by 30 minutes: +10:30 standard, +11:00 summer.
    # 02:00-02:30 is missing on 2027-10-03 and 01:30-02:00 repeats on 2027-04-04.
    ("Australia/Lord_Howe", date(2027, 10, 3), time(1, 59), utc(2027, 10, 2, 15, 29)),
    ("Australia/Lord_Howe", date(2027, 10, 3), time(2, 0), utc(2027, 10, 2, 15, 30)),
    ("Australia/Lord_Howe", date(2027, 10, 3), time(2, 15), utc(2027, 10, 2, 15, 30)),
    ("Australia/Lord_Howe", date(2027, 10, 3), time(2, 30), utc(2027, 10, 2, 15, 30)),
    ("Australia/Lord_Howe", date(2027, 10, 3), time(2, 31), utc(2027, 10, 2, 15, 31)),
    ("Australia/Lord_Howe", date(2027, 4, 4), time(1, 29), utc(2027, 4, 3, 14, 29)),
    ("Australia/Lord_Howe", date(2027, 4, 4), time(1, 45), utc(2027, 4, 3, 14, 45)),
    ("Australia/Lord_Howe", date(2027, 4, 4), time(2, 0), utc(2027, 4, 3, 15, 30)),
    # Pacific/Chatham has a 45-minute offset and DST: +12:45 standard, +13:45
    # summer. 02:45-03:45 is missing on 2027-09-26 and 02:45-03:45 repeats on
    # 2027-04-04.
    ("Pacific/Chatham", date(2027, 9, 26), time(2, 44), utc(2027, 9, 25, 13, 59)),
    ("Pacific/Chatham", date(2027, 9, 26), time(3, 0), utc(2027, 9, 25, 14, 0)),
    ("Pacific/Chatham", date(2027, 9, 26), time(3, 45), utc(2027, 9, 25, 14, 0)),
    ("Pacific/Chatham", date(2027, 4, 4), time(3, 0), utc(2027, 4, 3, 13, 15)),
    ("Pacific/Chatham", date(2027, 4, 4), time(3, 45), utc(2027, 4, 3, 15, 0)),
    # Asia/Kathmandu: +05:45 without DST. It moved from +05:30 to +05:45 at the
    # start of 1986-01-01, so 00:00-00:15 on that day is missing.
    ("Asia/Kathmandu", date(2027, 6, 1), time(9, 0), utc(2027, 6, 1, 3, 15)),
    ("Asia/Kathmandu", date(1985, 12, 31), time(23, 59), utc(1985, 12, 31, 18, 29)),
    ("Asia/Kathmandu", date(1986, 1, 1), time(0, 0), utc(1985, 12, 31, 18, 30)),
    ("Asia/Kathmandu", date(1986, 1, 1), time(0, 10), utc(1985, 12, 31, 18, 30)),
    ("Asia/Kathmandu", date(1986, 1, 1), time(0, 15), utc(1985, 12, 31, 18, 30)),
    # Asia/Kolkata: +05:30 without DST.
    ("Asia/Kolkata", date(2027, 3, 14), time(9, 0), utc(2027, 3, 14, 3, 30)),
    ("Asia/Kolkata", date(2027, 3, 14), time(0, 0), utc(2027, 3, 13, 18, 30)),
    # Pacific/Apia moved across the date line: 2011-12-30 does not exist there.
    ("Pacific/Apia", date(2011, 12, 29), time(23, 59), utc(2011, 12, 30, 9, 59)),
    ("Pacific/Apia", date(2011, 12, 30), time(9, 0), utc(2011, 12, 30, 10, 0)),
    ("Pacific/Apia", date(2011, 12, 31), time(0, 0), utc(2011, 12, 30, 10, 0)),
    # Europe/Moscow moved from +04:00 to +03:00 on 2014-10-26 at 02:00, so
    # 01:00-02:00 repeats on that day.
    ("Europe/Moscow", date(2014, 10, 26), time(1, 30), utc(2014, 10, 25, 21, 30)),
    ("Europe/Moscow", date(2014, 10, 26), time(2, 0), utc(2014, 10, 25, 23, 0)),
    # Asia/Pyongyang moved from +08:30 to +09:00 on 2018-05-04 at 23:30, so
    # 23:30-24:00 is missing and the gap ends at midnight of the next day.
    ("Asia/Pyongyang", date(2018, 5, 4), time(23, 29), utc(2018, 5, 4, 14, 59)),
    ("Asia/Pyongyang", date(2018, 5, 4), time(23, 45), utc(2018, 5, 4, 15, 0)),
    # America/Sao_Paulo changed offset at midnight: 00:00-01:00 was missing on
    # 2018-11-04, and 23:00-24:00 repeated on 2018-02-17.
    ("America/Sao_Paulo", date(2018, 11, 4), time(0, 0), utc(2018, 11, 4, 3, 0)),
    ("America/Sao_Paulo", date(2018, 2, 17), time(23, 30), utc(2018, 2, 18, 1, 30)),
    ("UTC", date(2027, 3, 14), time(2, 30), utc(2027, 3, 14, 2, 30)),
]


@pytest.mark.parametrize(("zone", "local_date", "local_time", "expected"), RESOLVE_CASES)
def test_resolve_wall_clock_table(zone: str, local_date: date, local_time: time, expected: datetime) -> None:
    resolved = resolve_wall_clock(local_date, local_time, zone)

    assert resolved == expected
    assert resolved.tzinfo is UTC


@pytest.mark.parametrize(("zone", "local_date", "local_time", "expected"), RESOLVE_CASES)
def test_resolve_accepts_zoneinfo_object(zone: str, local_date: date, local_time: time, expected: datetime) -> None:
    assert resolve_wall_clock(local_date, local_time, ZoneInfo(zone)) == expected


def test_resolve_ignores_input_fold() -> None:
    second_occurrence = datetime(2027, 11, 7, 1, 30, fold=1)

    assert resolve_local_datetime(second_occurrence, "America/New_York") == utc(2027, 11, 7, 5, 30)


def test_resolve_keeps_seconds() -> None:
    assert resolve_local_datetime(datetime(2027, 1, 15, 9, 0, 30), "Europe/Berlin") == utc(2027, 1, 15, 8, 0, 30)


def test_resolve_rejects_aware_input() -> None:
    with pytest.raises(ValueError, match="naive"):
        resolve_local_datetime(datetime(2027, 1, 1, tzinfo=UTC), "UTC")
    with pytest.raises(ValueError, match="naive"):
        resolve_wall_clock(date(2027, 1, 1), time(9, 0, tzinfo=UTC), "UTC")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../etc/passwd", "/etc/localtime", "Europe/"])
def test_resolve_unknown_zone_raises(name: str) -> None:
    with pytest.raises(UnknownTimeZoneError) as raised:
        resolve_wall_clock(date(2027, 1, 1), time(9, 0), name)

    assert raised.value.name == name
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Europe/Berlin", True),
        ("UTC", True),
        ("Asia/Kathmandu", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Mars/Olympus_Mons", False),
        ("", False),
        ("../etc/passwd", False),
        (None, False),
        (42, False),
    ],
)
def test_is_valid_timezone_table(name: object, expected: bool) -> None:
    assert is_valid_timezone(name) is expected


def test_load_timezone_returns_zoneinfo() -> None:
    assert load_timezone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        ("America/New_York", datetime(2027, 3, 14, 1, 59), True),
        ("America/New_York", datetime(2027, 3, 14, 2, 0), False),
        ("America/New_York", datetime(2027, 3, 14, 2, 59), False),
        ("America/New_York", datetime(2027, 3, 14, 3, 0), True),
        ("America/New_York", datetime(2027, 11, 7, 1, 30), True),
        ("Australia/Lord_Howe", datetime(2027, 10, 3, 2, 15), False),
        ("Australia/Lord_Howe", datetime(2027, 10, 3, 2, 30), True),
        ("Pacific/Apia", datetime(2011, 12, 30, 12, 0), False),
        ("Asia/Kolkata", datetime(2027, 3, 14, 2, 30), True),
    ],
)
def test_wall_clock_exists_table(zone: str, local: datetime, expected: bool) -> None:
    assert wall_clock_exists(local, zone) is expected


# Property tests over zones with unusual offsets and transitions.

PROPERTY_ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "America/Santiago",
    "Pacific/Apia",
]

if given is None:

    def test_resolution_properties() -> None:
        pytest.skip("hypothesis is not installed, so the property tests did not run")

else:
    local_datetimes = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31))

    @settings(max_examples=400, deadline=None)
    @given(zone_name=st.sampled_from(PROPERTY_ZONES), local=local_datetimes)
    def test_resolution_is_exact_or_gap_end(zone_name: str, local: datetime) -> None:
        zone = ZoneInfo(zone_name)
        local = local.replace(microsecond=0)

        resolved = resolve_local_datetime(local, zone_name)
        resolved_wall = resolved.astimezone(zone)

        if wall_clock_exists(local, zone_name):
            assert resolved_wall.replace(tzinfo=None) == local
            # zoneinfo sets fold=1 on the second occurrence of a repeated time.
            assert resolved_wall.fold == 0
        else:
            # The gap end: the first instant whose wall-clock time is after `local`.
            assert resolved_wall.replace(tzinfo=None) > local
            before = (resolved - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
            assert before < local

    @settings(max_examples=300, deadline=None)
    @given(zone_name=st.sampled_from(PROPERTY_ZONES), first=local_datetimes, second=local_datetimes)
    def test_resolution_never_decreases(zone_name: str, first: datetime, second: datetime) -> None:
        earlier, later = sorted([first, second])

        assert resolve_local_datetime(earlier, zone_name) <= resolve_local_datetime(later, zone_name)


# Local-time groups


def test_groups_ordered_by_instant() -> None:
    groups = local_time_groups(
        date(2027, 1, 15),
        time(9, 0),
        {"America/New_York": 3, "Asia/Kolkata": 2, "Europe/Berlin": 5, "Pacific/Chatham": 1},
    )

    assert [group.timezones for group in groups] == [
        ("Pacific/Chatham",),
        ("Asia/Kolkata",),
        ("Europe/Berlin",),
        ("America/New_York",),
    ]
    # Chatham is at +13:45 in January, Kolkata at +05:30, Berlin at +01:00.
    assert [group.instant for group in groups] == [
        utc(2027, 1, 14, 19, 15),
        utc(2027, 1, 15, 3, 30),
        utc(2027, 1, 15, 8, 0),
        utc(2027, 1, 15, 14, 0),
    ]
    assert [group.recipient_count for group in groups] == [1, 2, 5, 3]


def test_groups_merge_zones_with_same_instant() -> None:
    groups = local_time_groups(
        date(2027, 1, 15),
        time(9, 0),
        {"Europe/Paris": 2, "Europe/Berlin": 5, "Europe/Oslo": 1, "Europe/London": 4},
    )

    assert groups == [
        LocalTimeGroup(
            instant=utc(2027, 1, 15, 8, 0),
            timezones=("Europe/Berlin", "Europe/Oslo", "Europe/Paris"),
            recipient_count=8,
        ),
        LocalTimeGroup(instant=utc(2027, 1, 15, 9, 0), timezones=("Europe/London",), recipient_count=4),
    ]


def test_groups_from_iterable_count_occurrences() -> None:
    recipients = ["Asia/Kolkata", "Europe/Berlin", "Asia/Kolkata", "Asia/Kolkata", "Europe/Paris"]

    groups = local_time_groups(date(2027, 1, 15), time(9, 0), recipients)

    assert groups == [
        LocalTimeGroup(instant=utc(2027, 1, 15, 3, 30), timezones=("Asia/Kolkata",), recipient_count=3),
        LocalTimeGroup(
            instant=utc(2027, 1, 15, 8, 0), timezones=("Europe/Berlin", "Europe/Paris"), recipient_count=2
        ),
    ]


def test_groups_apply_gap_rule_per_zone() -> None:
    # 02:30 on 2027-03-28 is missing in Berlin, where the gap ends at 03:00
    # CEST. London has already moved to BST at 01:00, and New York has been on
    # EDT since March 14.
    groups = local_time_groups(
        date(2027, 3, 28),
        time(2, 30),
        ["Europe/Berlin", "Europe/London", "Asia/Kolkata", "America/New_York"],
    )

    assert [(group.instant, group.timezones) for group in groups] == [
        (utc(2027, 3, 27, 21, 0), ("Asia/Kolkata",)),
        (utc(2027, 3, 28, 1, 0), ("Europe/Berlin",)),
        (utc(2027, 3, 28, 1, 30), ("Europe/London",)),
        (utc(2027, 3, 28, 6, 30), ("America/New_York",)),
    ]


def test_groups_merge_on_offset_change() -> None:
    # On 2027-03-28 Berlin (gap end 03:00 CEST) and Kaliningrad (+02:00 all
    # year) both reach 03:00 at 01:00 UTC, though Berlin requested 02:30.
    at_half_past_two = local_time_groups(date(2027, 3, 28), time(2, 30), ["Europe/Berlin", "Europe/Kaliningrad"])
    at_three = local_time_groups(date(2027, 3, 28), time(3, 0), ["Europe/Berlin", "Europe/Kaliningrad"])

    assert [(group.instant, group.timezones) for group in at_half_past_two] == [
        (utc(2027, 3, 28, 0, 30), ("Europe/Kaliningrad",)),
        (utc(2027, 3, 28, 1, 0), ("Europe/Berlin",)),
    ]
    assert at_three == [
        LocalTimeGroup(
            instant=utc(2027, 3, 28, 1, 0),
            timezones=("Europe/Berlin", "Europe/Kaliningrad"),
            recipient_count=2,
        )
    ]


def test_groups_empty_input() -> None:
    assert local_time_groups(date(2027, 1, 15), time(9, 0), {}) == []
    assert local_time_groups(date(2027, 1, 15), time(9, 0), []) == []


def test_groups_keep_zero_counts() -> None:
    groups = local_time_groups(date(2027, 1, 15), time(9, 0), {"UTC": 0})

    assert groups == [LocalTimeGroup(instant=utc(2027, 1, 15, 9, 0), timezones=("UTC",), recipient_count=0)]


def test_groups_reject_negative_count() -> None:
    with pytest.raises(ValueError, match="Europe/Berlin"):
        local_time_groups(date(2027, 1, 15), time(9, 0), {"Europe/Berlin": -1})


def test_groups_reject_unknown_zone() -> None:
    with pytest.raises(UnknownTimeZoneError, match="Mars/Base"):
        local_time_groups(date(2027, 1, 15), time(9, 0), ["Europe/Berlin", "Mars/Base"])


def test_split_passed_groups_table() -> None:
    groups = local_time_groups(
        date(2027, 1, 15), time(9, 0), ["Asia/Kolkata", "Europe/Berlin", "America/New_York"]
    )
    kolkata, berlin, new_york = groups

    cases = [
        (utc(2027, 1, 15, 0, 0), [], [kolkata, berlin, new_york]),
        (utc(2027, 1, 15, 3, 30), [], [kolkata, berlin, new_york]),
        (utc(2027, 1, 15, 3, 31), [kolkata], [berlin, new_york]),
        (utc(2027, 1, 15, 8, 0), [kolkata], [berlin, new_york]),
        (utc(2027, 1, 15, 12, 0), [kolkata, berlin], [new_york]),
        (utc(2027, 1, 16, 0, 0), [kolkata, berlin, new_york], []),
    ]
    for now, expected_passed, expected_pending in cases:
        passed, pending = split_passed_groups(groups, now)
        assert passed == expected_passed, now
        assert pending == expected_pending, now


def test_split_passed_groups_other_offset() -> None:
    groups = local_time_groups(date(2027, 1, 15), time(9, 0), ["Europe/Berlin"])
    # 09:30 in Berlin is 08:30 UTC, after the group's 08:00 UTC instant.
    now_in_berlin = datetime(2027, 1, 15, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    passed, pending = split_passed_groups(groups, now_in_berlin)

    assert passed == groups
    assert pending == []


def test_split_passed_groups_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="now"):
        split_passed_groups([], datetime(2027, 1, 15, 9, 0))


# One-time schedules


def test_scheduled_instant_applies_gap_rule() -> None:
    assert scheduled_instant(date(2027, 3, 14), time(2, 30), "America/New_York") == utc(2027, 3, 14, 7, 0)
    assert scheduled_instant(date(2027, 3, 14), time(9, 0), "Europe/Berlin") == utc(2027, 3, 14, 8, 0)


@pytest.mark.parametrize(
    ("instant", "now", "expected"),
    [
        (utc(2027, 3, 14, 8, 0), utc(2027, 3, 14, 7, 59, 59), False),
        (utc(2027, 3, 14, 8, 0), utc(2027, 3, 14, 8, 0), True),
        (utc(2027, 3, 14, 8, 0), utc(2027, 3, 14, 8, 0, 1), True),
        (utc(2027, 3, 14, 8, 0), utc(2028, 1, 1), True),
        # The same instant written with another offset.
        (utc(2027, 3, 14, 8, 0), datetime(2027, 3, 14, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")), True),
        (utc(2027, 3, 14, 8, 0), datetime(2027, 3, 14, 8, 59, tzinfo=ZoneInfo("Europe/Berlin")), False),
    ],
)
def test_is_due_table(instant: datetime, now: datetime, expected: bool) -> None:
    assert is_due(instant, now) is expected


def test_is_due_rejects_naive() -> None:
    with pytest.raises(ValueError, match="now"):
        is_due(utc(2027, 3, 14), datetime(2027, 3, 14))
    with pytest.raises(ValueError, match="instant"):
        is_due(datetime(2027, 3, 14), utc(2027, 3, 14))


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((ScheduleType.IMMEDIATE,), "Immediately"),
        (("immediate",), "Immediately"),
        (
            (ScheduleType.SCHEDULED, date(2027, 3, 14), time(9, 0), "Europe/Berlin"),
            "On 2027-03-14 at 09:00 Europe/Berlin",
        ),
        (
            ("scheduled", date(2027, 3, 14), time(9, 0, 30), "Asia/Kolkata"),
            "On 2027-03-14 at 09:00:30 Asia/Kolkata",
        ),
        (
            (ScheduleType.LOCAL_TIME, date(2027, 3, 14), time(9, 0)),
            "On 2027-03-14 at 09:00 in each recipient's time zone",
        ),
    ],
)
def test_describe_one_time_table(arguments: tuple, expected: str) -> None:
    assert describe_one_time(*arguments) == expected


def test_describe_one_time_missing_fields() -> None:
    with pytest.raises(ValueError, match="local_date"):
        describe_one_time(ScheduleType.SCHEDULED, None, time(9, 0), "UTC")
    with pytest.raises(ValueError, match="local_time"):
        describe_one_time(ScheduleType.LOCAL_TIME, date(2027, 3, 14))
    with pytest.raises(ValueError, match="timezone"):
        describe_one_time(ScheduleType.SCHEDULED, date(2027, 3, 14), time(9, 0))


def test_describe_one_time_unknown_type() -> None:
    with pytest.raises(ValueError, match="weekly"):
        describe_one_time("weekly")
