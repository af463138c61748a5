"""HTTP server for development and tests that plays a webhook consumer.

The receiver accepts POST requests with a JSON body on any path. It verifies the
signature header and records each ``Idempotency-Key`` once. Tests can make chosen
requests fail with a given status or respond slowly.

Signature scheme, which the sender must follow::

    X-Campaign-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.".encode() + raw_body)>

The header may carry several ``v1`` values, for example while a secret is rotated. The
request is accepted when any of them matches any configured secret.

Responses, in the order the checks run:

- 405 for a method other than POST. ``GET /stats`` returns the counters as JSON.
- 413 when the body is larger than ``max_body_bytes``.
- The injected status of a ``respond_with()`` fault, after any ``delay()``.
- 401 when the signature is missing, malformed, wrong, or its timestamp is further than
  ``tolerance_seconds`` from the receiver's clock.
- 400 when the Idempotency-Key header is missing or the body is not valid JSON.
- 200 ``{"status": "accepted"}`` for a new key and 200 ``{"status": "duplicate"}`` for
  a key that was already accepted, which records nothing new.

The server is uvicorn with a small ASGI application, and it runs in the event loop that
calls ``start()``.

Run it as a process until SIGINT or SIGTERM::

    WEBHOOK_SECRET=... python -m devtools.webhook_receiver --port 8900 --secret-env WEBHOOK_SECRET
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import structlog
import uvicorn

from shared.logs import configure_logging

logger = structlog.get_logger("devtools.webhook_receiver")

SIGNATURE_HEADER = "X-Campaign-Signature"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
STATS_PATH = "/stats"
DEFAULT_SECRET_ID = "default"

_SIGNATURE_HEADER_NAME = SIGNATURE_HEADER.lower().encode()
_IDEMPOTENCY_KEY_HEADER_NAME = IDEMPOTENCY_KEY_HEADER.lower().encode()

_ACCEPTED_BODY = b'{"status":"accepted"}'
_DUPLICATE_BODY = b'{"status":"duplicate"}'

# Rejections are logged for the first few of each reason and then every 1000th, so a
# misconfigured sender in a benchmark does not flood the log.
_REJECTION_LOG_FIRST = 10
_REJECTION_LOG_EVERY = 1000

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted webhook request."""

    idempotency_key: str
    payload: Any
    """The parsed JSON body."""
    body: bytes
    """The raw request body, as signed."""
    headers: dict[str, str]
    """Request headers with lower-case names. Repeated headers are joined with ", "."""
    path: str
    received_at: datetime
    """Arrival time in UTC."""
    secret_id: str
    """Key of the configured secret whose signature matched."""


@dataclass(slots=True)
class _Fault:
    """A status or delay that applies to the next ``remaining`` matching requests."""

    remaining: int | None  # None applies the fault until clear_faults().
    key_prefix: str | None
    status: int = 200
    retry_after: str | None = None
    delay_seconds: float = 0.0

    def matches(self, key: str | None) -> bool:
        if self.key_prefix is None:
            return True
        return key is not None and key.startswith(self.key_prefix)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn server that leaves SIGINT and SIGTERM to the code that owns the event loop.

    ``uvicorn.Server.serve()`` replaces the process's signal handlers while it runs,
    which would take Ctrl+C away from pytest.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebhookReceiver:
    """Webhook consumer on a loopback address that verifies, deduplicates and records requests.

    ``secrets`` is one secret, or a mapping from a secret id to a secret. A str secret is
    encoded as UTF-8. Use the receiver as an async context manager or call ``start()``
    and ``stop()``. All methods must be called from the event loop that runs the server.

    With ``count_only`` the receiver keeps counters and the set of seen keys but no
    Delivery records, which keeps memory small for benchmarks.
    """

    def __init__(
        self,
        secrets: Mapping[str, str | bytes] | str | bytes,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tolerance_seconds: float | None = 300.0,
        max_body_bytes: int = 1024 * 1024,
        count_only: bool = False,
    ) -> None:
        _require_loopback(host)
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._secrets = _normalize_secrets(secrets)
        if tolerance_seconds is not None and tolerance_seconds < 0:
            raise ValueError(f"invalid tolerance_seconds {tolerance_seconds!r}: expected a non-negative number or None")
        self.tolerance_seconds = tolerance_seconds
        if max_body_bytes < 1:
            raise ValueError(f"invalid max_body_bytes {max_body_bytes!r}: expected a positive integer")
        self.max_body_bytes = max_body_bytes
        self._body_too_large_reason = f"request body exceeds {max_body_bytes} bytes"
        self.count_only = count_only

        self._deliveries: list[Delivery] = []
        self._seen_keys: set[str] = set()
        self._attempts: Counter[str] = Counter()
        self._status_counts: Counter[int] = Counter()
        self._rejection_counts: Counter[str] = Counter()
        self.request_count = 0
        """Responses sent so far, for every method and status."""
        self.delivered_count = 0
        """Requests accepted with a new Idempotency-Key."""
        self.duplicate_count = 0
        """Requests that were valid but repeated an accepted Idempotency-Key."""

        self._status_faults: list[_Fault] = []
        self._delay_faults: list[_Fault] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

        self._server: _EmbeddedServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def port(self) -> int:
        """TCP port the server listens on. Before start() this is the requested port."""
        if self._bound_port is not None:
            return self._bound_port
        return self._requested_port

    @property
    def base_url(self) -> str:
        """Scheme, host and port, for example ``http://127.0.0.1:8900``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Webhook endpoint URL. The receiver accepts POST on any path, and this one is ``/webhook``."""
        return f"{self.base_url}/webhook"

    async def start(self, *, startup_timeout: float = 10.0) -> None:
        """Bind the socket and wait until uvicorn accepts connections."""
        if self._serve_task is not None:
            raise RuntimeError("WebhookReceiver is already running")
        self._stopping = asyncio.Event()

        address = ipaddress.ip_address(self.host)
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        # asyncio sets TCP_NODELAY on accepted connections only when the listening socket
        # names IPPROTO_TCP. Without it, Nagle's algorithm and delayed ACKs add about
        # 40 ms to each keep-alive request.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._bound_port = sock.getsockname()[1]

        config = uvicorn.Config(
            self._handle_request,
            interface="asgi3",
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        server = _EmbeddedServer(config)
        serve_task = asyncio.create_task(server.serve(sockets=[sock]), name="webhook-receiver")
        try:
            await _wait_until_started(server, serve_task, startup_timeout)
        except BaseException:
            serve_task.cancel()
            sock.close()
            raise
        self._server = server
        self._serve_task = serve_task

        logger.info("webhook_receiver.started", host=self.host, port=self._bound_port, count_only=self.count_only)

    async def stop(self) -> None:
        """End pending delays, let in-flight requests finish and close the server."""
        server, serve_task = self._server, self._serve_task
        if server is None or serve_task is None:
            return
        self._stopping.set()
        server.should_exit = True
        try:
            await serve_task
        finally:
            self._server = None
            self._serve_task = None
        logger.info("webhook_receiver.stopped", port=self._bound_port, **self._counters())

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
    def deliveries(self) -> list[Delivery]:
        """Deliveries accepted since the receiver was created or last cleared, oldest first (a copy).

        Always empty in count_only mode.
        """
        return list(self._deliveries)

    def delivery(self, idempotency_key: str) -> Delivery | None:
        """Return the accepted delivery with this key, or None."""
        for delivery in self._deliveries:
            if delivery.idempotency_key == idempotency_key:
                return delivery
        return None

    def attempts(self, idempotency_key: str) -> int:
        """Return how many POST requests carried this key, whatever their response."""
        return self._attempts[idempotency_key]

    @property
    def status_counts(self) -> Counter[int]:
        """Number of responses per HTTP status code (a copy). Absent codes count 0."""
        return Counter(self._status_counts)

    def stats(self) -> dict[str, Any]:
        """Return the counters, as ``GET /stats`` returns them."""
        return self._counters()

    def clear(self) -> None:
        """Forget deliveries, seen keys and counters. Faults stay."""
        self._deliveries.clear()
        self._seen_keys.clear()
        self._attempts.clear()
        self._status_counts.clear()
        self._rejection_counts.clear()
        self.request_count = 0
        self.delivered_count = 0
        self.duplicate_count = 0

    async def wait_for_deliveries(self, count: int, *, timeout: float = 10.0) -> list[Delivery]:
        """Wait until at least ``count`` deliveries were accepted and return the recorded ones.

        Raises TimeoutError when fewer were accepted after ``timeout`` seconds.
        """
        if self.delivered_count < count:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((count, future))
            try:
                await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"timed out after {timeout} s waiting for {count} deliveries: "
                    f"{self.delivered_count} were accepted"
                ) from None
        return list(self._deliveries)

    def respond_with(
        self,
        status: int,
        *,
        times: int | None = 1,
        retry_after: int | str | None = None,
        for_key_prefix: str | None = None,
    ) -> None:
        """Respond to the next ``times`` matching POST requests with ``status`` and record nothing.

        ``retry_after`` sets the Retry-After header, in seconds or as an HTTP date.
        ``for_key_prefix`` limits the fault to requests whose Idempotency-Key starts with
        it. None as ``times`` keeps the fault until clear_faults(). When several faults
        match a request, the one added first applies.
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"invalid HTTP status {status!r}: expected an integer from 200 to 599")
        retry_after_value = None
        if retry_after is not None:
            retry_after_value = str(retry_after)
            if not retry_after_value or any(char in retry_after_value for char in "\r\n"):
                raise ValueError(f"invalid retry_after {retry_after!r}: expected seconds or an HTTP date")
        self._status_faults.append(
            _Fault(_check_times(times), for_key_prefix, status=status, retry_after=retry_after_value)
        )

    def delay(self, seconds: float, *, times: int | None = 1, for_key_prefix: str | None = None) -> None:
        """Wait ``seconds`` before handling the next ``times`` matching POST requests.

        A delayed request is then handled as usual, and it is recorded even when the
        client has given up, as a slow consumer would. stop() ends pending delays early.
        """
        if seconds < 0:
            raise ValueError(f"invalid delay {seconds!r}: expected a non-negative number of seconds")
        self._delay_faults.append(_Fault(_check_times(times), for_key_prefix, delay_seconds=seconds))

    def clear_faults(self) -> None:
        """Remove all status and delay faults."""
        self._status_faults.clear()
        self._delay_faults.clear()

    async def _handle_request(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Serve one HTTP request. uvicorn calls this as the ASGI application."""
        if scope["type"] != "http":
            return

        method = scope["method"]
        if method != "POST":
            if method == "GET" and scope["path"] == STATS_PATH:
                await self._respond(send, 200, json.dumps(self._counters()).encode())
            else:
                await self._respond(send, 405, b'{"error":"method not allowed: use POST"}', [(b"allow", b"POST")])
            return

        key: str | None = None
        signature: bytes | None = None
        for name, value in scope["headers"]:
            if name == _IDEMPOTENCY_KEY_HEADER_NAME:
                key = value.decode("latin-1")
            elif name == _SIGNATURE_HEADER_NAME:
                signature = value
        if key is not None:
            self._attempts[key] += 1

        try:
            body = await _read_body(receive, self.max_body_bytes)
        except _ClientDisconnected:
            return
        if body is None:
            await self._reject(send, 413, self._body_too_large_reason)
            return

        if self._delay_faults:
            delay_fault = _take_fault(self._delay_faults, key)
            if delay_fault is not None:
                await self._sleep_unless_stopping(delay_fault.delay_seconds)

        if self._status_faults:
            status_fault = _take_fault(self._status_faults, key)
            if status_fault is not None:
                headers = []
                if status_fault.retry_after is not None:
                    headers.append((b"retry-after", status_fault.retry_after.encode("latin-1")))
                body_text = json.dumps({"error": f"injected status {status_fault.status}"}).encode()
                await self._respond(send, status_fault.status, body_text, headers)
                return

        secret_id, reason = self._verify_signature(signature, body)
        if secret_id is None:
            await self._reject(send, 401, reason)
            return
        if not key:
            await self._reject(send, 400, f"missing {IDEMPOTENCY_KEY_HEADER} header")
            return
        try:
            payload = json.loads(body)
        except ValueError:
            await self._reject(send, 400, "body is not valid JSON")
            return

        if key in self._seen_keys:
            self.duplicate_count += 1
            await self._respond(send, 200, _DUPLICATE_BODY)
            return
        self._record(key, payload, body, scope, secret_id)
        await self._respond(send, 200, _ACCEPTED_BODY)

    def _verify_signature(self, header: bytes | None, body: bytes) -> tuple[str | None, str]:
        """Return the id of the matching secret and "", or None and the reason for rejection."""
        if header is None:
            return None, f"missing {SIGNATURE_HEADER} header"

        timestamp: bytes | None = None
        candidates: list[bytes] = []
        for part in header.split(b","):
            name, separator, value = part.strip().partition(b"=")
            if not separator:
                continue
            if name == b"t":
                timestamp = value
            elif name == b"v1":
                candidates.append(value.lower())
        # More than 15 digits is no plausible Unix time, and int() rejects over 4300 digits.
        if timestamp is None or not timestamp.isdigit() or len(timestamp) > 15 or not candidates:
            return None, f"malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex digest>"

        if self.tolerance_seconds is not None and abs(time.time() - int(timestamp)) > self.tolerance_seconds:
            return None, f"signature timestamp is more than {self.tolerance_seconds:g} s from the receiver's clock"

        signed = timestamp + b"." + body
        for secret_id, secret in self._secrets.items():
            expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
            for candidate in candidates:
                if hmac.compare_digest(expected, candidate):
                    return secret_id, ""
        return None, "signature does not match any configured secret"

    def _record(self, key: str, payload: Any, body: bytes, scope: dict[str, Any], secret_id: str) -> None:
        self._seen_keys.add(key)
        self.delivered_count += 1
        if not self.count_only:
            headers: dict[str, str] = {}
            for name, value in scope["headers"]:
                header_name = name.decode("latin-1")
                header_value = value.decode("latin-1")
                if header_name in headers:
                    headers[header_name] = f"{headers[header_name]}, {header_value}"
                else:
                    headers[header_name] = header_value
            self._deliveries.append(
                Delivery(
                    idempotency_key=key,
                    payload=payload,
                    body=body,
                    headers=headers,
                    path=scope["path"],
                    received_at=datetime.now(UTC),
                    secret_id=secret_id,
                )
            )
        if self._waiters:
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        pending = []
        for count, future in self._waiters:
            if future.done():
                continue
            if self.delivered_count >= count:
                future.set_result(None)
            else:
                pending.append((count, future))
        self._waiters = pending

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _reject(self, send: Send, status: int, reason: str) -> None:
        self._rejection_counts[reason] += 1
        count = self._rejection_counts[reason]
        if count <= _REJECTION_LOG_FIRST or count % _REJECTION_LOG_EVERY == 0:
            logger.warning("webhook_receiver.request_rejected", status=status, reason=reason, count=count)
        await self._respond(send, status, json.dumps({"error": reason}).encode())

    async def _respond(
        self, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.request_count += 1
        self._status_counts[status] += 1
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if headers:
            response_headers.extend(headers)
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    def _counters(self) -> dict[str, Any]:
        return {
            "request_count": self.request_count,
            "delivered_count": self.delivered_count,
            "duplicate_count": self.duplicate_count,
            "status_counts": {str(status): count for status, count in sorted(self._status_counts.items())},
        }


async def _wait_until_started(server: uvicorn.Server, serve_task: asyncio.Task[None], timeout: float) -> None:
    """Wait until uvicorn listens, or raise the error that ended ``serve_task`` first.

    uvicorn sets ``Server.started`` once its listener exists and has no event to await,
    so this polls the flag.
    """
    async with asyncio.timeout(timeout):
        while not server.started:
            if serve_task.done():
                serve_task.result()
                raise RuntimeError("uvicorn stopped before it started listening")
            await asyncio.sleep(0.005)


class _ClientDisconnected(Exception):
    """The client closed the connection before it sent the whole request."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """Read the whole request body, or return None when it exceeds ``limit`` bytes.

    A body over the limit is still read to the end and discarded, so the connection can
    serve the next request. Closing a connection with unread data can make the kernel
    send a TCP reset, which the client would see in place of the 413 response.
    Raises _ClientDisconnected when the client closes the connection first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if size <= limit else None


def _take_fault(faults: list[_Fault], key: str | None) -> _Fault | None:
    """Return the first fault that matches ``key`` and count one use of it."""
    for index, fault in enumerate(faults):
        if fault.matches(key):
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    del faults[index]
            return fault
    return None


def _normalize_secrets(secrets: Mapping[str, str | bytes] | str | bytes) -> dict[str, bytes]:
    if isinstance(secrets, (str, bytes)):
        secrets = {DEFAULT_SECRET_ID: secrets}
    normalized = {}
    for secret_id, secret in secrets.items():
        secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not secret_bytes:
            raise ValueError(f"secret {secret_id!r} is empty: a webhook secret must contain at least one byte")
        normalized[secret_id] = secret_bytes
    if not normalized:
        raise ValueError("no secrets given: pass one secret or a mapping of secret id to secret")
    return normalized


def _check_times(times: int | None) -> int | None:
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"invalid times {times!r}: expected a positive integer or None")
    return times


def _require_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback IP address.

    The receiver has fault injection and a stats endpoint without authentication, so
    it must not be reachable from other machines.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid host {host!r}: expected a loopback IP address such as 127.0.0.1 or ::1") from None
    if not address.is_loopback:
        raise ValueError(f"host {host!r} is not a loopback address: bind the receiver to 127.0.0.1 or ::1")


async def _run_until_signal(receiver: WebhookReceiver, stats_interval: float) -> None:
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop_requested.set)

    await receiver.start()
    try:
        logged_request_count = 0
        while not stop_requested.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_requested.wait(), stats_interval)
            if receiver.request_count != logged_request_count:
                logged_request_count = receiver.request_count
                logger.info("webhook_receiver.stats", **receiver.stats())
    finally:
        await receiver.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the receiver as a process until SIGINT or SIGTERM and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.webhook_receiver",
        description="Run a webhook consumer on loopback that verifies signatures and records deliveries.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback IP address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8900, help="TCP port, or 0 for a free port (default: %(default)s)")
    parser.add_argument(
        "--secret-env",
        action="append",
        required=True,
        metavar="NAME",
        help="environment variable that contains an accepted secret; repeat it to accept several secrets",
    )
    parser.add_argument(
        "--tolerance-seconds",
        type=float,
        default=300.0,
        help="maximum difference in seconds between the signature timestamp and the local clock "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--count-only",
        action="store_true",
        help="keep only counters and seen keys, not request bodies, for benchmarks",
    )
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=10.0,
        help="seconds between stats log lines, which are skipped while no requests arrive (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", help="minimum log level (default: %(default)s)")
    parser.add_argument("--log-format", choices=("console", "json"), default="console", help="log output format")
    args = parser.parse_args(argv)

    secrets: dict[str, str] = {}
    for name in args.secret_env:
        value = os.environ.get(name)
        if not value:
            parser.error(f"environment variable {name} is not set or empty: set it to the webhook secret")
        secrets[name] = value
    if args.stats_interval <= 0:
        parser.error(f"invalid --stats-interval {args.stats_interval}: expected a positive number of seconds")
    try:
        receiver = WebhookReceiver(
            secrets,
            host=args.host,
            port=args.port,
            tolerance_seconds=args.tolerance_seconds,
            count_only=args.count_only,
        )
    except ValueError as exc:
        parser.error(str(exc))

    configure_logging(level=args.log_level, fmt=args.log_format)
    # uvicorn logs its own start and stop lines, which webhook_receiver.started and
    # webhook_receiver.stopped already cover. Its errors still pass through.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

    try:
        asyncio.run(_run_until_signal(receiver, args.stats_interval))
    except OSError as exc:
        logger.error("webhook_receiver.start_failed", host=args.host, port=args.port, error=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
