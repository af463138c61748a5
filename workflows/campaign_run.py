"""The CampaignRun workflow: one durable run of a campaign, from plan to final counts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.types import (
    CampaignRunInput,
    CampaignRunResult,
    DeliverBatchInput,
    DeliverBatchResult,
    FinishRunInput,
    PrepareRunInput,
    RecordStageInput,
    RunPlan,
    RunProgress,
    RunState,
    StopRunSignal,
    Wave,
)

# Activity names; the delivery worker registers implementations under these names.
PREPARE_RUN = "prepare_run"
RECORD_STAGE = "record_stage"
DELIVER_BATCH = "deliver_batch"
FINISH_RUN = "finish_run"

# Database errors, a worker restart or a deploy are all retried: a run must end with
# every recipient in a final status, so activities retry until they succeed. Only
# errors that can never succeed (a deleted run) are raised as non-retryable.
_ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["RunNotFound"],
)
_SHORT_ACTIVITY = dict(start_to_close_timeout=timedelta(minutes=2), retry_policy=_ACTIVITY_RETRY)
# A batch activity heartbeats every 10 seconds while it runs. A worker that dies
# mid-batch is noticed after the heartbeat timeout and the batch moves to another
# worker, which resends rows that were mid-send only where the channel deduplicates them.
BATCH_ACTIVITY_OPTIONS = dict(
    start_to_close_timeout=timedelta(minutes=30),
    heartbeat_timeout=timedelta(seconds=60),
    retry_policy=_ACTIVITY_RETRY,
)

STAGE_PREPARING = "preparing"
STAGE_WAITING_UNTIL = "waiting_until"
STAGE_WAITING_FOR_NEXT_BATCH = "waiting_for_next_batch"
STAGE_SENDING = "sending"
STAGE_FINISHING = "finishing"
STAGE_FINISHED = "finished"

# Upper bound on batch activities of one run in flight at once, well below
# Temporal's limit of 2,000 pending activities per workflow.
MAX_PARALLEL_BATCHES = 100


@workflow.defn(name="CampaignRun")
class CampaignRunWorkflow:
    """Deliver one run of a campaign.

    The run's recipients were written as delivery rows by ``prepare_run``; this
    workflow only schedules batch numbers. Stopping is signalled after the API has
    already marked every unsent recipient skipped in Postgres, so the signal only
    ends waiting and stops scheduling further batches.
    """

    def __init__(self) -> None:
        self._stage = STAGE_PREPARING
        self._stop_requested = False
        self._plan: RunPlan | None = None
        self._batches_done = 0
        self._next_due_at = None
        self._next_wave_size: int | None = None

    @workflow.run
    async def run(self, input: CampaignRunInput) -> CampaignRunResult:
        progress = input.progress or RunProgress(plan=await self._prepare(input))
        self._plan = progress.plan

        progress = await self._deliver_waves(input, progress)
        if progress is not None:
            workflow.continue_as_new(
                CampaignRunInput(
                    run_id=input.run_id,
                    campaign_id=input.campaign_id,
                    team_id=input.team_id,
                    run_number=input.run_number,
                    campaign_kind=input.campaign_kind,
                    progress=progress,
                )
            )

        return await self._finish(input)

    @workflow.signal(name="stop")
    def stop(self, request: StopRunSignal) -> None:
        self._stop_requested = True

    @workflow.query(name="state")
    def state(self) -> RunState:
        total = sum(w.batch_count for w in self._plan.waves) if self._plan else 0
        return RunState(
            stage=self._stage,
            stop_requested=self._stop_requested,
            batches_total=total,
            batches_done=self._batches_done,
            next_due_at=self._next_due_at,
            next_wave_size=self._next_wave_size,
        )

    async def _prepare(self, input: CampaignRunInput) -> RunPlan:
        """Write one delivery row per recipient and return the waves to deliver."""
        return await workflow.execute_activity(
            PREPARE_RUN,
            PrepareRunInput(run_id=input.run_id),
            result_type=RunPlan,
            **_SHORT_ACTIVITY,
        )

    async def _deliver_waves(
        self, input: CampaignRunInput, progress: RunProgress
    ) -> RunProgress | None:
        """Deliver each wave at its instant.

        Returns the progress to continue from when the history has grown large
        enough that Temporal suggests continue-as-new, else None.
        """
        waves = progress.plan.waves
        for wave_index in range(progress.next_wave, len(waves)):
            wave = waves[wave_index]
            if self._stop_requested:
                return None
            await self._wait_for(input, wave, first_wave=wave_index == 0)
            if self._stop_requested:
                return None

            start = progress.next_batch_in_wave if wave_index == progress.next_wave else 0
            await self._set_stage(input, STAGE_SENDING)
            next_batch = await self._deliver_batches(input, wave, start)
            if next_batch < wave.batch_count and not self._stop_requested:
                return RunProgress(
                    plan=progress.plan, next_wave=wave_index, next_batch_in_wave=next_batch
                )
        return None

    async def _wait_for(self, input: CampaignRunInput, wave: Wave, *, first_wave: bool) -> None:
        """Sleep on a durable timer until the wave is due, or until a stop arrives."""
        if wave.due_at is None:
            return
        delay = wave.due_at - workflow.now()
        if delay <= timedelta(0):
            return
        stage = STAGE_WAITING_UNTIL if first_wave else STAGE_WAITING_FOR_NEXT_BATCH
        self._next_due_at = wave.due_at
        self._next_wave_size = wave.recipient_count
        await self._set_stage(input, stage, due_at=wave.due_at, wave_size=wave.recipient_count)
        try:
            await workflow.wait_condition(lambda: self._stop_requested, timeout=delay)
        except asyncio.TimeoutError:
            pass
        self._next_due_at = None
        self._next_wave_size = None

    async def _deliver_batches(self, input: CampaignRunInput, wave: Wave, start: int) -> int:
        """Run the wave's batch activities, a bounded number at a time.

        Returns the first batch index (within the wave) that was not started.
        """
        next_index = start

        async def lane() -> None:
            nonlocal next_index
            while next_index < wave.batch_count and not self._should_pause_batches():
                batch_no = wave.first_batch + next_index
                next_index += 1
                await workflow.execute_activity(
                    DELIVER_BATCH,
                    DeliverBatchInput(run_id=input.run_id, batch_no=batch_no),
                    result_type=DeliverBatchResult,
                    **BATCH_ACTIVITY_OPTIONS,
                )
                self._batches_done += 1

        lanes = max(1, min(self._plan.parallel_batches if self._plan else 1, MAX_PARALLEL_BATCHES))
        await asyncio.gather(*(lane() for _ in range(lanes)))
        return next_index

    def _should_pause_batches(self) -> bool:
        return self._stop_requested or workflow.info().is_continue_as_new_suggested()

    async def _set_stage(self, input: CampaignRunInput, stage: str, **details) -> None:
        self._stage = stage
        await workflow.execute_activity(
            RECORD_STAGE,
            RecordStageInput(run_id=input.run_id, stage=stage, **details),
            **_SHORT_ACTIVITY,
        )

    async def _finish(self, input: CampaignRunInput) -> CampaignRunResult:
        """Record the final status; anything still unsent is marked skipped."""
        self._stage = STAGE_FINISHING
        result = await workflow.execute_activity(
            FINISH_RUN,
            FinishRunInput(run_id=input.run_id, stopped=self._stop_requested),
            result_type=CampaignRunResult,
            **_SHORT_ACTIVITY,
        )
        self._stage = STAGE_FINISHED
        workflow.logger.info(
            "run.finished",
            extra={"run_id": input.run_id, "campaign_id": input.campaign_id, "status": result.status},
        )
        return result
