"""SmtpSink tests with aiosmtplib as the client, over loopback TCP."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from devtools.smtp_sink import SmtpSink

REPO_ROOT = Path(__file__).resolve().parents[2]
SENDER = "campaigns@example.test"


@pytest.fixture
async def sink(tmp_path: Path):
    async with SmtpSink(mail_dir=tmp_path / "mail") as running_sink:
        yield running_sink


def make_message(subject: str, to: str, body: str = "Hello from the campaign.") -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


async def send(sink: SmtpSink, message: EmailMessage, recipients: list[str]) -> tuple[dict[str, Any], str]:
    return await aiosmtplib.send(
        message,
        hostname=sink.host,
        port=sink.port,
        sender=SENDER,
        recipients=recipients,
        timeout=10,
    )


def stored_files(sink: SmtpSink) -> list[Path]:
    assert sink.mail_dir is not None
    return sorted(sink.mail_dir.glob("*.eml"))


async def test_port_reports_bound_port(sink: SmtpSink) -> None:
    assert sink.port != 0


async def test_message_kept_in_memory(sink: SmtpSink) -> None:
    message = make_message("Quarterly update", "ana@example.test", "Body text 1234")

    errors, _ = await send(sink, message, ["ana@example.test", "bcc@example.test"])

    assert errors == {}
    assert len(sink.messages) == 1
    received = sink.messages[0]
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("ana@example.test", "bcc@example.test")
    assert received.message["Subject"] == "Quarterly update"
    assert received.message.get_content().strip() == "Body text 1234"
    assert received.received_at.tzinfo is not None


async def test_message_written_as_eml_file(sink: SmtpSink) -> None:
    message = make_message("Quarterly update", "ana@example.test", "Body text 1234")

    await send(sink, message, ["ana@example.test", "bcc@example.test"])

    files = stored_files(sink)
    assert len(files) == 1
    assert sink.messages[0].path == files[0]
    parsed = BytesParser(policy=default_policy).parsebytes(files[0].read_bytes())
    assert parsed["Subject"] == "Quarterly update"
    assert parsed.get_content().strip() == "Body text 1234"
    assert parsed["Return-Path"] == f"<{SENDER}>"
    assert "<ana@example.test>" in parsed["X-Envelope-To"]
    assert "<bcc@example.test>" in parsed["X-Envelope-To"]
    assert "by smtp-sink.localhost" in parsed["Received"]
    # No temporary file is left behind.
    assert [path.name for path in files[0].parent.iterdir()] == [files[0].name]


async def test_null_sender_stored_as_empty(sink: SmtpSink) -> None:
    await aiosmtplib.send(
        make_message("Bounce", "ana@example.test"),
        hostname=sink.host,
        port=sink.port,
        sender="",
        recipients=["ana@example.test"],
        timeout=10,
    )

    assert sink.messages[0].mail_from == ""
    parsed = BytesParser(policy=default_policy).parsebytes(stored_files(sink)[0].read_bytes())
    assert parsed["Return-Path"] == "<>"


async def test_file_names_sort_by_arrival(sink: SmtpSink) -> None:
    for index in range(5):
        await send(sink, make_message(f"message {index}", "ana@example.test"), ["ana@example.test"])

    files = stored_files(sink)
    assert len(files) == 5
    assert len({path.name for path in files}) == 5
    subjects = [BytesParser(policy=default_policy).parsebytes(path.read_bytes())["Subject"] for path in files]
    assert subjects == [f"message {index}" for index in range(5)]


async def test_messages_to_filters_by_recipient(sink: SmtpSink) -> None:
    await send(sink, make_message("for ana", "ana@example.test"), ["ana@example.test"])
    await send(sink, make_message("for ben", "ben@example.test"), ["ben@example.test"])
    await send(sink, make_message("for both", "ana@example.test"), ["ana@example.test", "ben@example.test"])

    to_ben = sink.messages_to("Ben@Example.test")

    assert [received.message["Subject"] for received in to_ben] == ["for ben", "for both"]
    assert sink.messages_to("nobody@example.test") == []


async def test_clear_keeps_files(sink: SmtpSink) -> None:
    await send(sink, make_message("kept on disk", "ana@example.test"), ["ana@example.test"])

    sink.clear()

    assert sink.messages == []
    assert len(stored_files(sink)) == 1


async def test_sink_without_mail_dir_keeps_memory_only() -> None:
    async with SmtpSink() as memory_sink:
        await send(memory_sink, make_message("memory only", "ana@example.test"), ["ana@example.test"])

        assert len(memory_sink.messages) == 1
        assert memory_sink.messages[0].path is None


async def test_fail_recipient_permanent(sink: SmtpSink) -> None:
    sink.fail_recipient("gone@example.test", 550, "5.1.1 mailbox unavailable")

    errors, _ = await send(sink, make_message("mixed", "ana@example.test"), ["ana@example.test", "gone@example.test"])

    assert errors["gone@example.test"].code == 550
    assert "mailbox unavailable" in errors["gone@example.test"].message
    assert "ana@example.test" not in errors
    assert len(sink.messages) == 1
    assert sink.messages[0].rcpt_tos == ("ana@example.test",)


async def test_fail_recipient_without_times_persists(sink: SmtpSink) -> None:
    sink.fail_recipient("gone@example.test", 550, "5.1.1 mailbox unavailable")

    for _ in range(3):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(sink, make_message("retry", "gone@example.test"), ["gone@example.test"])
        assert refused.value.recipients[0].code == 550

    assert sink.messages == []


async def test_fail_recipient_transient_then_recovers(sink: SmtpSink) -> None:
    sink.fail_recipient("busy@example.test", 451, "4.2.1 try again later", times=2)

    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(sink, make_message("retry", "busy@example.test"), ["busy@example.test"])
        assert refused.value.recipients[0].code == 451
        assert "try again later" in refused.value.recipients[0].message
    errors, _ = await send(sink, make_message("retry", "busy@example.test"), ["busy@example.test"])

    assert errors == {}
    assert len(sink.messages_to("busy@example.test")) == 1


async def test_fail_recipient_ignores_case(sink: SmtpSink) -> None:
    sink.fail_recipient("Gone@Example.test", 550, "5.1.1 mailbox unavailable")

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send(sink, make_message("case", "gone@example.test"), ["gone@example.test"])


async def test_fail_next_data_then_recovers(sink: SmtpSink) -> None:
    sink.fail_next_data(554, "5.6.0 message content rejected")

    with pytest.raises(aiosmtplib.SMTPDataError) as rejected:
        await send(sink, make_message("first", "ana@example.test"), ["ana@example.test"])
    assert rejected.value.code == 554
    assert "content rejected" in rejected.value.message
    assert sink.messages == []
    assert stored_files(sink) == []

    await send(sink, make_message("second", "ana@example.test"), ["ana@example.test"])

    assert [received.message["Subject"] for received in sink.messages] == ["second"]


async def test_fail_next_data_times(sink: SmtpSink) -> None:
    sink.fail_next_data(451, "4.3.0 temporary local problem", times=2)

    codes = []
    for _ in range(3):
        try:
            await send(sink, make_message("retry", "ana@example.test"), ["ana@example.test"])
            codes.append(250)
        except aiosmtplib.SMTPDataError as exc:
            codes.append(exc.code)

    assert codes == [451, 451, 250]
    assert len(sink.messages) == 1


async def test_clear_faults_restores_acceptance(sink: SmtpSink) -> None:
    sink.fail_recipient("gone@example.test", 550, "5.1.1 mailbox unavailable")
    sink.fail_next_data(554, "5.6.0 rejected", times=None)

    sink.clear_faults()
    errors, _ = await send(sink, make_message("after clear", "gone@example.test"), ["gone@example.test"])

    assert errors == {}
    assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [(250, "OK"), (600, "too high"), (550, ""), (550, "two\r\nlines")],
)
def test_fault_reply_validated(code: int, message: str) -> None:
    sink = SmtpSink()

    with pytest.raises(ValueError):
        sink.fail_recipient("ana@example.test", code, message)
    with pytest.raises(ValueError):
        sink.fail_next_data(code, message)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "localhost", "::"])
def test_non_loopback_host_rejected(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SmtpSink(host=host)


async def test_wait_for_messages_until_count(sink: SmtpSink) -> None:
    waiter = asyncio.create_task(sink.wait_for_messages(2, timeout=10))
    await send(sink, make_message("one", "ana@example.test"), ["ana@example.test"])
    await asyncio.sleep(0)
    assert not waiter.done()

    await send(sink, make_message("two", "ana@example.test"), ["ana@example.test"])
    messages = await asyncio.wait_for(waiter, 10)

    assert len(messages) == 2


async def test_wait_for_messages_times_out(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="waiting for 1 messages"):
        await sink.wait_for_messages(1, timeout=0.1)


async def test_stop_closes_open_connections(tmp_path: Path) -> None:
    sink = SmtpSink(mail_dir=tmp_path)
    await sink.start()
    client = aiosmtplib.SMTP(hostname=sink.host, port=sink.port, timeout=10)
    await client.connect()

    await sink.stop()

    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()


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


async def test_process_stores_mail_until_sigterm(tmp_path: Path) -> None:
    mail_dir = tmp_path / "process-mail"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devtools.smtp_sink",
        "--port",
        "0",
        "--mail-dir",
        str(mail_dir),
        "--log-format",
        "json",
        cwd=REPO_ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    log_lines: list[str] = []
    try:
        started = await read_log_event(process.stderr, "smtp_sink.started", log_lines)
        assert started["host"] == "127.0.0.1"
        assert started["port"] > 0
        assert started["mail_dir"] == str(mail_dir)

        secret_body = "secret body text 98765"
        await aiosmtplib.send(
            make_message("from the process test", "ana@example.test", secret_body),
            hostname="127.0.0.1",
            port=started["port"],
            sender=SENDER,
            recipients=["ana@example.test", "ben@example.test"],
            timeout=10,
        )
        stored = await read_log_event(process.stderr, "smtp_sink.message_stored", log_lines)

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            remaining = await process.stderr.read()
            return_code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log_lines.append(remaining.decode())
    assert return_code == 0
    assert stored["recipient_count"] == 2
    assert (mail_dir / stored["file"]).is_file()
    assert secret_body in (mail_dir / stored["file"]).read_text()
    assert secret_body not in "".join(log_lines)
    assert "smtp_sink.stopped" in log_lines[-1]
