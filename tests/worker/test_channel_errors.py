"""Channel error handling end to end: real SMTP replies and real HTTP responses."""

from __future__ import annotations

import hashlib
import hmac

from tests.conftest import WEBHOOK_SECRET
from tests.helpers import campaign_body, wait_for_status


async def _run(api, team, user_ids, channel="email"):
    created = await api.post(
        f"/v1/teams/{team.id}/campaigns", json=campaign_body(user_ids=user_ids, channel=channel), headers=team.auth()
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    started = await api.post(f"/v1/campaigns/{campaign_id}/run", headers=team.auth())
    assert started.status_code == 202, started.text
    return campaign_id


async def _deliveries(api, team, campaign_id):
    response = await api.get(f"/v1/campaigns/{campaign_id}/deliveries", headers=team.auth())
    return {item["email"]: item for item in response.json()["items"]}


async def test_smtp_permanent_reply_fails_delivery(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 3)
    rejected = f"person2-{team.id.hex[:8]}@example.com"
    smtp_sink.fail_recipient(rejected, 550, "5.1.1 mailbox unavailable")

    campaign_id = await _run(api, team, users)
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["delivered"] == 2
    assert detail["counts"]["failed"] == 1
    deliveries = await _deliveries(api, team, campaign_id)
    assert deliveries[rejected]["status"] == "failed"
    assert deliveries[rejected]["last_error"].startswith("SMTP 550")
    assert deliveries[rejected]["attempts"] == 1
    assert smtp_sink.messages_to(rejected) == []


async def test_smtp_transient_reply_is_retried(api, directory, worker, smtp_sink):
    team = await directory.team()
    users = await directory.recipients(team, 2)
    flaky = f"person1-{team.id.hex[:8]}@example.com"
    smtp_sink.fail_recipient(flaky, 451, "4.3.0 try again later", times=2)

    campaign_id = await _run(api, team, users)
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["delivered"] == 2
    assert len(smtp_sink.messages_to(flaky)) == 1


async def test_smtp_transient_reply_gives_up_after_max_attempts(api, directory, worker, smtp_sink, settings):
    team = await directory.team()
    users = await directory.recipients(team, 1)
    address = f"person1-{team.id.hex[:8]}@example.com"
    smtp_sink.fail_recipient(address, 421, "4.7.0 rate limited")

    campaign_id = await _run(api, team, users)
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["failed"] == 1
    deliveries = await _deliveries(api, team, campaign_id)
    assert f"gave up after {settings.delivery_max_attempts} attempts" in deliveries[address]["last_error"]


async def test_webhook_delivery_is_signed_with_idempotency_key(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 5, webhook_url=webhook_receiver.url)

    campaign_id = await _run(api, team, users, channel="webhook")
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["delivered"] == 5
    received = webhook_receiver.deliveries
    assert len(received) == 5
    run_id = detail["latest_run"]["id"]
    for delivery in received:
        assert delivery.idempotency_key.startswith(f"{run_id}:")
        assert delivery.payload["campaign_id"] == campaign_id
        timestamp, _, signature = delivery.headers["x-campaign-signature"].partition(",v1=")
        expected = hmac.new(
            WEBHOOK_SECRET.encode(), f"{timestamp.removeprefix('t=')}.".encode() + delivery.body, hashlib.sha256
        ).hexdigest()
        assert signature == expected
    assert {d.payload["recipient"]["user_id"] for d in received} == {str(u) for u in users}


async def test_webhook_rate_limit_honours_retry_after(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 1, webhook_url=webhook_receiver.url)
    webhook_receiver.respond_with(429, times=1, retry_after=1)

    campaign_id = await _run(api, team, users, channel="webhook")
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["delivered"] == 1
    assert webhook_receiver.status_counts[429] == 1
    assert webhook_receiver.delivered_count == 1


async def test_webhook_server_errors_are_retried(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 3, webhook_url=webhook_receiver.url)
    webhook_receiver.respond_with(503, times=2)

    campaign_id = await _run(api, team, users, channel="webhook")
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["delivered"] == 3
    assert webhook_receiver.delivered_count == 3
    assert webhook_receiver.duplicate_count == 0


async def test_webhook_gone_fails_without_retry(api, directory, worker, webhook_receiver):
    team = await directory.team()
    users = await directory.recipients(team, 1, webhook_url=webhook_receiver.url)
    webhook_receiver.respond_with(410, times=None)

    campaign_id = await _run(api, team, users, channel="webhook")
    detail = await wait_for_status(api, campaign_id, team.auth(), {"sent"})

    assert detail["counts"]["failed"] == 1
    deliveries = await _deliveries(api, team, campaign_id)
    only = next(iter(deliveries.values()))
    assert only["last_error"] == "webhook answered HTTP 410"
    assert webhook_receiver.status_counts[410] == 1
