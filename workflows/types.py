"""Inputs and results of the run workflow and its activities.

One dataclass per workflow, activity, signal and query so that fields can be added
compatibly. Recipient lists never travel in these payloads: activities page through
Postgres by run id and batch number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Wave:
    """Batches that become due at the same instant.

    An immediate or scheduled run has one wave; a local-time run has one wave per
    group of time zones that share the same local send instant.
    """

    due_at: datetime | None
    first_batch: int
    batch_count: int
    recipient_count: int
    zones: list[str] = field(default_factory=list)


@dataclass
class RunPlan:
    recipient_count: int
    waves: list[Wave]
    # Batch activities in flight at once, from the worker's settings when the run was
    # prepared. Part of the plan so that replays make the same decisions.
    parallel_batches: int = 4


@dataclass
class RunProgress:
    """State carried across continue-as-new: the plan and the next batch to deliver."""

    plan: RunPlan
    next_wave: int = 0
    next_batch_in_wave: int = 0


@dataclass
class CampaignRunInput:
    run_id: str
    campaign_id: str
    team_id: str
    run_number: int
    campaign_kind: str
    progress: RunProgress | None = None


@dataclass
class CampaignRunResult:
    run_id: str
    status: str
    delivered: int
    failed: int
    skipped: int


@dataclass
class PrepareRunInput:
    run_id: str


@dataclass
class RecordStageInput:
    run_id: str
    stage: str
    due_at: datetime | None = None
    wave_size: int | None = None


@dataclass
class DeliverBatchInput:
    """One batch of a run, or, with ``delivery_id``, that single delivery of the run."""

    run_id: str
    batch_no: int
    delivery_id: int | None = None


@dataclass
class DeliverBatchResult:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class FinishRunInput:
    run_id: str
    stopped: bool


@dataclass
class DeliveryRetryInput:
    run_id: str
    campaign_id: str
    delivery_id: int
    batch_no: int


@dataclass
class StopRunSignal:
    requested_by: str | None = None


@dataclass
class RunState:
    """The run workflow's stage and progress, returned by its ``state`` query."""

    stage: str
    stop_requested: bool
    batches_total: int
    batches_done: int
    next_due_at: datetime | None = None
    next_wave_size: int | None = None


@dataclass
class SeriesState:
    """State of a series, carried across continue-as-new and returned by its ``state`` query."""

    paused: bool = False
    runs_started: int = 0
    last_fire_at: datetime | None = None
    # Fires at or before this instant are never created: set to the resume time so
    # that fires missed while paused are not backfilled.
    skip_fires_until: datetime | None = None
    next_fire_at: datetime | None = None
    run_immediately: bool = False
    ended: bool = False


@dataclass
class CampaignSeriesInput:
    campaign_id: str
    team_id: str
    state: SeriesState
    # Continue-as-new after this many runs even if Temporal does not suggest it yet,
    # which keeps each history short and is easy to exercise in tests.
    continue_as_new_after_runs: int = 500


@dataclass
class PlanNextFireInput:
    campaign_id: str
    after: datetime


@dataclass
class NextFire:
    """The series' next fire, or ``fire_at`` None when the schedule has no more fires."""

    fire_at: datetime | None
    # When the run for this fire starts: the fire time itself, or earlier for a
    # local-time delivery, whose first recipients live in zones ahead of the series.
    start_at: datetime | None = None


@dataclass
class CreateSeriesRunInput:
    campaign_id: str
    fire_at: datetime


@dataclass
class SeriesRun:
    """A run row written for one fire; ``created`` is False when the series is not active."""

    created: bool
    run_id: str | None = None
    run_number: int | None = None
    workflow_id: str | None = None


@dataclass
class PauseSeriesSignal:
    requested_by: str | None = None


@dataclass
class ResumeSeriesSignal:
    requested_by: str | None = None
