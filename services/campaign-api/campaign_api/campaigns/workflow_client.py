"""Start and signal run workflows through the Temporal client."""

from __future__ import annotations

import uuid

import structlog
from temporalio.client import Client
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
from workflows.types import CampaignRunInput

log = structlog.get_logger(__name__)


class RunLauncher:
    def __init__(self, client: Client, *, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

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
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(temporal.CAMPAIGN_ID, str(campaign_id)),
                SearchAttributePair(temporal.TEAM_ID, str(team_id)),
                SearchAttributePair(temporal.RUN_NUMBER, run_number),
                SearchAttributePair(temporal.CAMPAIGN_KIND, campaign_kind),
            ]
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
