"""Wall-clock times in IANA time zones, resolved to UTC instants.

Daylight saving rules:

- A wall-clock time that does not exist on that day (the gap of a spring-forward
  transition) resolves to the first valid instant after it, which is the instant
  the gap ends. 02:30 on 2027-03-14 in America/New_York resolves to 03:00 EDT,
  which is 07:00 UTC.
- A wall-clock time that exists twice (the overlap of a fall-back transition)
  resolves to its first occurrence, the one with ``fold=0``.

The same rules apply to any other change of a zone's UTC offset, such as a zone
that moves to a new standard offset.

Workflow code imports this module, so it is pure: no clock reads, no I/O beyond
``zoneinfo`` loading time zone data (cached per zone after the first load), and
every function is deterministic for a given time zone database.

NOTE: ``zoneinfo`` reads the system database first and the ``tzdata`` package
second, so hosts with different database versions can resolve the same future
wall-clock time differently after a government changes a zone's rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownTimeZoneError(ValueError):
    """Raised for a time zone name that is not in the IANA time zone database."""

    def __init__(self, name: object) -> None:
        super().__init__(f"unknown time zone {name!r}, expected an IANA name such as 'Europe/Berlin'")
        self.name = name


def load_timezone(name: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` for an IANA time zone name.

    Raises UnknownTimeZoneError for a name that is not a string, is empty or is not
    in the time zone database. ``zoneinfo`` caches each zone after the first load.
    """
    if not isinstance(name, str) or not name:
        raise UnknownTimeZoneError(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        # ZoneInfo raises ValueError for keys that are not relative paths, such as
        # "/etc/localtime" or "../x", and ZoneInfoNotFoundError for missing ones.
        raise UnknownTimeZoneError(name) from error


def is_valid_timezone(name: object) -> bool:
    """Return whether ``name`` is a time zone name in the IANA database."""
    try:
        load_timezone(name)  # type: ignore[arg-type]
    except UnknownTimeZoneError:
        return False
    return True


def to_utc(value: datetime, argument: str) -> datetime:
    """Convert an aware datetime to UTC.

    Raises ValueError for a naive datetime and TypeError for another type.
    ``argument`` is the parameter name that the error message shows.
    """
    if not isinstance(value, datetime):
        raise TypeError(f"{argument} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{argument} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _as_zone(timezone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(timezone, ZoneInfo):
        return timezone
    return load_timezone(timezone)


def _wall_clock(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the naive local wall-clock time of an aware instant in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


def resolve_local_datetime(local: datetime, timezone: str | ZoneInfo) -> datetime:
    """Resolve a naive local wall-clock datetime in ``timezone`` to a UTC instant.

    A time in a gap resolves to the instant the gap ends and a time in an overlap
    resolves to its first occurrence (see the module docstring). ``fold`` on the
    input is ignored. Raises ValueError for an aware ``local``.
    """
    if local.tzinfo is not None:
        raise ValueError(f"local must be a naive wall-clock datetime, got {local.isoformat()}")
    zone = _as_zone(timezone)
    wall = local.replace(fold=0)

    # With fold=0, zoneinfo applies the offset in force before a transition, which
    # picks the first occurrence of a repeated time. For a time that exists, that
    # instant converts back to the same wall-clock time.
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall_clock(first, zone) == wall:
        return first

    # The time is in a gap. fold=0 applies the offset before the transition and
    # fold=1 the offset after it, so the transition lies between the two instants.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_instant_at_or_after(wall, zone, min(first, second), max(first, second))


def _first_instant_at_or_after(
    wall: datetime, zone: ZoneInfo, low: datetime, high: datetime
) -> datetime:
    """Binary-search the first instant whose wall-clock time is at or after ``wall``.

    ``low`` must map to a wall-clock time before ``wall`` and ``high`` to one at or
    after it, and the two must span a single transition, so that wall-clock time
    increases with the instant between them. Transition times in TZif files are
    whole seconds, so a search over whole seconds finds the exact instant.
    """
    low_seconds = int(low.timestamp()) - 1
    high_seconds = int(high.timestamp()) + 1
    while high_seconds - low_seconds > 1:
        middle = (low_seconds + high_seconds) // 2
        if _wall_clock(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high_seconds = middle
        else:
            low_seconds = middle
    return datetime.fromtimestamp(high_seconds, UTC)


def resolve_wall_clock(local_date: date, local_time: time, timezone: str | ZoneInfo) -> datetime:
    """Resolve a local date and wall-clock time in ``timezone`` to a UTC instant.

    Applies the gap and overlap rules of the module docstring. ``local_time`` must
    be naive. Raises UnknownTimeZoneError for an unknown zone name.
    """
    if local_time.tzinfo is not None:
        raise ValueError(f"local_time must be a naive wall-clock time, got {local_time.isoformat()}")
    return resolve_local_datetime(datetime.combine(local_date, local_time), timezone)


def wall_clock_exists(local: datetime, timezone: str | ZoneInfo) -> bool:
    """Return whether a naive local datetime occurs in ``timezone`` (is not in a gap)."""
    zone = _as_zone(timezone)
    wall = local.replace(fold=0)
    return _wall_clock(wall.replace(tzinfo=zone).astimezone(UTC), zone) == wall


@dataclass(frozen=True)
class LocalTimeGroup:
    """Recipients whose time zones reach the requested wall-clock time at the same instant."""

    instant: datetime
    """UTC instant at which the wall-clock time arrives in every zone of the group."""

    timezones: tuple[str, ...]
    """IANA names of the group's zones, sorted by name."""

    recipient_count: int
    """Sum of the recipient counts of the group's zones."""


def local_time_groups(
    local_date: date,
    local_time: time,
    timezones: Mapping[str, int] | Iterable[str],
) -> list[LocalTimeGroup]:
    """Group recipient time zones by the UTC instant at which a wall-clock time arrives.

    ``timezones`` is a mapping of zone name to recipient count, or an iterable of
    zone names in which each occurrence counts as one recipient. Zones that reach
    ``local_date`` at ``local_time`` at the same instant (such as Europe/Berlin and
    Europe/Paris) share one group. Groups are ordered by instant. Each time zone is
    resolved with the gap and overlap rules of the module docstring. Raises
    UnknownTimeZoneError for an unknown zone name and ValueError for a negative
    count.
    """
    if isinstance(timezones, Mapping):
        counts: Mapping[str, int] = timezones
    else:
        counts = Counter(timezones)

    zones_by_instant: dict[datetime, list[str]] = {}
    count_by_instant: dict[datetime, int] = {}
    for name, count in counts.items():
        if count < 0:
            raise ValueError(f"recipient count for time zone {name!r} must not be negative, got {count}")
        instant = resolve_wall_clock(local_date, local_time, name)
        zones_by_instant.setdefault(instant, []).append(name)
        count_by_instant[instant] = count_by_instant.get(instant, 0) + count

    return [
        LocalTimeGroup(
            instant=instant,
            timezones=tuple(sorted(zones_by_instant[instant])),
            recipient_count=count_by_instant[instant],
        )
        for instant in sorted(zones_by_instant)
    ]


def split_passed_groups(
    groups: Sequence[LocalTimeGroup], now: datetime
) -> tuple[list[LocalTimeGroup], list[LocalTimeGroup]]:
    """Split groups into those whose instant is before ``now`` and the rest.

    Returns ``(passed, pending)``, each in the input order. A group whose instant
    equals ``now`` is pending because its time has arrived, not passed. The caller
    applies the campaign's policy (send now or skip) to the passed groups.
    """
    now_utc = to_utc(now, "now")
    passed = [group for group in groups if group.instant < now_utc]
    pending = [group for group in groups if group.instant >= now_utc]
    return passed, pending


def format_time_of_day(value: time) -> str:
    """Format a time of day as HH:MM, or HH:MM:SS when it has seconds."""
    if value.second or value.microsecond:
        return value.replace(tzinfo=None).isoformat()
    return value.strftime("%H:%M")


def next_local_midnight(local_date: date, timezone: str | ZoneInfo) -> datetime:
    """Return the UTC instant at which the local day after ``local_date`` begins.

    Midnight that falls in a gap resolves to the gap end. Raises OverflowError for
    ``date.max``.
    """
    return resolve_wall_clock(local_date + timedelta(days=1), time(0, 0), timezone)
