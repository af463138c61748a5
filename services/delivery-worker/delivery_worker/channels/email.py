"""Email channel over SMTP, with a small pool of reused connections."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from delivery_worker.channels.base import (
    OutboundMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)


class EmailChannel:
    """Send each message over one of up to ``max_connections`` SMTP connections.

    SMTP has no idempotency key. The deterministic Message-ID lets a mail system
    drop duplicates, but the batch activity never resends an email whose outcome
    was lost; it marks that delivery failed instead.
    """

    name = "email"
    supports_idempotency = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        timeout: float = 30.0,
        max_connections: int = 4,
    ) -> None:
        self._options = dict(hostname=host, port=port, use_tls=use_tls, timeout=timeout)
        self._credentials = (username, password) if username else None
        self._sender = sender
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(max_connections)

    async def send(self, message: OutboundMessage) -> None:
        email = self._build(message)
        async with self._slots:
            client = await self._acquire()
            try:
                await client.send_message(email)
            except aiosmtplib.SMTPRecipientsRefused as error:
                await self._discard(client)
                raise _classify_refused(error) from error
            except aiosmtplib.SMTPResponseException as error:
                await self._discard(client)
                raise _classify_reply(error.code, error.message) from error
            except (aiosmtplib.SMTPException, OSError) as error:
                await self._discard(client)
                raise TransientDeliveryError(f"SMTP connection failed: {type(error).__name__}") from error
            self._idle.put_nowait(client)

    async def aclose(self) -> None:
        while not self._idle.empty():
            await self._discard(self._idle.get_nowait())

    def _build(self, message: OutboundMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = f"<{message.idempotency_key.replace(':', '.')}@campaigns>"
        email["X-Campaign-Id"] = message.campaign_id
        email.set_content(message.body)
        return email

    async def _acquire(self) -> aiosmtplib.SMTP:
        if not self._idle.empty():
            return self._idle.get_nowait()
        client = aiosmtplib.SMTP(**self._options)
        try:
            await client.connect()
            if self._credentials:
                await client.login(*self._credentials)
        except aiosmtplib.SMTPResponseException as error:
            raise _classify_reply(error.code, error.message) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TransientDeliveryError(f"SMTP connection failed: {type(error).__name__}") from error
        return client

    async def _discard(self, client: aiosmtplib.SMTP) -> None:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def _classify_reply(code: int, text: str) -> PermanentDeliveryError | TransientDeliveryError:
    reason = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        return TransientDeliveryError(reason)
    return PermanentDeliveryError(reason)


def _classify_refused(error: aiosmtplib.SMTPRecipientsRefused) -> PermanentDeliveryError | TransientDeliveryError:
    # One message has one envelope recipient, so the first rejected recipient is the result.
    refusal = error.recipients[0]
    return _classify_reply(refusal.code, refusal.message)
