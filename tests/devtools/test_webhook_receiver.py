"""WebhookReceiver tests with httpx as the client, over loopback TCP.

The tests sign requests with their own HMAC code, written from the documented scheme,
so that they check the receiver against the scheme rather than against itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.webhook_receiver import WebhookReceiver

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_A = "team-a-secret"
SECRET_B = "team-b-secret"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return an X-Campaign-Signature header value for ``body``."""
    if timestamp is None:
        timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


@pytest.fixture
async def receiver():
    async with WebhookReceiver({"team-a": SECRET_A, "team-b": SECRET_B}) as running_receiver:
        yield running_receiver


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=10) as http_client:
        yield http_client


async def post(
    client: httpx.AsyncClient,
    receiver: WebhookReceiver,
    payload: Any,
    *,
    key: str | None,
    secret: str = SECRET_A,
) -> httpx.Response:
    """POST ``payload`` as JSON with a valid signature and the given Idempotency-Key."""
    body = encode(payload)
    headers = {"Content-Type": "application/json", "X-Campaign-Signature": sign(secret, body)}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(receiver.url, content=body, headers=headers)


async def test_port_and_url(receiver: WebhookReceiver) -> None:
    assert receiver.port != 0
    assert receiver.url == f"http://127.0.0.1:{receiver.port}/webhook"


async def test_signed_delivery_recorded(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await post(client, receiver, {"campaign_id": "c-1", "text": "hello"}, key="c-1:r-1")

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    assert len(receiver.deliveries) == 1
    delivery = receiver.deliveries[0]
    assert delivery.idempotency_key == "c-1:r-1"
    assert delivery.payload == {"campaign_id": "c-1", "text": "hello"}
    assert delivery.headers["idempotency-key"] == "c-1:r-1"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.path == "/webhook"
    assert delivery.secret_id == "team-a"
    assert delivery.received_at.tzinfo is not None
    assert receiver.delivery("c-1:r-1") == delivery


async def test_second_secret_accepted(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await post(client, receiver, {"n": 1}, key="b-1", secret=SECRET_B)

    assert response.status_code == 200
    assert receiver.deliveries[0].secret_id == "team-b"


async def test_single_secret_accepted(client: httpx.AsyncClient) -> None:
    async with WebhookReceiver(SECRET_A) as single:
        response = await post(client, single, {"n": 1}, key="k-1")

        assert response.status_code == 200
        assert single.deliveries[0].secret_id == "default"


async def test_any_matching_v1_accepted(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    body = encode({"n": 1})
    timestamp = int(time.time())
    valid = sign(SECRET_A, body, timestamp).split(",v1=")[1]
    header = f"t={timestamp},v1={'0' * 64},v1={valid}"

    response = await client.post(
        receiver.url, content=body, headers={"X-Campaign-Signature": header, "Idempotency-Key": "k-1"}
    )

    assert response.status_code == 200


async def test_wrong_secret_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await post(client, receiver, {"n": 1}, key="k-1", secret="not-the-secret")

    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert receiver.deliveries == []
    assert receiver.delivered_count == 0


async def test_tampered_body_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    signed_body = encode({"amount": 1})
    sent_body = encode({"amount": 1000})

    response = await client.post(
        receiver.url,
        content=sent_body,
        headers={"X-Campaign-Signature": sign(SECRET_A, signed_body), "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 401
    assert receiver.deliveries == []


async def test_missing_signature_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await client.post(receiver.url, content=encode({"n": 1}), headers={"Idempotency-Key": "k-1"})

    assert response.status_code == 401
    assert "missing X-Campaign-Signature" in response.json()["error"]
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=" + "0" * 64, f"t={int(time.time())}", "v1=" + "0" * 64, ""],
)
async def test_malformed_signature_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient, header: str) -> None:
    response = await client.post(
        receiver.url,
        content=encode({"n": 1}),
        headers={"X-Campaign-Signature": header, "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 401
    assert receiver.deliveries == []


async def test_stale_timestamp_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    body = encode({"n": 1})
    old_timestamp = int(time.time()) - 3600

    response = await client.post(
        receiver.url,
        content=body,
        headers={"X-Campaign-Signature": sign(SECRET_A, body, old_timestamp), "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 401
    assert "timestamp" in response.json()["error"]
    assert receiver.deliveries == []


async def test_duplicate_key_recorded_once(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    first = await post(client, receiver, {"attempt": 1}, key="c-1:r-1")
    second = await post(client, receiver, {"attempt": 2}, key="c-1:r-1")

    assert first.status_code == 200
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate"}
    assert len(receiver.deliveries) == 1
    assert receiver.deliveries[0].payload == {"attempt": 1}
    assert receiver.delivered_count == 1
    assert receiver.duplicate_count == 1
    assert receiver.attempts("c-1:r-1") == 2


async def test_missing_idempotency_key_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await post(client, receiver, {"n": 1}, key=None)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]
    assert receiver.deliveries == []


async def test_invalid_json_rejected(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    body = b"{not json"

    response = await client.post(
        receiver.url,
        content=body,
        headers={"X-Campaign-Signature": sign(SECRET_A, body), "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert receiver.deliveries == []


async def test_get_rejected_with_405(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    response = await client.get(receiver.url)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_stats_endpoint_returns_counters(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    await post(client, receiver, {"n": 1}, key="k-1")
    await post(client, receiver, {"n": 1}, key="k-1")
    await post(client, receiver, {"n": 1}, key="k-2", secret="wrong")

    response = await client.get(f"{receiver.base_url}/stats")

    assert response.status_code == 200
    stats = response.json()
    assert stats["delivered_count"] == 1
    assert stats["duplicate_count"] == 1
    assert stats["status_counts"] == {"200": 2, "401": 1}
    assert stats["request_count"] == 3


async def test_body_too_large_rejected(client: httpx.AsyncClient) -> None:
    async with WebhookReceiver(SECRET_A, max_body_bytes=100) as small:
        response = await post(client, small, {"text": "x" * 200}, key="k-1")

        assert response.status_code == 413
        assert "exceeds 100 bytes" in response.json()["error"]
        assert small.deliveries == []


async def test_large_body_rejected_without_reset(client: httpx.AsyncClient) -> None:
    # A body far larger than the socket buffers must still get the 413 response, not a
    # connection reset.
    async with WebhookReceiver(SECRET_A, max_body_bytes=100) as small:
        for _ in range(3):
            response = await post(client, small, {"text": "x" * 4_000_000}, key="k-1")

            assert response.status_code == 413


async def test_chunked_body_too_large_rejected(client: httpx.AsyncClient) -> None:
    body = encode({"text": "x" * 200})

    async def chunks():
        for start in range(0, len(body), 50):
            yield body[start : start + 50]

    async with WebhookReceiver(SECRET_A, max_body_bytes=100) as small:
        response = await client.post(
            small.url,
            content=chunks(),
            headers={"X-Campaign-Signature": sign(SECRET_A, body), "Idempotency-Key": "k-1"},
        )

        assert response.request.headers["transfer-encoding"] == "chunked"
        assert response.status_code == 413
        assert small.deliveries == []


async def test_retry_after_429_then_recovers(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    receiver.respond_with(429, times=2, retry_after=7)

    responses = [await post(client, receiver, {"n": 1}, key="k-1") for _ in range(3)]

    assert [response.status_code for response in responses] == [429, 429, 200]
    assert responses[0].headers["retry-after"] == "7"
    assert responses[1].headers["retry-after"] == "7"
    assert "retry-after" not in responses[2].headers
    assert len(receiver.deliveries) == 1
    assert receiver.attempts("k-1") == 3
    assert receiver.status_counts == {429: 2, 200: 1}


@pytest.mark.parametrize("status", [400, 410, 500, 503])
async def test_injected_status_then_recovers(
    receiver: WebhookReceiver, client: httpx.AsyncClient, status: int
) -> None:
    receiver.respond_with(status)

    failed = await post(client, receiver, {"n": 1}, key="k-1")
    recovered = await post(client, receiver, {"n": 1}, key="k-1")

    assert failed.status_code == status
    assert "retry-after" not in failed.headers
    assert recovered.status_code == 200
    assert recovered.json() == {"status": "accepted"}
    assert len(receiver.deliveries) == 1


async def test_injected_status_for_key_prefix(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    receiver.respond_with(503, times=None, for_key_prefix="team-b:")

    team_b_first = await post(client, receiver, {"n": 1}, key="team-b:1")
    team_a = await post(client, receiver, {"n": 2}, key="team-a:1")
    team_b_second = await post(client, receiver, {"n": 3}, key="team-b:2")
    receiver.clear_faults()
    team_b_after_clear = await post(client, receiver, {"n": 1}, key="team-b:1")

    assert team_b_first.status_code == 503
    assert team_a.status_code == 200
    assert team_b_second.status_code == 503
    assert team_b_after_clear.status_code == 200
    assert [delivery.idempotency_key for delivery in receiver.deliveries] == ["team-a:1", "team-b:1"]


async def test_delay_slows_response(receiver: WebhookReceiver, client: httpx.AsyncClient) -> None:
    receiver.delay(0.3)

    started = time.monotonic()
    delayed = await post(client, receiver, {"n": 1}, key="k-1")
    delayed_seconds = time.monotonic() - started
    started = time.monotonic()
    normal = await post(client, receiver, {"n": 2}, key="k-2")
    normal_seconds = time.monotonic() - started

    assert delayed.status_code == 200
    assert normal.status_code == 200
    assert delayed_seconds >= 0.3
    assert normal_seconds < 0.3


async def test_delayed_request_recorded_after_client_timeout(
    receiver: WebhookReceiver, client: httpx.AsyncClient
) -> None:
    receiver.delay(0.5)
    body = encode({"n": 1})
    headers = {"X-Campaign-Signature": sign(SECRET_A, body), "Idempotency-Key": "k-1"}

    with pytest.raises(httpx.ReadTimeout):
        await client.post(receiver.url, content=body, headers=headers, timeout=0.1)
    await receiver.wait_for_deliveries(1, timeout=5)
    retry = await post(client, receiver, {"n": 1}, key="k-1")

    assert retry.json() == {"status": "duplicate"}
    assert len(receiver.deliveries) == 1


async def test_concurrent_requests_all_recorded(receiver: WebhookReceiver) -> None:
    request_count = 300
    # Each request waits 0.2 s in the receiver, so handling them one at a time would
    # take 60 s. Finishing well under that shows that they overlap.
    receiver.delay(0.2, times=request_count)
    limits = httpx.Limits(max_connections=request_count, max_keepalive_connections=request_count)

    async with httpx.AsyncClient(timeout=30, limits=limits) as many_client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(post(many_client, receiver, {"index": index}, key=f"k-{index}") for index in range(request_count))
        )
        elapsed = time.monotonic() - started

    assert [response.status_code for response in responses] == [200] * request_count
    assert receiver.delivered_count == request_count
    assert {delivery.idempotency_key for delivery in receiver.deliveries} == {f"k-{i}" for i in range(request_count)}
    assert elapsed < 15


async def test_keep_alive_reuses_connection(receiver: WebhookReceiver) -> None:
    limits = httpx.Limits(max_connections=1)
    client_addresses = set()

    async with httpx.AsyncClient(timeout=10, limits=limits) as one_connection_client:
        started = time.monotonic()
        for index in range(20):
            response = await post(one_connection_client, receiver, {"index": index}, key=f"k-{index}")
            assert response.status_code == 200
            client_addresses.add(response.extensions["network_stream"].get_extra_info("client_addr"))
        mean_seconds = (time.monotonic() - started) / 20

    assert len(client_addresses) == 1
    assert receiver.delivered_count == 20
    # Without TCP_NODELAY on the server, each request on a reused connection waits about
    # 40 ms for a delayed ACK. With it, one request took about 1 ms on a 2-core machine.
    assert mean_seconds < 0.025


async def test_count_only_keeps_counters(client: httpx.AsyncClient) -> None:
    async with WebhookReceiver(SECRET_A, count_only=True) as counting:
        for index in range(5):
            await post(client, counting, {"index": index}, key=f"k-{index}")
        duplicate = await post(client, counting, {"index": 0}, key="k-0")

        assert duplicate.json() == {"status": "duplicate"}
        assert counting.deliveries == []
        assert counting.delivered_count == 5
        assert counting.duplicate_count == 1


async def test_stop_ends_pending_delay(client: httpx.AsyncClient) -> None:
    slow = WebhookReceiver(SECRET_A)
    await slow.start()
    slow.delay(60)
    request = asyncio.create_task(post(client, slow, {"n": 1}, key="k-1"))
    async with asyncio.timeout(5):
        while slow.attempts("k-1") == 0:
            await asyncio.sleep(0.01)

    started = time.monotonic()
    await slow.stop()
    stop_seconds = time.monotonic() - started
    response = await asyncio.wait_for(request, 5)

    assert stop_seconds < 5
    assert response.status_code == 200
    assert slow.delivered_count == 1


async def test_wait_for_deliveries_times_out(receiver: WebhookReceiver) -> None:
    with pytest.raises(TimeoutError, match="waiting for 1 deliveries"):
        await receiver.wait_for_deliveries(1, timeout=0.1)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "localhost", "::"])
def test_non_loopback_host_rejected(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        WebhookReceiver(SECRET_A, host=host)


def test_empty_secret_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        WebhookReceiver({"team-a": ""})


@pytest.mark.parametrize("status", [199, 600, True])
def test_invalid_injected_status_rejected(status: int) -> None:
    receiver = WebhookReceiver(SECRET_A)

    with pytest.raises(ValueError, match="HTTP status"):
        receiver.respond_with(status)


async def read_log_event(stream: asyncio.StreamReader, event: str, log_lines: list[str]) -> dict[str, Any]:
    """Read JSON log lines until one has the given event, keeping every line read."""
    async with asyncio.timeout(20):
        while True:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"log ended before {event}: {log_lines}")
            text = line.decode()
            log_lines.append(text)
            if text.startswith("{") and json.loads(text).get("event") == event:
                return json.loads(text)


async def test_process_records_until_sigterm(client: httpx.AsyncClient) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.webhook_receiver",
        "--port",
        "0",
        "--secret-env",
        "TEST_WEBHOOK_SECRET",
        "--count-only",
        "--log-format",
        "json",
        cwd=REPO_ROOT,
        env={**os.environ, "TEST_WEBHOOK_SECRET": SECRET_A},
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log_lines: list[str] = []
    try:
        started = await read_log_event(process.stderr, "webhook_receiver.started", log_lines)
        base_url = f"http://127.0.0.1:{started['port']}"
        body = encode({"n": 1})
        response = await client.post(
            f"{base_url}/webhook",
            content=body,
            headers={"X-Campaign-Signature": sign(SECRET_A, body), "Idempotency-Key": "k-1"},
        )
        stats = (await client.get(f"{base_url}/stats")).json()

        process.send_signal(signal.SIGTERM)
        stopped = await read_log_event(process.stderr, "webhook_receiver.stopped", log_lines)
        async with asyncio.timeout(20):
            return_code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert response.status_code == 200
    assert stats["delivered_count"] == 1
    assert stopped["delivered_count"] == 1
    assert return_code == 0
    assert SECRET_A not in "".join(log_lines)


async def test_process_without_secret_exits() -> None:
    environment = {name: value for name, value in os.environ.items() if name != "TEST_WEBHOOK_SECRET"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.webhook_receiver",
        "--port",
        "0",
        "--secret-env",
        "TEST_WEBHOOK_SECRET",
        cwd=REPO_ROOT,
        env=environment,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        _, stderr = await process.communicate()

    assert process.returncode == 2
    assert b"TEST_WEBHOOK_SECRET is not set" in stderr
