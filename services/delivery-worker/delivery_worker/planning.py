"""Turn a prepared run into the waves its workflow delivers."""

from __future__ import annotations

from delivery_worker.repository import RunContext
from workflows.types import RunPlan, Wave


def plan_waves(*, context: RunContext, recipient_count: int, batch_count: int) -> RunPlan:
    """Return one wave with every batch, due now."""
    return RunPlan(
        recipient_count=recipient_count,
        waves=[Wave(due_at=None, first_batch=0, batch_count=batch_count, recipient_count=recipient_count)],
    )
