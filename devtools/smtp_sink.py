"""SMTP server for development and tests that accepts every message and stores it.

Each accepted message is written as an .eml file into ``mail_dir`` and kept in memory.
Tests can make chosen RCPT TO or DATA commands fail with a given SMTP reply, so that the
sender's error handling runs against real SMTP responses.

The server runs in the event loop that calls ``start()``. Clients in the same loop must
not block it, so use aiosmtplib there, or run smtplib in a thread.

Run it as a process until SIGINT or SIGTERM::

    python -m devtools.smtp_sink --host 127.0.0.1 --port 1025 --mail-dir var/mail
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import ipaddress
import itertools
import logging
import os
import signal
import sys
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.logs import configure_logging

logger = structlog.get_logger("devtools.smtp_sink")

# Name the server uses in its greeting and in the Received header of stored files.
SERVER_HOSTNAME = "smtp-sink.localhost"


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message accepted by the sink, with its SMTP envelope."""

    mail_from: str
    """Envelope sender from MAIL FROM, "" for the null sender."""
    rcpt_tos: tuple[str, ...]
    """Envelope recipients accepted by RCPT TO, in the order the client sent them."""
    message: EmailMessage
    """The message as the client sent it, without the trace headers of the file."""
    raw: bytes
    """The message bytes as the client sent them, with CRLF line endings."""
    received_at: datetime
    """Arrival time in UTC."""
    path: Path | None
    """The .eml file, or None when the sink has no mail_dir."""


@dataclass(slots=True)
class _Fault:
    """An SMTP reply that replaces the normal one, for ``remaining`` more commands."""

    reply: str
    remaining: int | None  # None applies the fault until clear_faults().

    def consume(self) -> str:
        if self.remaining is not None:
            self.remaining -= 1
        return self.reply


class SmtpSink:
    """SMTP server on a loopback address that accepts and stores every message.

    Use it as an async context manager or call ``start()`` and ``stop()``. All methods must
    be called from the event loop that runs the server.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, mail_dir: Path | None = None) -> None:
        _require_loopback(host)
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self.mail_dir = Path(mail_dir) if mail_dir is not None else None

        self._messages: list[ReceivedMessage] = []
        self._recipient_faults: list[tuple[str, _Fault]] = []
        self._data_faults: list[_Fault] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._file_sequence = itertools.count(1)

        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._handler = _SinkHandler(self)

    @property
    def port(self) -> int:
        """TCP port the server listens on. Before start() this is the requested port."""
        if self._bound_port is not None:
            return self._bound_port
        return self._requested_port

    async def start(self) -> None:
        """Create ``mail_dir`` if needed and start listening."""
        if self._server is not None:
            raise RuntimeError("SmtpSink is already running")
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self._create_protocol(loop), host=self.host, port=self._requested_port
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
        logger.info(
            "smtp_sink.started",
            host=self.host,
            port=self._bound_port,
            mail_dir=str(self.mail_dir) if self.mail_dir is not None else None,
        )

    async def stop(self) -> None:
        """Stop listening and close open client connections. Stored messages stay."""
        server = self._server
        if server is None:
            return
        self._server = None
        server.close()
        # asyncio.Server.close() leaves accepted connections open, so close them here.
        for protocol in list(self._connections):
            if protocol.transport is not None:
                protocol.transport.close()
        await server.wait_closed()
        logger.info("smtp_sink.stopped", port=self._bound_port, message_count=len(self._messages))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Messages accepted since the sink was created or last cleared, oldest first (a copy)."""
        return list(self._messages)

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        """Return the messages whose envelope recipients include ``address``.

        The comparison ignores case in the whole address.
        """
        folded_address = address.casefold()
        return [
            received
            for received in self._messages
            if any(rcpt.casefold() == folded_address for rcpt in received.rcpt_tos)
        ]

    def clear(self) -> None:
        """Forget the messages kept in memory. Files in ``mail_dir`` stay."""
        self._messages.clear()

    async def wait_for_messages(self, count: int, *, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages are kept in memory and return them.

        Raises TimeoutError when fewer have arrived after ``timeout`` seconds.
        """
        if len(self._messages) < count:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((count, future))
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"timed out after {timeout} s waiting for {count} messages: {len(self._messages)} arrived"
                ) from None
        return list(self._messages)

    def fail_recipient(self, address: str, code: int, message: str, *, times: int | None = None) -> None:
        """Reply ``code message`` to RCPT TO for ``address`` instead of accepting it.

        ``times`` limits the fault to that many RCPT TO commands for the address, and None
        keeps it until clear_faults(). Use a 5xx code for a permanent failure (550) and a
        4xx code for a transient one (451). Faults for the same address apply in the order
        they were added. The address comparison ignores case.
        """
        reply = _format_reply(code, message)
        self._recipient_faults.append((address.casefold(), _Fault(reply, _check_times(times))))

    def fail_next_data(self, code: int, message: str, *, times: int | None = 1) -> None:
        """Reply ``code message`` to the next ``times`` DATA commands and drop those messages.

        None as ``times`` keeps the fault until clear_faults().
        """
        reply = _format_reply(code, message)
        self._data_faults.append(_Fault(reply, _check_times(times)))

    def clear_faults(self) -> None:
        """Remove all RCPT TO and DATA faults, so that every command succeeds again."""
        self._recipient_faults.clear()
        self._data_faults.clear()

    def _create_protocol(self, loop: asyncio.AbstractEventLoop) -> SMTP:
        protocol = SMTP(
            self._handler,
            hostname=SERVER_HOSTNAME,
            enable_SMTPUTF8=True,
            decode_data=False,
            loop=loop,
        )
        self._connections.add(protocol)
        return protocol

    def _take_recipient_fault(self, address: str) -> str | None:
        folded_address = address.casefold()
        for index, (fault_address, fault) in enumerate(self._recipient_faults):
            if fault_address == folded_address:
                reply = fault.consume()
                if fault.remaining == 0:
                    del self._recipient_faults[index]
                return reply
        return None

    def _take_data_fault(self) -> str | None:
        if not self._data_faults:
            return None
        fault = self._data_faults[0]
        reply = fault.consume()
        if fault.remaining == 0:
            del self._data_faults[0]
        return reply

    def _store(self, session: Session, envelope: Envelope) -> str:
        """Store the message of a finished DATA command and return the SMTP reply."""
        content = envelope.content
        assert isinstance(content, bytes), "the server runs with decode_data=False"
        # aiosmtpd keeps the null sender of "MAIL FROM:<>" as the string "<>".
        mail_from = "" if envelope.mail_from in (None, "<>") else envelope.mail_from
        rcpt_tos = tuple(envelope.rcpt_tos)
        received_at = datetime.now(UTC)

        path = None
        if self.mail_dir is not None:
            trace = _trace_headers(session, envelope, mail_from, rcpt_tos, received_at)
            try:
                path = self._write_file(trace + content, received_at)
            except OSError as exc:
                logger.error("smtp_sink.store_failed", mail_dir=str(self.mail_dir), error=str(exc))
                return "451 4.3.0 Requested action aborted: the message could not be written to disk"

        message = BytesParser(_class=EmailMessage, policy=email.policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        self._messages.append(
            ReceivedMessage(
                mail_from=mail_from,
                rcpt_tos=rcpt_tos,
                message=message,
                raw=content,
                received_at=received_at,
                path=path,
            )
        )
        self._wake_waiters()
        logger.info(
            "smtp_sink.message_stored",
            recipient_count=len(rcpt_tos),
            file=path.name if path is not None else None,
        )
        return "250 2.0.0 OK: message stored"

    def _write_file(self, data: bytes, received_at: datetime) -> Path:
        """Write one .eml file and return its path.

        The name starts with the UTC arrival time, so names sort by arrival. The process id
        and a per-sink sequence number keep names unique when several messages, or several
        sinks sharing the folder, arrive within the same microsecond. The file is written
        under a hidden temporary name first, so a reader never sees half a message.
        """
        assert self.mail_dir is not None
        name = f"{received_at:%Y%m%dT%H%M%S.%fZ}-{os.getpid()}-{next(self._file_sequence):06d}.eml"
        path = self.mail_dir / name
        temporary = self.mail_dir / f".{name}.tmp"
        # The write blocks the event loop, which is acceptable for the small messages of
        # tests and development.
        temporary.write_bytes(data)
        os.replace(temporary, path)
        return path

    def _wake_waiters(self) -> None:
        pending = []
        for count, future in self._waiters:
            if future.done():
                continue
            if len(self._messages) >= count:
                future.set_result(None)
            else:
                pending.append((count, future))
        self._waiters = pending


class _SinkHandler:
    """aiosmtpd handler hooks. aiosmtpd calls every ``handle_*`` method of its handler."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(  # noqa: N802 - aiosmtpd fixes the hook name.
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self._sink._take_recipient_fault(address)
        if reply is not None:
            logger.info("smtp_sink.recipient_rejected", reply_code=reply[:3])
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = self._sink._take_data_fault()
        if reply is not None:
            logger.info("smtp_sink.data_rejected", reply_code=reply[:3], recipient_count=len(envelope.rcpt_tos))
            return reply
        return self._sink._store(session, envelope)


def _trace_headers(
    session: Session,
    envelope: Envelope,
    mail_from: str,
    rcpt_tos: tuple[str, ...],
    received_at: datetime,
) -> bytes:
    """Build the Return-Path, X-Envelope-To and Received headers for the stored file.

    X-Envelope-To lists every envelope recipient, including Bcc recipients that the
    message headers do not show.
    """
    peer = session.peer
    peer_ip = peer[0] if isinstance(peer, tuple) else str(peer)
    helo_name = session.host_name or "unknown"
    if envelope.smtp_utf8:
        protocol = "UTF8SMTP"
    elif session.extended_smtp:
        protocol = "ESMTP"
    else:
        protocol = "SMTP"

    recipients = ",\r\n ".join(f"<{rcpt}>" for rcpt in rcpt_tos)
    lines = [
        f"Return-Path: <{mail_from}>",
        f"X-Envelope-To: {recipients}",
        f"Received: from {helo_name} ([{peer_ip}])\r\n by {SERVER_HOSTNAME} with {protocol};\r\n"
        f" {format_datetime(received_at)}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _format_reply(code: int, message: str) -> str:
    if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
        raise ValueError(f"invalid SMTP reply code {code!r}: expected an integer from 400 to 599")
    if not message or any(char in message for char in "\r\n"):
        raise ValueError(f"invalid SMTP reply message {message!r}: expected one non-empty line")
    return f"{code} {message}"


def _check_times(times: int | None) -> int | None:
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"invalid times {times!r}: expected a positive integer or None")
    return times


def _require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback IP address.

    The sink accepts mail without authentication, so it must not be reachable from
    other machines.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid host {host!r}: expected a loopback IP address such as 127.0.0.1 or ::1") from None
    if not address.is_loopback:
        raise ValueError(f"host {host!r} is not a loopback address: bind the sink to 127.0.0.1 or ::1")


async def _run_until_signal(sink: SmtpSink) -> None:
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop_requested.set)

    await sink.start()
    try:
        await stop_requested.wait()
    finally:
        await sink.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the sink as a process until SIGINT or SIGTERM and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.smtp_sink",
        description="Run an SMTP server on loopback that accepts every message and writes each one as an .eml file.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback IP address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=1025, help="TCP port, or 0 for a free port (default: %(default)s)")
    parser.add_argument(
        "--mail-dir",
        type=Path,
        default=Path("var/mail"),
        help="folder for the .eml files, created if missing (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", help="minimum log level (default: %(default)s)")
    parser.add_argument("--log-format", choices=("console", "json"), default="console", help="log output format")
    args = parser.parse_args(argv)

    try:
        sink = SmtpSink(host=args.host, port=args.port, mail_dir=args.mail_dir)
    except ValueError as exc:
        parser.error(str(exc))

    configure_logging(level=args.log_level, fmt=args.log_format)
    # aiosmtpd logs every command with the client's addresses at INFO level.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    try:
        asyncio.run(_run_until_signal(sink))
    except OSError as exc:
        logger.error("smtp_sink.start_failed", host=args.host, port=args.port, error=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
