"""Webhook channel: a signed JSON POST per recipient with an idempotency key.

Signature: ``X-Campaign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the
HMAC key is the team's webhook secret and the signed bytes are ``f"{t}."`` followed
by the raw request body. Receivers should reject signatures older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from email.utils import parsedate_to_datetime

import httpx

from delivery_worker.channels.base import (
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)

SIGNATURE_HEADER = "X-Campaign-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Statuses that mean "try again later". Every other non-2xx status is final.
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the wait in seconds from a Retry-After header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class WebhookChannel:
    name = "webhook"
    supports_idempotency = True

    def __init__(self, client: httpx.AsyncClient, *, secret: str) -> None:
        self._client = client
        self._secret = secret

    async def send(self, message: OutboundMessage) -> None:
        body = json.dumps(
            {
                "idempotency_key": message.idempotency_key,
                "campaign_id": message.campaign_id,
                "run_id": message.run_id,
                "delivery_id": message.delivery_id,
                "recipient": {"user_id": message.user_id},
                "subject": message.subject,
                "body": message.body,
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: message.idempotency_key,
            SIGNATURE_HEADER: sign(self._secret, body, int(time.time())),
        }
        try:
            response = await self._client.post(message.address, content=body, headers=headers)
        except httpx.InvalidURL as error:
            raise PermanentDeliveryError(f"invalid webhook address: {error}") from error
        except httpx.TimeoutException as error:
            raise TransientDeliveryError("webhook timed out") from error
        except httpx.TransportError as error:
            raise TransientDeliveryError(f"webhook connection failed: {type(error).__name__}") from error

        if response.is_success:
            return
        reason = f"webhook answered HTTP {response.status_code}"
        if response.status_code in _TRANSIENT_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientDeliveryError(reason, retry_after=retry_after)
        raise PermanentDeliveryError(reason)
