"""Start and signal run workflows through the Temporal client."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from campaign_api.errors import ServiceUnavailable
from shared import temporal
from workflows.campaign_run import CampaignRunWorkflow
from workflows.campaign_series import CampaignSeriesWorkflow
from workflows.delivery_retry import DeliveryRetryWorkflow
from workflows.types import (
    CampaignRunInput,
    CampaignSeriesInput,
    DeliveryRetryInput,
    PauseSeriesSignal,
    ResumeSeriesSignal,
    SeriesState,
    StopRunSignal,
)

log = structlog.get_logger(__name__)


class RunLauncher:
    def __init__(self, client: Client, *, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    def _attributes(
        self, *, campaign_id: uuid.UUID, team_id: uuid.UUID, run_number: int | None, campaign_kind: str
    ) -> TypedSearchAttributes:
        pairs = [
            SearchAttributePair(temporal.CAMPAIGN_ID, str(campaign_id)),
            SearchAttributePair(temporal.TEAM_ID, str(team_id)),
            SearchAttributePair(temporal.CAMPAIGN_KIND, campaign_kind),
        ]
        if run_number is not None:
            pairs.append(SearchAttributePair(temporal.RUN_NUMBER, run_number))
        return TypedSearchAttributes(pairs)

    async def start_run(
        self,
        *,
        run_id: uuid.UUID,
        workflow_id: str,
        campaign_id: uuid.UUID,
        team_id: uuid.UUID,
        run_number: int,
        campaign_kind: str,
    ) -> None:
        """Start the run's workflow; starting one that already exists is a no-op.

        The workflow id is derived from the campaign and run number, so a repeated
        call can never start a second workflow for the same run.
        """
        attributes = self._attributes(
            campaign_id=campaign_id, team_id=team_id, run_number=run_number, campaign_kind=campaign_kind
        )
        try:
            await self._client.start_workflow(
                CampaignRunWorkflow.run,
                CampaignRunInput(
                    run_id=str(run_id),
                    campaign_id=str(campaign_id),
                    team_id=str(team_id),
                    run_number=run_number,
                    campaign_kind=campaign_kind,
                ),
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=attributes,
            )
        except WorkflowAlreadyStartedError:
            # The run finished already; its workflow id can't be reused, which is the point.
            log.info("run.already_started", workflow_id=workflow_id)
        except RPCError as error:
            log.warning("run.start_failed", workflow_id=workflow_id, error=str(error))
            raise ServiceUnavailable(
                "the workflow service did not accept the run; call run again to retry"
            ) from error
        log.info("run.workflow_started", workflow_id=workflow_id, campaign_id=str(campaign_id), run_number=run_number)

    async def signal_stop(self, *, workflow_id: str, requested_by: uuid.UUID) -> None:
        """Tell a run's workflow to stop waiting and scheduling batches.

        Best effort: the stop is already committed in Postgres, where every
        activity checks it, so a run whose workflow misses the signal still sends
        nothing more and ends stopped.
        """
        try:
            await self._client.get_workflow_handle(workflow_id).signal(
                CampaignRunWorkflow.stop, StopRunSignal(requested_by=str(requested_by))
            )
        except RPCError as error:
            log.warning("run.stop_signal_failed", workflow_id=workflow_id, error=str(error))

    async def workflow_exists(self, workflow_id: str) -> bool:
        """Return whether a workflow with this id was ever started (running or closed)."""
        try:
            await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return False
            raise ServiceUnavailable("the workflow service did not respond; try again") from error
        return True

    async def start_delivery_retry(
        self,
        *,
        workflow_id: str,
        run_id: uuid.UUID,
        campaign_id: uuid.UUID,
        team_id: uuid.UUID,
        run_number: int,
        campaign_kind: str,
        delivery_id: int,
        batch_no: int,
    ) -> None:
        """Start the retry of one delivery; a repeated start of the same attempt is a no-op."""
        try:
            await self._client.start_workflow(
                DeliveryRetryWorkflow.run,
                DeliveryRetryInput(
                    run_id=str(run_id), campaign_id=str(campaign_id), delivery_id=delivery_id, batch_no=batch_no
                ),
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=self._attributes(
                    campaign_id=campaign_id, team_id=team_id, run_number=run_number, campaign_kind=campaign_kind
                ),
            )
        except WorkflowAlreadyStartedError:
            log.info("delivery.retry_already_started", workflow_id=workflow_id)
        except RPCError as error:
            log.warning("delivery.retry_start_failed", workflow_id=workflow_id, error=str(error))
            raise ServiceUnavailable("the workflow service did not accept the retry; call retry again") from error
        log.info("delivery.retry_started", workflow_id=workflow_id, delivery_id=delivery_id)

    async def start_series(
        self,
        *,
        workflow_id: str,
        campaign_id: uuid.UUID,
        team_id: uuid.UUID,
        run_immediately: bool,
        continue_as_new_after_runs: int,
    ) -> None:
        """Start a recurring campaign's series workflow; starting one that runs already is a no-op."""
        try:
            await self._client.start_workflow(
                CampaignSeriesWorkflow.run,
                CampaignSeriesInput(
                    campaign_id=str(campaign_id),
                    team_id=str(team_id),
                    state=SeriesState(run_immediately=run_immediately),
                    continue_as_new_after_runs=continue_as_new_after_runs,
                ),
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=self._attributes(
                    campaign_id=campaign_id, team_id=team_id, run_number=None, campaign_kind="recurring"
                ),
            )
        except RPCError as error:
            log.warning("series.start_failed", workflow_id=workflow_id, error=str(error))
            raise ServiceUnavailable("the workflow service did not accept the series; call activate again") from error
        log.info("series.workflow_started", workflow_id=workflow_id, campaign_id=str(campaign_id))

    async def signal_series(self, *, workflow_id: str, pause: bool, requested_by: uuid.UUID) -> None:
        """Tell the series to pause or resume. Best effort: the status in Postgres is checked
        before every run is created, so a missed pause signal creates no run."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            if pause:
                await handle.signal(CampaignSeriesWorkflow.pause, PauseSeriesSignal(requested_by=str(requested_by)))
            else:
                await handle.signal(CampaignSeriesWorkflow.resume, ResumeSeriesSignal(requested_by=str(requested_by)))
        except RPCError as error:
            log.warning("series.signal_failed", workflow_id=workflow_id, pause=pause, error=str(error))

    async def query_series(self, workflow_id: str) -> SeriesState | None:
        """Return the series' live state, or None when its workflow can't be queried."""
        try:
            return await self._client.get_workflow_handle(workflow_id).query(
                CampaignSeriesWorkflow.state, rpc_timeout=timedelta(seconds=5)
            )
        except (RPCError, WorkflowQueryFailedError) as error:
            log.warning("series.query_failed", workflow_id=workflow_id, error=str(error))
            return None
