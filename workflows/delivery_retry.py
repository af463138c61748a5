"""The DeliveryRetry workflow: one more attempt at one recipient of a finished run."""

from __future__ import annotations

from temporalio import workflow

from workflows.campaign_run import BATCH_ACTIVITY_OPTIONS, DELIVER_BATCH
from workflows.types import DeliverBatchInput, DeliverBatchResult, DeliveryRetryInput


@workflow.defn(name="DeliveryRetry")
class DeliveryRetryWorkflow:
    """Send to one recipient whose delivery the API has put back to pending.

    The delivery keeps its row, so the attempt is recorded on it and the run's
    counts follow. The workflow id includes the attempt number, so a repeated
    request for the same attempt starts nothing new.
    """

    @workflow.run
    async def run(self, input: DeliveryRetryInput) -> DeliverBatchResult:
        return await workflow.execute_activity(
            DELIVER_BATCH,
            DeliverBatchInput(run_id=input.run_id, batch_no=input.batch_no, delivery_id=input.delivery_id),
            result_type=DeliverBatchResult,
            **BATCH_ACTIVITY_OPTIONS,
        )
