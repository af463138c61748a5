"""Replay workflow histories against the current workflow code.

A deploy must not break running sends: a workflow that is replayed after a code
change has to make the same decisions it made before. The committed histories in
histories/ were recorded from real runs of each workflow shape (immediate,
local-time waves, stopped, single-recipient retry, a paused series); replaying them catches a
change that is not backwards compatible. Set RECORD_WORKFLOW_HISTORIES=1 to
record them again when a change is meant to break compatibility (and version the
workflow instead where runs are in flight).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from delivery_worker.worker import WORKFLOWS
from tests.helpers import campaign_body, wait_for_status

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("RECORD_WORKFLOW_HISTORIES") == "1"


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(workflows=WORKFLOWS).replay_workflow(history)


def test_histories_are_committed():
    names = {p.stem for p in HISTORIES.glob("*.json")}
    assert {"immediate", "local_time_waves", "stopped", "delivery_retry", "series"} <= names


async def _replay_and_maybe_record(temporal_client, workflow_id: str, name: str) -> None:
    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    await Replayer(workflows=WORKFLOWS).replay_workflow(history)
    if RECORD:
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def _finished(temporal_client, workflow_id: str) -> None:
    await temporal_client.get_workflow_handle(workflow_id).result()


async def test_fresh_runs_replay(api, pool, directory, worker, smtp_sink, temporal_client, test_zones):
    team = await directory.team(default_timezone="UTC")
    users = await directory.recipients(team, 60)

    immediate = (await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users), headers=team.auth())).json()["id"]
    await api.post(f"/v1/campaigns/{immediate}/run", headers=team.auth())
    await wait_for_status(api, immediate, team.auth(), {"sent"})
    await _replay_and_maybe_record(temporal_client, f"campaign-{immediate}-run-1", "immediate")

    zoned = await directory.recipients(team, 3, timezone="Test/Behind4s", prefix="zoned")
    local = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    schedule = {"type": "local_time", "date": local.date().isoformat(), "time": local.time().isoformat()}
    waves = (
        await api.post(
            f"/v1/teams/{team.id}/campaigns",
            json=campaign_body(user_ids=users[:2] + zoned, schedule=schedule),
            headers=team.auth(),
        )
    ).json()["id"]
    await api.post(f"/v1/campaigns/{waves}/run", headers=team.auth())
    await wait_for_status(api, waves, team.auth(), {"sent"}, timeout=20)
    await _replay_and_maybe_record(temporal_client, f"campaign-{waves}-run-1", "local_time_waves")

    future = {"type": "scheduled", "date": "2099-01-01", "time": "09:00", "timezone": "UTC"}
    stopped = (
        await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=future), headers=team.auth())
    ).json()["id"]
    await api.post(f"/v1/campaigns/{stopped}/run", headers=team.auth())
    await asyncio.sleep(1)
    await api.post(f"/v1/campaigns/{stopped}/stop", headers=team.auth())
    await _finished(temporal_client, f"campaign-{stopped}-run-1")
    await _replay_and_maybe_record(temporal_client, f"campaign-{stopped}-run-1", "stopped")

    skipped = (await api.get(f"/v1/campaigns/{stopped}/deliveries", headers=team.auth())).json()["items"][0]
    retried = await api.post(f"/v1/campaigns/{stopped}/deliveries/{skipped['id']}/retry", headers=team.auth())
    assert retried.status_code == 202, retried.text
    retry_id = f"campaign-{stopped}-delivery-{skipped['id']}-attempt-1"
    await _finished(temporal_client, retry_id)
    await _replay_and_maybe_record(temporal_client, retry_id, "delivery_retry")


async def test_fresh_series_replays(api, pool, directory, worker, smtp_sink, temporal_client):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    schedule = {"type": "recurring", "recurrence": {"kind": "interval", "every": 1, "unit": "seconds", "timezone": "UTC"}}
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, schedule=schedule), headers=team.auth()
    )
    campaign_id = created.json()["id"]
    await api.post(f"/v1/campaigns/{campaign_id}/activate", headers=team.auth())
    for _ in range(100):
        runs = (await api.get(f"/v1/campaigns/{campaign_id}/runs", headers=team.auth())).json()["items"]
        if len(runs) >= 3:
            break
        await asyncio.sleep(0.1)
    await api.post(f"/v1/campaigns/{campaign_id}/pause", headers=team.auth())
    await asyncio.sleep(0.5)
    await _replay_and_maybe_record(temporal_client, f"campaign-{campaign_id}-series", "series")
