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
    """What the run workflow's ``state`` query returns."""

    stage: str
    stop_requested: bool
    batches_total: int
    batches_done: int
    next_due_at: datetime | None = None
    next_wave_size: int | None = None
