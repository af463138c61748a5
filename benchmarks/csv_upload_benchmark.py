"""Measure the API's memory and time while it checks and saves a large recipient CSV.

The benchmark starts everything it measures on this machine:

- a fresh Postgres database, on the embedded server in var/bench-postgres or on the
  server at DATABASE_URL,
- a Temporal dev server on a free loopback port (the API connects to it on start),
- the API as a separate process (``python -m campaign_api`` on 127.0.0.1).

It inserts a team with a manager, N member users and a draft campaign. It writes a
CSV file with one row per user (email, time zone and four variable columns) and
uploads it twice through HTTP, once with ``dry_run=true`` (the preview) and once to
save it. A thread samples the API process's resident set size with psutil while
each upload runs.

Run it from the repository root::

    .venv/bin/python benchmarks/csv_upload_benchmark.py --rows 100000

The checks are: both uploads respond 200 with N valid rows and no row error, the
saved list holds N rows, and the API's peak RSS stays under the limit (200 MiB by
default). The exit status is 0 when every check passed, 1 when one failed, 2 on a
failed step or a timeout, and 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The script runs as a file, so Python puts benchmarks/ on sys.path and not the
# repository root. Adding the root also works when the project is not installed.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from campaign_api.auth.tokens import generate_token, hash_token  # noqa: E402
from shared.db.migrations import apply_migrations  # noqa: E402
from shared.db.server import start_embedded_server, with_database  # noqa: E402
from shared.temporal import SEARCH_ATTRIBUTES, temporal_cli_path  # noqa: E402

EMBEDDED_DATA_DIR = PROJECT_ROOT / "var" / "bench-postgres"
LOG_ROOT = PROJECT_ROOT / "var" / "bench-logs"
MAX_ROWS = 1_000_000
MIB = 1024 * 1024
RSS_SAMPLE_INTERVAL_SECONDS = 0.02
API_START_TIMEOUT_SECONDS = 60.0
API_STOP_TIMEOUT_SECONDS = 20.0
# Zones written to the timezone column in turn; an empty cell keeps the profile zone.
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "", "Australia/Sydney", "UTC"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class BenchmarkError(Exception):
    """A benchmark step failed; the message names the step and what to check."""


@dataclass(frozen=True)
class Options:
    rows: int
    limit_mib: float
    timeout_seconds: float
    keep_database: bool


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/csv_upload_benchmark.py",
        description=(
            "Upload a generated recipient CSV to the API running as its own process on 127.0.0.1, "
            "first as a dry run and then to save it, and print the API's peak memory and the time of each upload."
        ),
    )
    parser.add_argument("--rows", type=int, default=100_000, metavar="COUNT", help="data rows in the CSV (default: %(default)s)")
    parser.add_argument(
        "--limit-mib",
        type=float,
        default=200.0,
        metavar="MIB",
        help="peak RSS of the API process above which the benchmark fails, in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="seconds after which the whole benchmark, setup included, stops and cleans up (default: %(default)s)",
    )
    parser.add_argument("--keep-database", action="store_true", help="keep the benchmark's database after the run")
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= MAX_ROWS:
        parser.error(f"invalid --rows {args.rows}: expected 1 to {MAX_ROWS}")
    if args.limit_mib <= 0 or args.timeout <= 0:
        parser.error("--limit-mib and --timeout must be positive numbers")
    return Options(rows=args.rows, limit_mib=args.limit_mib, timeout_seconds=args.timeout, keep_database=args.keep_database)


class RssSampler:
    """Sample a process's resident set size on a thread and keep the peak since the last reset."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._lock = threading.Lock()
        self.peak_bytes = 0
        self.samples = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        with self._lock:
            self.peak_bytes = 0
            self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                return
            with self._lock:
                self.samples += 1
                self.peak_bytes = max(self.peak_bytes, rss)
            self._stop.wait(RSS_SAMPLE_INTERVAL_SECONDS)


def high_water_mark_bytes(pid: int) -> int | None:
    """Return the kernel's peak RSS of the process since it started (VmHWM, Linux only)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def stdout_to(path: Path) -> Iterator[None]:
    """Send file descriptor 1 to ``path`` while the Temporal dev server starts; it prints a banner."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with path.open("ab") as target:
            os.dup2(target.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class Fixture:
    token: str
    campaign_id: uuid.UUID


async def create_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(admin_dsn, name)
    connection = await asyncpg.connect(dsn)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    return dsn


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=30)
    finally:
        await admin.close()


def user_email(number: int, team_id: uuid.UUID) -> str:
    return f"employee{number}-{team_id.hex[:8]}@example.com"


async def insert_fixture(dsn: str, rows: int) -> tuple[Fixture, uuid.UUID]:
    """Insert a team, its manager with a token, ``rows`` member users (COPY) and a draft campaign."""
    team_id, manager_id, campaign_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    token = generate_token()
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO teams (id, name, webhook_secret) VALUES ($1, 'CSV benchmark', 'csv-benchmark-secret')", team_id
            )
            await connection.execute(
                "INSERT INTO users (id, email, first_name) VALUES ($1, $2, 'Manager')", manager_id, f"manager-{team_id.hex[:8]}@example.com"
            )
            await connection.execute(
                "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, 'manager')", team_id, manager_id
            )
            await connection.execute(
                "INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, 'benchmark', $3)",
                uuid.uuid4(),
                manager_id,
                hash_token(token),
            )
            users = [(uuid.uuid4(), user_email(n, team_id), f"First{n}", f"Last{n}") for n in range(1, rows + 1)]
            await connection.copy_records_to_table("users", records=users, columns=["id", "email", "first_name", "last_name"])
            await connection.copy_records_to_table(
                "team_memberships", records=[(team_id, u[0], "member") for u in users], columns=["team_id", "user_id", "role"]
            )
            await connection.execute(
                """
                INSERT INTO campaigns (id, team_id, kind, name, channel, subject_template, body_template, schedule,
                                       target_user_ids, status, created_by)
                VALUES ($1, $2, 'one_time', 'CSV benchmark', 'email', 'Hello {{ first_name }}', 'Hi {{ full_name }}',
                        '{"type": "immediate"}'::jsonb, ARRAY[$3::uuid], 'draft', $3)
                """,
                campaign_id,
                team_id,
                manager_id,
            )
    finally:
        await connection.close()
    return Fixture(token=token, campaign_id=campaign_id), team_id


def write_csv(path: Path, rows: int, team_id: uuid.UUID) -> int:
    """Write the CSV, one row per member user, and return its size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("Email,Timezone,Department,Office Location,Employee Number,Manager Name\r\n")
        for n in range(1, rows + 1):
            zone = ZONES[n % len(ZONES)]
            file.write(f'{user_email(n, team_id)},{zone},Department {n % 40},"Building {n % 7}, floor {n % 12}",E{n:07d},Manager {n % 500}\r\n')
    return path.stat().st_size


class ApiProcess:
    """``python -m campaign_api`` as a child process, with its log in a file."""

    def __init__(self, *, environment: dict[str, str], port: int, log_path: Path) -> None:
        self._environment = environment
        self.port = port
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "campaign_api", "--host", "127.0.0.1", "--port", str(self.port),
                env=self._environment, stdin=asyncio.subprocess.DEVNULL, stdout=log_file,
                stderr=asyncio.subprocess.STDOUT, cwd=PROJECT_ROOT,
            )

    async def wait_until_healthy(self, client: httpx.AsyncClient) -> None:
        assert self.process is not None
        deadline = time.monotonic() + API_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise BenchmarkError(f"the API exited with status {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
        raise BenchmarkError(f"the API did not respond on /healthz within {API_START_TIMEOUT_SECONDS:g} s; see {self.log_path}")

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), API_STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@dataclass(frozen=True)
class UploadFigures:
    seconds: float
    peak_rss_bytes: int
    samples: int
    body: dict


async def timed_upload(
    client: httpx.AsyncClient, sampler: RssSampler, fixture: Fixture, csv_path: Path, *, dry_run: bool
) -> UploadFigures:
    sampler.reset()
    started = time.monotonic()
    with csv_path.open("rb") as file:
        response = await client.post(
            f"/v1/campaigns/{fixture.campaign_id}/recipients/csv",
            params={"dry_run": "true" if dry_run else "false"},
            files={"file": (csv_path.name, file, "text/csv")},
            headers={"Authorization": f"Bearer {fixture.token}"},
        )
    seconds = time.monotonic() - started
    if response.status_code != 200:
        raise BenchmarkError(f"the upload (dry_run={dry_run}) failed with HTTP {response.status_code}: {response.text[:500]}")
    return UploadFigures(seconds=seconds, peak_rss_bytes=sampler.peak_bytes, samples=sampler.samples, body=response.json())


async def run(options: Options) -> int:
    admin_dsn = os.environ.get("DATABASE_URL") or start_embedded_server(EMBEDDED_DATA_DIR)
    database = f"csv_benchmark_{uuid.uuid4().hex[:12]}"
    log_dir = LOG_ROOT / database
    log_dir.mkdir(parents=True, exist_ok=True)
    dsn = await create_database(admin_dsn, database)
    api: ApiProcess | None = None
    sampler: RssSampler | None = None
    environment_handle: WorkflowEnvironment | None = None
    try:
        fixture, team_id = await insert_fixture(dsn, options.rows)
        with tempfile.TemporaryDirectory(prefix="csv-benchmark-") as folder:
            csv_path = Path(folder) / "recipients.csv"
            file_bytes = write_csv(csv_path, options.rows, team_id)
            with stdout_to(log_dir / "temporal.log"):
                environment_handle = await WorkflowEnvironment.start_local(
                    dev_server_existing_path=temporal_cli_path(),
                    search_attributes=SEARCH_ATTRIBUTES,
                    dev_server_log_level="error",
                )
            temporal_address = environment_handle.client.service_client.config.target_host
            port = free_port()
            environment = dict(
                os.environ,
                DATABASE_URL=dsn,
                TEMPORAL_ADDRESS=temporal_address,
                TASK_QUEUE=f"csv-benchmark-{uuid.uuid4().hex[:12]}",
                LOG_FORMAT="json",
                LOG_LEVEL="INFO",
            )
            api = ApiProcess(environment=environment, port=port, log_path=log_dir / "api.log")
            await api.start()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=options.timeout_seconds) as client:
                await api.wait_until_healthy(client)
                assert api.process is not None
                idle_rss = psutil.Process(api.process.pid).memory_info().rss
                sampler = RssSampler(api.process.pid)
                sampler.start()
                preview = await timed_upload(client, sampler, fixture, csv_path, dry_run=True)
                saved = await timed_upload(client, sampler, fixture, csv_path, dry_run=False)
                high_water = high_water_mark_bytes(api.process.pid)
        saved_rows = await count_saved_rows(dsn, fixture.campaign_id)
    finally:
        if sampler is not None:
            sampler.stop()
        if api is not None:
            await api.stop()
        if environment_handle is not None:
            await environment_handle.shutdown()
        if not options.keep_database:
            await drop_database(admin_dsn, database)

    print_figures(options, file_bytes, idle_rss, preview, saved, high_water)
    return check(options, preview, saved, saved_rows, high_water)


async def count_saved_rows(dsn: str, campaign_id: uuid.UUID) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval("SELECT count(*) FROM campaign_csv_recipients WHERE campaign_id = $1", campaign_id)
    finally:
        await connection.close()


def print_figures(
    options: Options, file_bytes: int, idle_rss: int, preview: UploadFigures, saved: UploadFigures, high_water: int | None
) -> None:
    print(f"rows: {options.rows:,}   file: {file_bytes / MIB:.1f} MiB   API RSS before the uploads: {idle_rss / MIB:.1f} MiB")
    print(f"{'upload':<10} {'time':>8} {'rows/s':>9} {'peak RSS':>10} {'samples':>8}")
    for label, figures in (("dry run", preview), ("save", saved)):
        rate = options.rows / figures.seconds if figures.seconds else 0.0
        print(
            f"{label:<10} {figures.seconds:>7.2f}s {rate:>9,.0f} {figures.peak_rss_bytes / MIB:>7.1f} MiB {figures.samples:>8}"
        )
    if high_water is not None:
        print(f"API peak RSS since its start (VmHWM): {high_water / MIB:.1f} MiB")


def check(options: Options, preview: UploadFigures, saved: UploadFigures, saved_rows: int, high_water: int | None) -> int:
    limit = options.limit_mib * MIB
    peak = max(preview.peak_rss_bytes, saved.peak_rss_bytes, high_water or 0)
    checks = {
        "dry run found every row valid": preview.body["valid_row_count"] == options.rows and not preview.body["errors"],
        "dry run saved nothing": preview.body["saved"] is False,
        "save found every row valid": saved.body["valid_row_count"] == options.rows and not saved.body["errors"],
        "the saved list holds every row": saved_rows == options.rows,
        f"API peak RSS under {options.limit_mib:g} MiB": peak < limit,
    }
    for name, passed in checks.items():
        print(f"{'ok' if passed else 'FAILED'}: {name}")
    return EXIT_OK if all(checks.values()) else EXIT_CHECK_FAILED


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        return asyncio.run(asyncio.wait_for(run(options), options.timeout_seconds))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TimeoutError:
        print(f"the benchmark did not finish within {options.timeout_seconds:g} s", file=sys.stderr)
        return EXIT_ERROR
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
