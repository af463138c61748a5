"""The CampaignSeries workflow: one long-lived workflow per recurring campaign."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from shared.domain import SEARCH_ATTRIBUTE_RUN_NUMBER
from workflows.campaign_run import CampaignRunWorkflow
from workflows.types import (
    CampaignRunInput,
    CampaignSeriesInput,
    CreateSeriesRunInput,
    NextFire,
    PauseSeriesSignal,
    PlanNextFireInput,
    ResumeSeriesSignal,
    SeriesRun,
    SeriesState,
)

PLAN_NEXT_FIRE = "plan_next_fire"
CREATE_SERIES_RUN = "create_series_run"

_ACTIVITY_OPTIONS = dict(start_to_close_timeout=timedelta(minutes=1))
_RUN_NUMBER = SearchAttributeKey.for_int(SEARCH_ATTRIBUTE_RUN_NUMBER)


@workflow.defn(name="CampaignSeries")
class CampaignSeriesWorkflow:
    """Fire the runs of a recurring campaign, one child CampaignRun per fire time.

    The schedule lives in Postgres, so each fire is planned by an activity that
    reads the current schedule: edits made while paused apply from the next fire.
    Runs are children with parent close policy ABANDON, so a run keeps going
    whatever happens to the series. Pause and resume arrive as signals after the
    API has changed the campaign's status; the activity that creates a run checks
    that status too, so a run is never created for a paused series.
    """

    def __init__(self) -> None:
        self._state = SeriesState()

    @workflow.run
    async def run(self, input: CampaignSeriesInput) -> SeriesState:
        self._state = input.state
        runs_this_execution = 0
        while not self._state.ended:
            if self._state.paused:
                await workflow.wait_condition(lambda: not self._state.paused)
                continue

            if self._state.run_immediately:
                fire = NextFire(fire_at=workflow.now(), start_at=workflow.now())
            else:
                fire = await self._plan_next_fire(input)
                if fire.fire_at is None:
                    self._state.ended = True
                    break
                if not await self._sleep_until(fire.start_at or fire.fire_at):
                    continue  # paused while waiting; plan again after resume

            await self._start_run(input, fire)
            runs_this_execution += 1
            if self._should_continue_as_new(input, runs_this_execution):
                workflow.continue_as_new(
                    CampaignSeriesInput(
                        campaign_id=input.campaign_id,
                        team_id=input.team_id,
                        state=self._state,
                        continue_as_new_after_runs=input.continue_as_new_after_runs,
                    )
                )
        self._state.next_fire_at = None
        return self._state

    @workflow.signal(name="pause")
    def pause(self, request: PauseSeriesSignal) -> None:
        self._state.paused = True
        self._state.next_fire_at = None

    @workflow.signal(name="resume")
    def resume(self, request: ResumeSeriesSignal) -> None:
        if self._state.paused:
            self._state.paused = False
            self._state.skip_fires_until = workflow.now()

    @workflow.query(name="state")
    def state(self) -> SeriesState:
        return self._state

    async def _plan_next_fire(self, input: CampaignSeriesInput) -> NextFire:
        """Return the first fire after the last one, and after the latest resume."""
        candidates = [t for t in (self._state.last_fire_at, self._state.skip_fires_until) if t is not None]
        after = max(candidates) if candidates else workflow.now()
        fire = await workflow.execute_activity(
            PLAN_NEXT_FIRE,
            PlanNextFireInput(campaign_id=input.campaign_id, after=after),
            result_type=NextFire,
            **_ACTIVITY_OPTIONS,
        )
        self._state.next_fire_at = fire.fire_at
        return fire

    async def _sleep_until(self, when) -> bool:
        """Wait on a durable timer; return False if the series was paused meanwhile."""
        delay = when - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._state.paused, timeout=delay)
            except asyncio.TimeoutError:
                pass
        return not self._state.paused

    async def _start_run(self, input: CampaignSeriesInput, fire: NextFire) -> None:
        """Write the run row for this fire and start its workflow as an abandoned child."""
        assert fire.fire_at is not None
        run = await workflow.execute_activity(
            CREATE_SERIES_RUN,
            CreateSeriesRunInput(campaign_id=input.campaign_id, fire_at=fire.fire_at),
            result_type=SeriesRun,
            **_ACTIVITY_OPTIONS,
        )
        self._state.run_immediately = False
        if not run.created:
            # The campaign was paused in Postgres before the signal arrived here.
            self._state.paused = True
            return
        self._state.last_fire_at = fire.fire_at
        self._state.runs_started += 1
        try:
            await workflow.start_child_workflow(
                CampaignRunWorkflow.run,
                CampaignRunInput(
                    run_id=run.run_id,
                    campaign_id=input.campaign_id,
                    team_id=input.team_id,
                    run_number=run.run_number,
                    campaign_kind="recurring",
                ),
                id=run.workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                # A fire's run id never starts twice, even after the first run ended.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=workflow.info().typed_search_attributes.updated(
                    SearchAttributePair(_RUN_NUMBER, run.run_number)
                ),
            )
        except WorkflowAlreadyStartedError:
            workflow.logger.info("series.run_already_started", extra={"workflow_id": run.workflow_id})

    def _should_continue_as_new(self, input: CampaignSeriesInput, runs_this_execution: int) -> bool:
        return (
            workflow.info().is_continue_as_new_suggested()
            or runs_this_execution >= input.continue_as_new_after_runs
        )
