"""Group a run's recipients into waves by send instant, and build the run plan.

An immediate run, a scheduled run and a run that sends again to unsent recipients
have one wave. A local-time run has one wave per group of time zones in which the
campaign's wall-clock time arrives at the same instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from shared.domain import ScheduleType
from shared.schedules import is_valid_timezone, local_time_groups, scheduled_instant
from workflows.types import RunPlan, Wave

SKIP_POLICY = "skip"
PASSED_TIME_SKIP_REASON = "local send time had passed when the run started"


@dataclass(frozen=True)
class ZoneAssignment:
    """The wave of each recipient time zone, and whether that wave is skipped."""

    wave_by_zone: dict[str, int]
    skipped_waves: frozenset[int]


def effective_zone(zone: str | None, default_zone: str) -> str:
    """Return the zone a recipient's local time is computed in: their own if valid, else the team's."""
    if zone and is_valid_timezone(zone):
        return zone
    return default_zone


def assign_waves(
    *,
    schedule: Mapping[str, object],
    recipients_source: str,
    zone_counts: Mapping[str, int],
    default_zone: str,
    now: datetime,
) -> ZoneAssignment:
    """Map every recipient zone to a wave number.

    ``zone_counts`` is keyed by the zone stored on the user (which may be empty or
    invalid); recipients without a valid zone use ``default_zone``. A local-time
    wave whose instant is before ``now`` is skipped when the campaign's
    ``passed_time_policy`` is ``skip``.
    """
    if not _is_local_time(schedule, recipients_source):
        return ZoneAssignment({zone: 0 for zone in zone_counts}, frozenset())

    effective: dict[str, int] = {}
    for zone, count in zone_counts.items():
        name = effective_zone(zone, default_zone)
        effective[name] = effective.get(name, 0) + count
    groups = local_time_groups(_date(schedule), _time(schedule), effective)
    wave_of_effective = {zone: index for index, group in enumerate(groups) for zone in group.timezones}
    skipped = frozenset()
    if schedule.get("passed_time_policy") == SKIP_POLICY:
        skipped = frozenset(index for index, group in enumerate(groups) if group.instant < now)
    return ZoneAssignment(
        {zone: wave_of_effective[effective_zone(zone, default_zone)] for zone in zone_counts}, skipped
    )


@dataclass(frozen=True)
class WaveRows:
    """The batch range, size and zones of one wave's delivery rows."""

    wave: int
    first_batch: int
    batch_count: int
    recipient_count: int
    pending_count: int
    zones: list[str]


def plan_waves(
    *,
    schedule: Mapping[str, object],
    recipients_source: str,
    waves: list[WaveRows],
    default_zone: str,
    now: datetime,
    parallel_batches: int,
) -> RunPlan:
    """Return the run plan: each wave with the instant it becomes due (None for now).

    Waves with nobody pending (all skipped or unreachable) are left out, so the run
    neither waits for them nor schedules their batches.
    """
    planned = []
    for rows in sorted(waves, key=lambda w: w.wave):
        if rows.pending_count == 0:
            continue
        due_at = _due_at(schedule, recipients_source, rows, default_zone)
        if due_at is not None and due_at <= now:
            due_at = None
        planned.append(
            Wave(
                due_at=due_at,
                first_batch=rows.first_batch,
                batch_count=rows.batch_count,
                recipient_count=rows.pending_count,
                zones=rows.zones,
            )
        )
    return RunPlan(
        recipient_count=sum(w.recipient_count for w in waves), waves=planned, parallel_batches=parallel_batches
    )


def _due_at(
    schedule: Mapping[str, object], recipients_source: str, rows: WaveRows, default_zone: str
) -> datetime | None:
    if recipients_source != "targets":
        return None
    kind = schedule.get("type")
    if kind == ScheduleType.SCHEDULED:
        return scheduled_instant(_date(schedule), _time(schedule), str(schedule["timezone"]))
    if kind == ScheduleType.LOCAL_TIME and rows.zones:
        groups = local_time_groups(_date(schedule), _time(schedule), [effective_zone(rows.zones[0], default_zone)])
        return groups[0].instant
    return None


def _is_local_time(schedule: Mapping[str, object], recipients_source: str) -> bool:
    return recipients_source == "targets" and schedule.get("type") == ScheduleType.LOCAL_TIME


def _date(schedule: Mapping[str, object]) -> date:
    return date.fromisoformat(str(schedule["date"]))


def _time(schedule: Mapping[str, object]) -> time:
    return time.fromisoformat(str(schedule["time"]))
