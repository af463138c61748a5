"""Build the channel adapter for a run, sharing long-lived clients across runs."""

from __future__ import annotations

import httpx

from delivery_worker.channels.base import ChannelAdapter
from delivery_worker.channels.email import EmailChannel
from delivery_worker.channels.webhook import WebhookChannel
from delivery_worker.repository import RunContext
from shared.settings import Settings


class UnsupportedChannel(Exception):
    pass


class ChannelRegistry:
    """Owns the HTTP client and the SMTP connection pool for the worker's lifetime."""

    def __init__(self, settings: Settings) -> None:
        self._http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            limits=httpx.Limits(max_connections=settings.webhook_max_connections),
            follow_redirects=False,
        )
        self._email = EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_use_tls,
            timeout=settings.smtp_timeout_seconds,
            max_connections=min(settings.delivery_concurrency, 8),
        )

    def open(self, context: RunContext) -> ChannelAdapter:
        if context.channel == "email":
            return self._email
        if context.channel == "webhook":
            return WebhookChannel(self._http, secret=context.webhook_secret)
        raise UnsupportedChannel(f"no adapter for channel {context.channel!r}")

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._email.aclose()
