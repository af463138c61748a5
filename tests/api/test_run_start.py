"""Starting a run: idempotent, recoverable after a lost start, findable by operators."""

from __future__ import annotations

import asyncio

import httpx

from campaign_api.campaigns.workflow_client import RunLauncher
from campaign_api.errors import ServiceUnavailable
from campaign_api.main import create_app
from tests.helpers import campaign_body, wait_for_status


class UnavailableLauncher(RunLauncher):
    """A launcher whose Temporal frontend is down: the run row commits, the start fails."""

    async def start_run(self, **kwargs) -> None:
        raise ServiceUnavailable("the workflow service did not accept the run; call run again to retry")


async def _client_for(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


async def _draft(api, team, user_ids):
    created = await api.post(f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=user_ids), headers=team.auth())
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_lost_start_is_recovered_by_repeated_run(api, pool, temporal_client, settings, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 5)
    campaign_id = await _draft(api, team, users)

    broken_app = create_app(settings=settings, pool=pool, temporal_client=temporal_client)
    async with broken_app.router.lifespan_context(broken_app):
        broken_app.state.launcher = UnavailableLauncher(temporal_client, task_queue=settings.task_queue)
        async with await _client_for(broken_app) as broken_api:
            failed = await broken_api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    assert failed.status_code == 503
    assert failed.headers["content-type"] == "application/problem+json"

    retried = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    assert retried.status_code == 202, retried.text
    again = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    assert again.status_code == 409

    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    assert len(detail["runs"]) == 1
    assert detail["counts"]["delivered"] == 5
    assert len(smtp_sink.messages) == 5


async def test_lost_start_is_recovered_at_api_startup(pool, temporal_client, settings, directory, worker, smtp_sink, api):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    campaign_id = await _draft(api, team, users)

    broken_app = create_app(settings=settings, pool=pool, temporal_client=temporal_client)
    async with broken_app.router.lifespan_context(broken_app):
        broken_app.state.launcher = UnavailableLauncher(temporal_client, task_queue=settings.task_queue)
        async with await _client_for(broken_app) as broken_api:
            assert (await broken_api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())).status_code == 503

    restarted = create_app(
        settings=settings.model_copy(update={"run_start_recovery_age_seconds": 0}), pool=pool, temporal_client=temporal_client
    )
    async with restarted.router.lifespan_context(restarted):
        detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})
    assert detail["counts"]["delivered"] == 3
    assert len(smtp_sink.messages) == 3


async def test_run_workflow_is_listed_by_campaign_id(api, directory, worker, smtp_sink, temporal_client):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    campaign_id = await _draft(api, team, users)
    assert (await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())).status_code == 202
    await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    query = f"CampaignId = '{campaign_id}' AND TeamId = '{team.id}' AND RunNumber = 1 AND CampaignKind = 'one_time'"
    found = []
    for _ in range(50):
        found = [w async for w in temporal_client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert [w.id for w in found] == [f"campaign-{campaign_id}-run-1"]
    assert found[0].workflow_type == "CampaignRun"
