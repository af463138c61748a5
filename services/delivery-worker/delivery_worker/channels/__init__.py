"""Channel adapters: one per delivery channel, all with the same ``send`` contract."""

from delivery_worker.channels.base import (
    ChannelAdapter,
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = ["ChannelAdapter", "OutboundMessage", "PermanentDeliveryError", "TransientDeliveryError"]
