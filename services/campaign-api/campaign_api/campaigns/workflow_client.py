"""Start and signal run workflows through the Temporal client."""

from __future__ import annotations

import uuid

import structlog
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from campaign_api.errors import ServiceUnavailable
from shared import temporal
from workflows.campaign_run import CampaignRunWorkflow
from workflows.delivery_retry import DeliveryRetryWorkflow
from workflows.types import CampaignRunInput, DeliveryRetryInput, StopRunSignal

log = structlog.get_logger(__name__)


class RunLauncher:
    def __init__(self, client: Client, *, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    def _attributes(self, *, campaign_id: uuid.UUID, team_id: uuid.UUID, run_number: int, campaign_kind: str):
        return TypedSearchAttributes(
            [
                SearchAttributePair(temporal.CAMPAIGN_ID, str(campaign_id)),
                SearchAttributePair(temporal.TEAM_ID, str(team_id)),
                SearchAttributePair(temporal.RUN_NUMBER, run_number),
                SearchAttributePair(temporal.CAMPAIGN_KIND, campaign_kind),
            ]
        )

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

    async def is_running(self, workflow_id: str) -> bool:
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        return description.status == WorkflowExecutionStatus.RUNNING

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
