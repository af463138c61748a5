"""Sends interrupted by a crash: nothing is sent twice and nobody is left pending."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
from temporalio.testing import ActivityEnvironment

from delivery_worker.activities import OUTCOME_UNKNOWN, DeliveryActivities
from delivery_worker.channels.base import OutboundMessage
from delivery_worker.channels.webhook import WebhookChannel
from delivery_worker.channels.registry import ChannelRegistry
from delivery_worker.worker import build_worker
from devtools.webhook_receiver import WebhookReceiver
from tests.conftest import WEBHOOK_SECRET
from tests.helpers import campaign_body, wait_for_status
from workflows.types import DeliverBatchInput, PrepareRunInput


async def _prepared_run(pool, directory, team, user_ids, channel):
    """Insert a campaign and a run row and write its deliveries, without a workflow."""
    campaign_id, run_id = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as connection:
        await connection.execute(
            """
            INSERT INTO campaigns (id, team_id, kind, name, channel, subject_template, body_template,
                                   schedule, target_user_ids, status)
            VALUES ($1, $2, 'one_time', 'Interrupted', $3, 'Hi', 'Hello {{ first_name }}', '{"type": "immediate"}', $4, 'sending')
            """,
            campaign_id,
            team.id,
            channel,
            user_ids,
        )
        await connection.execute(
            """
            INSERT INTO campaign_runs (id, campaign_id, team_id, run_number, workflow_id, status)
            VALUES ($1, $2, $3, 1, $4, 'sending')
            """,
            run_id,
            campaign_id,
            team.id,
            f"campaign-{campaign_id}-run-1",
        )
    return campaign_id, run_id


async def _statuses(pool, run_id):
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT user_id, status, last_error FROM deliveries WHERE run_id = $1", run_id)
    return {r["user_id"]: (r["status"], r["last_error"]) for r in rows}


async def test_in_doubt_webhook_rows_are_resent_with_same_key(pool, directory, settings, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 6, webhook_url=webhook_receiver.url)
    campaign_id, run_id = await _prepared_run(pool, directory, team, users, "webhook")
    channels = ChannelRegistry(settings)
    activities = DeliveryActivities(pool=pool, settings=settings, channels=channels)
    env = ActivityEnvironment()
    try:
        await env.run(activities.prepare_run, PrepareRunInput(run_id=str(run_id)))
        # The first attempt got as far as sending two rows; the receiver saw one of them.
        async with pool.acquire() as connection:
            in_doubt = await connection.fetch(
                "UPDATE deliveries SET status = 'sending', attempts = 1 WHERE id IN"
                " (SELECT id FROM deliveries WHERE run_id = $1 ORDER BY id LIMIT 2) RETURNING id",
                run_id,
            )
        first_key = f"{run_id}:{in_doubt[0]['id']}"
        async with httpx.AsyncClient() as client:
            await WebhookChannel(client, secret=WEBHOOK_SECRET).send(
                OutboundMessage(in_doubt[0]["id"], str(run_id), str(campaign_id), str(users[0]), webhook_receiver.url, "Hi", "x")
            )
        assert webhook_receiver.attempts(first_key) == 1

        env.info = dataclasses.replace(env.info, attempt=2)
        result = await env.run(activities.deliver_batch, DeliverBatchInput(run_id=str(run_id), batch_no=0))
    finally:
        await channels.aclose()

    assert result.delivered == 6
    assert webhook_receiver.delivered_count == 6
    assert webhook_receiver.duplicate_count == 1
    assert webhook_receiver.attempts(first_key) == 2
    assert {status for status, _ in (await _statuses(pool, run_id)).values()} == {"delivered"}


async def test_in_doubt_email_rows_fail_instead_of_resending(pool, directory, settings, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 4)
    _, run_id = await _prepared_run(pool, directory, team, users, "email")
    channels = ChannelRegistry(settings)
    activities = DeliveryActivities(pool=pool, settings=settings, channels=channels)
    env = ActivityEnvironment()
    try:
        await env.run(activities.prepare_run, PrepareRunInput(run_id=str(run_id)))
        async with pool.acquire() as connection:
            in_doubt = await connection.fetch(
                "UPDATE deliveries SET status = 'sending', attempts = 1 WHERE id IN"
                " (SELECT id FROM deliveries WHERE run_id = $1 ORDER BY id LIMIT 1) RETURNING user_id",
                run_id,
            )
        env.info = dataclasses.replace(env.info, attempt=2)
        result = await env.run(activities.deliver_batch, DeliverBatchInput(run_id=str(run_id), batch_no=0))
    finally:
        await channels.aclose()

    statuses = await _statuses(pool, run_id)
    assert result.delivered == 3
    assert result.failed == 1
    assert statuses[in_doubt[0]["user_id"]] == ("failed", OUTCOME_UNKNOWN)
    assert len(smtp_sink.messages) == 3


async def test_worker_restart_mid_run_sends_each_message_once(api, pool, directory, temporal_client, settings):
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    await receiver.start()
    try:
        team = await directory.team()
        users = await directory.recipients(team, 120, webhook_url=receiver.url)
        # Every request waits, so the first worker stops with sends in flight.
        receiver.delay(0.3, times=None)

        async with build_worker(client=temporal_client, pool=pool, settings=settings) as first_worker:
            async with first_worker:
                created = await api.post(
                    f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=users, channel="webhook"), headers=team.auth()
                )
                campaign_id = created.json()["id"]
                assert (await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())).status_code == 202
                deadline = asyncio.get_running_loop().time() + 20
                while receiver.delivered_count < 20:
                    assert asyncio.get_running_loop().time() < deadline, "no deliveries arrived"
                    await asyncio.sleep(0.05)
        delivered_before_restart = receiver.delivered_count
        assert delivered_before_restart < 120

        receiver.clear_faults()
        async with build_worker(client=temporal_client, pool=pool, settings=settings) as second_worker:
            async with second_worker:
                detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"}, timeout=120)
    finally:
        await receiver.stop()

    assert detail["counts"]["delivered"] == 120
    assert detail["counts"]["pending"] == 0
    assert detail["counts"]["sending"] == 0
    # The receiver records each idempotency key once; repeats of in-doubt sends are
    # counted as duplicates and never reach the recipient twice.
    assert receiver.delivered_count == 120
    assert len({d.payload["recipient"]["user_id"] for d in receiver.deliveries}) == 120
