"""The contract between the batch activity and a channel adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutboundMessage:
    delivery_id: int
    run_id: str
    campaign_id: str
    user_id: str
    address: str
    subject: str
    body: str

    @property
    def idempotency_key(self) -> str:
        """A key that is the same for every attempt at this delivery."""
        return f"{self.run_id}:{self.delivery_id}"


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentDeliveryError(DeliveryError):
    """The channel rejected the message for good (invalid address, blocked, gone)."""


class TransientDeliveryError(DeliveryError):
    """The channel may accept the message later (rate limit, outage, timeout).

    ``retry_after`` is the channel's own wait hint in seconds, when it gave one.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ChannelAdapter(Protocol):
    name: str
    # True when the channel deduplicates by ``OutboundMessage.idempotency_key``, so a
    # message whose outcome was lost in a crash can be sent again safely.
    supports_idempotency: bool

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one message, or raise a PermanentDeliveryError or TransientDeliveryError."""
        ...
