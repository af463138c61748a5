"""Measure one webhook campaign sent to N generated recipients, end to end.

The benchmark starts everything it measures on this machine:

- a fresh Postgres database, on the embedded server in var/bench-postgres or on the
  server at DATABASE_URL,
- a Temporal dev server on a free loopback port,
- a webhook receiver on 127.0.0.1, in this process,
- the delivery worker, as a separate process.

It creates a team and N users whose webhook address is the receiver. Through the
HTTP API, served in-process by an ASGI client, it creates a campaign that targets a
group of those users and runs it. It then waits for the run's final status and
prints the figures as a table.

Run it from the repository root::

    .venv/bin/python benchmarks/send_benchmark.py --recipients 10000

The checks are: the run is sent, N rows are delivered, none is left pending or
sending, and the receiver accepted N requests with 0 duplicates. The exit status is
0 when every check passed and 1 when one failed. It is 2 on a timeout or a failed
step, and 130 on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The script runs as a file, so Python puts benchmarks/ on sys.path, not the
# repository root. devtools/ is not an installed package and needs the root.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
import pydantic  # noqa: E402
import structlog  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from campaign_api.auth.tokens import generate_token, hash_token  # noqa: E402
from campaign_api.main import create_app  # noqa: E402
from devtools.webhook_receiver import WebhookReceiver  # noqa: E402
from shared.db.migrations import apply_migrations  # noqa: E402
from shared.db.pool import create_pool  # noqa: E402
from shared.db.server import start_embedded_server, with_database  # noqa: E402
from shared.logs import configure_logging  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.temporal import SEARCH_ATTRIBUTES, temporal_cli_path  # noqa: E402
from workflows.campaign_run import DELIVER_BATCH  # noqa: E402

log = structlog.get_logger("benchmarks.send_benchmark")

EMBEDDED_DATA_DIR = PROJECT_ROOT / "var" / "bench-postgres"
LOG_ROOT = PROJECT_ROOT / "var" / "bench-logs"
WEBHOOK_SECRET = "send-benchmark-webhook-secret"
# Bounds the generated users. Larger runs also need a larger --timeout.
MAX_RECIPIENTS = 1_000_000

RSS_SAMPLE_INTERVAL_SECONDS = 0.1
WORKER_START_TIMEOUT_SECONDS = 60.0
WORKER_STOP_TIMEOUT_SECONDS = 20.0
# A continue-as-new chain longer than this is reported as a failure instead of
# being walked further.
MAX_WORKFLOW_RUNS = 1_000

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class BenchmarkError(Exception):
    """A benchmark step failed. The message names the step and what to check."""


@dataclass(frozen=True)
class Options:
    recipients: int
    settings: Settings
    """Delivery settings of the worker process and the API's task queue."""
    timeout_seconds: float
    keep_database: bool


# ---------------------------------------------------------------------------
# Command line


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/send_benchmark.py",
        description=(
            "Send one webhook campaign to N generated recipients on local Postgres, a Temporal dev "
            "server and a webhook receiver on 127.0.0.1, then print throughput, workflow history "
            "length and the worker's peak memory. Settings that are not given here are read from "
            "the environment as the worker reads them (DELIVERY_*, DATABASE_POOL_MAX_SIZE, ...)."
        ),
    )
    parser.add_argument(
        "--recipients",
        type=int,
        default=10_000,
        metavar="COUNT",
        help="number of generated recipients, each a team member with a webhook address (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="RECIPIENTS",
        help="recipients per deliver_batch activity; sets DELIVERY_BATCH_SIZE for the worker (default: the environment, else 500)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="REQUESTS",
        help="webhook requests in flight per batch activity; sets DELIVERY_CONCURRENCY (default: the environment, else 50)",
    )
    # NOTE: the CampaignRun workflow runs at most MAX_PARALLEL_BATCHES (4) batch
    # activities at once, whatever this setting is. The worker only sizes its
    # activity slots from it, so the history figure "max deliver_batch activities
    # in flight" shows what a run really did.
    parser.add_argument(
        "--parallel-batches",
        type=int,
        metavar="BATCHES",
        help=(
            "batch activities per worker process; sets DELIVERY_PARALLEL_BATCHES, from which the worker "
            "sizes its activity slots (default: the environment, else 4)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="seconds after which the whole benchmark, setup included, stops and cleans up (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="keep the benchmark's database after the run, to inspect its delivery rows",
    )
    args = parser.parse_args(argv)

    if not 1 <= args.recipients <= MAX_RECIPIENTS:
        parser.error(f"invalid --recipients {args.recipients}: expected 1 to {MAX_RECIPIENTS}")
    if args.timeout <= 0:
        parser.error(f"invalid --timeout {args.timeout}: expected a positive number of seconds")

    overrides: dict[str, Any] = {"task_queue": f"send-benchmark-{uuid.uuid4().hex[:12]}"}
    if args.batch_size is not None:
        overrides["delivery_batch_size"] = args.batch_size
    if args.concurrency is not None:
        overrides["delivery_concurrency"] = args.concurrency
    if args.parallel_batches is not None:
        overrides["delivery_parallel_batches"] = args.parallel_batches
    try:
        settings = Settings(**overrides)
    except pydantic.ValidationError as error:
        # Field names upper-cased are the environment variable names, as Settings reads them.
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors())
        parser.error(f"invalid delivery settings from the options or the environment: {problems}")

    return Options(
        recipients=args.recipients,
        settings=settings,
        timeout_seconds=args.timeout,
        keep_database=args.keep_database,
    )


# ---------------------------------------------------------------------------
# Processes and resources the benchmark starts


async def create_benchmark_database(admin_dsn: str, name: str) -> str:
    """Create an empty database, apply the migrations and return its DSN."""
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


async def drop_benchmark_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', timeout=30)
    finally:
        await admin.close()


class WorkerProcess:
    """``python -m delivery_worker`` as a child process, with its log in a file."""

    def __init__(self, *, environment: dict[str, str], log_path: Path) -> None:
        self._environment = environment
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "delivery_worker",
                env=self._environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    async def wait_until_polling(self, timeout: float) -> None:
        """Wait for the worker's ``worker.started`` log line, logged once it polls the task queue."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise BenchmarkError(
                    f"the delivery worker exited with status {self.process.returncode} before it started; "
                    f"see its log in {self.log_path}:\n{self.log_tail()}"
                )
            if b'"worker.started"' in self.log_path.read_bytes():
                return
            await asyncio.sleep(0.1)
        raise BenchmarkError(
            f"the delivery worker did not start within {timeout:g} s; see its log in {self.log_path}:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """Send SIGTERM, which the worker handles as a graceful stop, and kill it after a timeout."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), WORKER_STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("worker.kill_after_timeout", pid=process.pid, timeout_seconds=WORKER_STOP_TIMEOUT_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class RssSampler:
    """Sample a process's resident set size on a thread and keep the peak."""

    def __init__(self, pid: int, interval: float = RSS_SAMPLE_INTERVAL_SECONDS) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_bytes = 0
        self.samples = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                return
            self.samples += 1
            self.peak_bytes = max(self.peak_bytes, rss)
            if self._stop.wait(self._interval):
                return


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds (user + system) of the processes the benchmark watches, and of the machine."""

    at: float
    worker: float
    benchmark: float
    temporal: float
    machine_busy: float
    machine_total: float

    @classmethod
    def take(cls, worker: psutil.Process, temporal: psutil.Process | None) -> CpuSnapshot:
        machine = psutil.cpu_times()
        idle = machine.idle + getattr(machine, "iowait", 0.0)
        total = sum(machine)
        return cls(
            at=time.monotonic(),
            worker=_cpu_seconds(worker),
            benchmark=_cpu_seconds(psutil.Process()),
            temporal=_cpu_seconds(temporal) if temporal is not None else 0.0,
            machine_busy=total - idle,
            machine_total=total,
        )


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


@contextlib.contextmanager
def stdout_redirected_to(path: Path) -> Iterator[None]:
    """Point file descriptor 1 at ``path`` while child processes are spawned.

    The Temporal dev server prints a start banner on the stdout it inherits, which
    would otherwise land in the middle of the benchmark's table.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with path.open("ab") as target:
            os.dup2(target.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def find_temporal_server() -> psutil.Process | None:
    """Return the ``temporal`` dev server process that this process started, if found."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name() == "temporal":
                return child
    return None


# ---------------------------------------------------------------------------
# Test data


@dataclass
class Audience:
    team_id: uuid.UUID
    token: str
    """API token of the team's manager."""
    group_id: uuid.UUID
    """Group whose members are the N recipients."""


async def create_audience(dsn: str, *, recipients: int, webhook_url: str) -> Audience:
    """Insert a team with a manager and a token, and N members in one group, with COPY.

    The connection has no JSON codec, so the jsonb ``addresses`` values are passed as
    JSON text, which asyncpg's binary COPY accepts.
    """
    team_id = uuid.uuid4()
    manager_id = uuid.uuid4()
    group_id = uuid.uuid4()
    token = generate_token()
    addresses = json.dumps({"webhook": webhook_url})
    user_ids = [uuid.uuid4() for _ in range(recipients)]
    users = [
        (user_id, f"recipient{number}-{team_id.hex[:8]}@example.com", f"First{number}", f"Last{number}", addresses)
        for number, user_id in enumerate(user_ids, start=1)
    ]

    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO teams (id, name, default_timezone, webhook_secret) VALUES ($1, $2, 'UTC', $3)",
                team_id,
                "Send benchmark",
                WEBHOOK_SECRET,
            )
            await connection.execute(
                "INSERT INTO users (id, email, first_name, last_name) VALUES ($1, $2, 'Bench', 'Manager')",
                manager_id,
                f"manager-{team_id.hex[:8]}@example.com",
            )
            await connection.execute(
                "INSERT INTO team_memberships (team_id, user_id, role) VALUES ($1, $2, 'manager')", team_id, manager_id
            )
            await connection.execute(
                "INSERT INTO api_tokens (id, user_id, name, token_hash) VALUES ($1, $2, 'send benchmark', $3)",
                uuid.uuid4(),
                manager_id,
                hash_token(token),
            )
            await connection.copy_records_to_table(
                "users", records=users, columns=["id", "email", "first_name", "last_name", "addresses"]
            )
            await connection.copy_records_to_table(
                "team_memberships",
                records=[(team_id, user_id, "member") for user_id in user_ids],
                columns=["team_id", "user_id", "role"],
            )
            await connection.execute(
                "INSERT INTO groups (id, team_id, name) VALUES ($1, $2, 'Benchmark recipients')", group_id, team_id
            )
            await connection.copy_records_to_table(
                "group_members", records=[(group_id, user_id) for user_id in user_ids], columns=["group_id", "user_id"]
            )
        await connection.execute("ANALYZE users; ANALYZE team_memberships; ANALYZE group_members")
    finally:
        await connection.close()
    return Audience(team_id=team_id, token=token, group_id=group_id)


# ---------------------------------------------------------------------------
# Figures


@dataclass
class HistoryFigures:
    runs: int = 0
    """Workflow runs of the run's workflow id: 1 plus the number of continue-as-new."""
    max_events: int = 0
    total_events: int = 0
    max_batches_in_flight: int = 0
    """Maximum number of deliver_batch activities scheduled and not yet closed at one time, in any run."""
    complete: bool = True
    """False when the continue-as-new chain was longer than MAX_WORKFLOW_RUNS."""


async def measure_history(client: Client, workflow_id: str) -> HistoryFigures:
    """Count the history events of every run of ``workflow_id``, following continue-as-new.

    The chain starts at the first run id that the server reports for the latest run.
    """
    latest = await client.get_workflow_handle(workflow_id).describe()
    run_id = latest.raw_info.first_run_id or latest.run_id
    figures = HistoryFigures()
    for _ in range(MAX_WORKFLOW_RUNS):
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events = [event async for event in handle.fetch_history_events()]
        figures.runs += 1
        figures.total_events += len(events)
        figures.max_events = max(figures.max_events, len(events))
        figures.max_batches_in_flight = max(figures.max_batches_in_flight, _max_batches_in_flight(events))
        if not events or not events[-1].HasField("workflow_execution_continued_as_new_event_attributes"):
            return figures
        run_id = events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    figures.complete = False
    return figures


_ACTIVITY_CLOSED_ATTRIBUTES = (
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
    "activity_task_canceled_event_attributes",
)


def _max_batches_in_flight(events: list[Any]) -> int:
    in_flight: set[int] = set()
    peak = 0
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind == "activity_task_scheduled_event_attributes":
            if event.activity_task_scheduled_event_attributes.activity_type.name == DELIVER_BATCH:
                in_flight.add(event.event_id)
                peak = max(peak, len(in_flight))
        elif kind in _ACTIVITY_CLOSED_ATTRIBUTES:
            in_flight.discard(getattr(event, kind).scheduled_event_id)
    return peak


@dataclass
class RunFigures:
    """Figures of the run row and its delivery rows, read from Postgres."""

    status: str
    finished_at: datetime | None
    batch_count: int
    counted: dict[str, int]
    """Per-status counts kept on the run row by triggers."""
    rows: dict[str, int]
    """Per-status counts of the delivery rows themselves."""
    first_claimed_at: datetime | None
    """When the first deliver_batch activity claimed its first rows, after prepare_run."""
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    max_attempts: int
    rows_with_retries: int


async def read_run_figures(pool: asyncpg.Pool, campaign_id: str) -> RunFigures:
    async with pool.acquire() as connection:
        run = await connection.fetchrow(
            """
            SELECT id, status, finished_at, batch_count, pending_count, sending_count,
                   delivered_count, failed_count, skipped_count
            FROM campaign_runs WHERE campaign_id = $1 AND run_number = 1
            """,
            uuid.UUID(campaign_id),
        )
        if run is None:
            raise BenchmarkError(f"campaign {campaign_id} has no run 1 in the database")
        per_status = await connection.fetch(
            "SELECT status, count(*) AS n FROM deliveries WHERE run_id = $1 GROUP BY status", run["id"]
        )
        sent = await connection.fetchrow(
            """
            SELECT min(claimed_at) AS first_claimed_at,
                   min(sent_at) FILTER (WHERE status = 'delivered') AS first_sent_at,
                   max(sent_at) FILTER (WHERE status = 'delivered') AS last_sent_at,
                   coalesce(max(attempts), 0) AS max_attempts,
                   count(*) FILTER (WHERE attempts > 1) AS rows_with_retries
            FROM deliveries WHERE run_id = $1
            """,
            run["id"],
        )
    statuses = ("pending", "sending", "delivered", "failed", "skipped")
    return RunFigures(
        status=run["status"],
        finished_at=run["finished_at"],
        batch_count=run["batch_count"],
        counted={status: run[f"{status}_count"] for status in statuses},
        rows={status: 0 for status in statuses} | {r["status"]: r["n"] for r in per_status},
        first_claimed_at=sent["first_claimed_at"],
        first_sent_at=sent["first_sent_at"],
        last_sent_at=sent["last_sent_at"],
        max_attempts=sent["max_attempts"],
        rows_with_retries=sent["rows_with_retries"],
    )


@dataclass
class Report:
    options: Options
    run_started_at: datetime
    run: RunFigures
    history: HistoryFigures
    receiver: dict[str, Any]
    worker_rss_ready_bytes: int
    worker_rss_peak_bytes: int
    rss_samples: int
    cpu_start: CpuSnapshot
    cpu_end: CpuSnapshot
    load_average_before: float
    """1-minute load average just before the start request; other work on the machine raises it."""
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


def evaluate_checks(report: Report) -> None:
    n = report.options.recipients
    run, receiver = report.run, report.receiver
    report.checks = [
        ("run status is sent", run.status == "sent", run.status),
        ("delivered rows == N", run.rows["delivered"] == n, f"{run.rows['delivered']} of {n}"),
        (
            "no row pending or sending",
            run.rows["pending"] == 0 and run.rows["sending"] == 0,
            f"pending {run.rows['pending']}, sending {run.rows['sending']}",
        ),
        (
            "run counters match rows",
            run.counted == run.rows,
            "match" if run.counted == run.rows else f"counters {run.counted}, rows {run.rows}",
        ),
        ("receiver accepted == N", receiver["delivered_count"] == n, f"{receiver['delivered_count']} of {n}"),
        ("receiver duplicates == 0", receiver["duplicate_count"] == 0, str(receiver["duplicate_count"])),
        ("history chain read fully", report.history.complete, f"{report.history.runs} run(s) read"),
    ]


def _rate(count: int, seconds: float | None) -> str:
    if seconds is None or seconds <= 0:
        return "n/a"
    return f"{count / seconds:,.0f} recipients/s"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def format_report(report: Report) -> str:
    settings = report.options.settings
    run = report.run
    n = report.options.recipients

    total_seconds = (run.finished_at - report.run_started_at).total_seconds() if run.finished_at else None
    first_claim_seconds = None
    if run.first_claimed_at is not None:
        first_claim_seconds = (run.first_claimed_at - report.run_started_at).total_seconds()
    delivery_seconds = None
    if run.first_sent_at is not None and run.last_sent_at is not None:
        delivery_seconds = (run.last_sent_at - run.first_sent_at).total_seconds()

    cpu_start, cpu_end = report.cpu_start, report.cpu_end
    wall = cpu_end.at - cpu_start.at
    machine_total = cpu_end.machine_total - cpu_start.machine_total
    machine_busy = cpu_end.machine_busy - cpu_start.machine_busy
    cores = psutil.cpu_count() or 1
    mebibyte = 1024 * 1024

    rows: list[tuple[str, str]] = [
        ("recipients (N)", f"{n:,}"),
        ("batch size / concurrency / parallel batches", f"{settings.delivery_batch_size} / {settings.delivery_concurrency} / {settings.delivery_parallel_batches}"),
        ("batches", str(run.batch_count)),
        ("", ""),
        ("run: start request to final status", _seconds(total_seconds)),
        ("run throughput", _rate(n, total_seconds)),
        ("start request to first claimed row (prepare)", _seconds(first_claim_seconds)),
        ("delivery phase: first to last sent_at", _seconds(delivery_seconds)),
        ("delivery phase throughput", _rate(run.rows["delivered"], delivery_seconds)),
        ("", ""),
        ("workflow runs (1 + continue-as-new)", str(report.history.runs)),
        ("largest workflow history", f"{report.history.max_events:,} events"),
        ("history events, all runs", f"{report.history.total_events:,}"),
        ("max deliver_batch activities in flight", str(report.history.max_batches_in_flight)),
        ("", ""),
        ("worker RSS when polling started", f"{report.worker_rss_ready_bytes / mebibyte:,.1f} MiB"),
        ("worker peak RSS", f"{report.worker_rss_peak_bytes / mebibyte:,.1f} MiB ({report.rss_samples} samples)"),
        ("worker CPU during the run", f"{cpu_end.worker - cpu_start.worker:.1f} s"),
        ("benchmark process CPU (receiver, API, client)", f"{cpu_end.benchmark - cpu_start.benchmark:.1f} s"),
        ("Temporal dev server CPU during the run", f"{cpu_end.temporal - cpu_start.temporal:.1f} s"),
        (
            "machine CPU busy during the run",
            f"{100 * machine_busy / machine_total:.0f} % of {cores} cores over {wall:.1f} s" if machine_total > 0 else "n/a",
        ),
        ("machine load average (1 min) before the run", f"{report.load_average_before:.2f}"),
        ("", ""),
        ("deliveries: delivered / failed / skipped", f"{run.rows['delivered']:,} / {run.rows['failed']:,} / {run.rows['skipped']:,}"),
        ("deliveries: pending / sending", f"{run.rows['pending']:,} / {run.rows['sending']:,}"),
        ("rows claimed more than once (attempts > 1)", f"{run.rows_with_retries:,} (max attempts {run.max_attempts})"),
        ("receiver: accepted / duplicate requests", f"{report.receiver['delivered_count']:,} / {report.receiver['duplicate_count']:,}"),
        ("receiver: responses by status", json.dumps(report.receiver["status_counts"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" if name else "" for name, value in rows]
    lines.append("")
    for name, passed, detail in report.checks:
        lines.append(f"{'PASS' if passed else 'FAIL'}  {name:<{width - 6}}  {detail}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The run


async def run_benchmark(options: Options) -> int:
    started = datetime.now(UTC)
    database_name = f"send_benchmark_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    log_dir = LOG_ROOT / database_name
    context = BenchmarkContext(options=options, database_name=database_name, log_dir=log_dir)

    async with contextlib.AsyncExitStack() as stack:
        try:
            async with asyncio.timeout(options.timeout_seconds):
                report = await context.run(stack)
        except TimeoutError:
            print(
                f"error: the benchmark timed out after {options.timeout_seconds:g} s; "
                f"{await context.describe_progress()}; worker log: {context.worker_log_path()}",
                file=sys.stderr,
            )
            return EXIT_ERROR
        except BenchmarkError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_ERROR

    print(format_report(report))
    if options.keep_database:
        print(f"\nkept database {database_name}")
    return EXIT_OK if all(passed for _, passed, _ in report.checks) else EXIT_CHECK_FAILED


@dataclass
class BenchmarkContext:
    """State of one benchmark run, kept so that a timeout can still report progress."""

    options: Options
    database_name: str
    log_dir: Path
    pool: asyncpg.Pool | None = None
    receiver: WebhookReceiver | None = None
    campaign_id: str | None = None
    worker: WorkerProcess | None = None

    def worker_log_path(self) -> Path:
        return self.log_dir / "worker.log"

    async def run(self, stack: contextlib.AsyncExitStack) -> Report:
        options = self.options

        # NOTE: only the embedded server has been measured so far. A server at
        # DATABASE_URL needs a role that may create and drop databases.
        admin_dsn = os.environ.get("DATABASE_URL") or await asyncio.to_thread(start_embedded_server, EMBEDDED_DATA_DIR)
        database_url = await create_benchmark_database(admin_dsn, self.database_name)
        if not options.keep_database:
            stack.push_async_callback(drop_benchmark_database, admin_dsn, self.database_name)

        self.log_dir.mkdir(parents=True, exist_ok=True)
        with stdout_redirected_to(self.log_dir / "temporal.log"):
            temporal = await WorkflowEnvironment.start_local(
                ip="127.0.0.1",
                dev_server_existing_path=temporal_cli_path(),
                search_attributes=SEARCH_ATTRIBUTES,
                dev_server_log_level="error",
            )
        stack.push_async_callback(temporal.shutdown)
        temporal_address = temporal.client.service_client.config.target_host

        self.receiver = WebhookReceiver(WEBHOOK_SECRET, host="127.0.0.1", count_only=True)
        await self.receiver.start()
        stack.push_async_callback(self.receiver.stop)

        self.pool = await create_pool(database_url, min_size=1, max_size=4)
        stack.push_async_callback(self.pool.close)

        audience = await create_audience(database_url, recipients=options.recipients, webhook_url=self.receiver.url)

        settings = options.settings.model_copy(update={"database_url": database_url, "temporal_address": temporal_address})
        self.worker = WorkerProcess(environment=worker_environment(settings), log_path=self.worker_log_path())
        await self.worker.start()
        stack.push_async_callback(self.worker.stop)
        assert self.worker.process is not None
        worker_pid = self.worker.process.pid
        sampler = RssSampler(worker_pid)
        sampler.start()
        stack.callback(sampler.stop)
        await self.worker.wait_until_polling(WORKER_START_TIMEOUT_SECONDS)
        worker_rss_ready = psutil.Process(worker_pid).memory_info().rss

        app = create_app(settings=settings, pool=self.pool, temporal_client=temporal.client)
        await stack.enter_async_context(app.router.lifespan_context(app))
        api = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.benchmark")
        )
        headers = {"Authorization": f"Bearer {audience.token}"}
        self.campaign_id = await create_campaign(api, headers, audience)

        temporal_process = find_temporal_server()
        load_average_before = os.getloadavg()[0]
        cpu_start = CpuSnapshot.take(psutil.Process(worker_pid), temporal_process)
        run_started_at = datetime.now(UTC)
        response = await api.post(f"/v1/campaigns/{self.campaign_id}/run", headers=headers)
        if response.status_code != 202:
            raise BenchmarkError(f"POST /v1/campaigns/{self.campaign_id}/run returned {response.status_code}: {response.text}")
        workflow_id = response.json()["run"]["workflow_id"]

        # result() follows continue-as-new runs to the last one; finish_run has
        # written the final status to Postgres before the workflow returns.
        await temporal.client.get_workflow_handle(workflow_id).result()
        cpu_end = CpuSnapshot.take(psutil.Process(worker_pid), temporal_process)
        sampler.stop()

        detail = await api.get(f"/v1/campaigns/{self.campaign_id}", headers=headers)
        if detail.status_code != 200:
            raise BenchmarkError(f"GET /v1/campaigns/{self.campaign_id} returned {detail.status_code}: {detail.text}")

        report = Report(
            options=options,
            run_started_at=run_started_at,
            run=await read_run_figures(self.pool, self.campaign_id),
            history=await measure_history(temporal.client, workflow_id),
            receiver=self.receiver.stats(),
            worker_rss_ready_bytes=worker_rss_ready,
            worker_rss_peak_bytes=sampler.peak_bytes,
            rss_samples=sampler.samples,
            cpu_start=cpu_start,
            cpu_end=cpu_end,
            load_average_before=load_average_before,
        )
        evaluate_checks(report)
        return report

    async def describe_progress(self) -> str:
        """Return the run's delivery counts so far, for the timeout message."""
        parts = []
        if self.receiver is not None:
            parts.append(f"receiver accepted {self.receiver.delivered_count} requests")
        if self.pool is not None and self.campaign_id is not None:
            try:
                figures = await asyncio.wait_for(read_run_figures(self.pool, self.campaign_id), 10)
                parts.append(f"run status {figures.status}, delivery rows {figures.rows}")
            except (BenchmarkError, asyncpg.PostgresError, OSError, TimeoutError) as error:
                parts.append(f"delivery rows unknown ({error})")
        return "; ".join(parts) or "setup had not finished"


def worker_environment(settings: Settings) -> dict[str, str]:
    """Return the worker's environment: this process's, with the benchmark's settings on top."""
    environment = dict(os.environ)
    environment.update(
        {
            "DATABASE_URL": settings.database_url or "",
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "TASK_QUEUE": settings.task_queue,
            "DELIVERY_BATCH_SIZE": str(settings.delivery_batch_size),
            "DELIVERY_CONCURRENCY": str(settings.delivery_concurrency),
            "DELIVERY_PARALLEL_BATCHES": str(settings.delivery_parallel_batches),
            # wait_until_polling() looks for the worker.started line, which is logged at INFO.
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        }
    )
    return environment


async def create_campaign(api: httpx.AsyncClient, headers: dict[str, str], audience: Audience) -> str:
    body = {
        "name": "Send benchmark",
        "channel": "webhook",
        "template": {
            "subject": "Hello {{ first_name }}",
            "body": "Hi {{ first_name }} {{ last_name }}, this message measures delivery throughput.",
        },
        "targets": {"group_ids": [str(audience.group_id)]},
    }
    response = await api.post(f"/v1/teams/{audience.team_id}/campaigns", json=body, headers=headers)
    if response.status_code != 201:
        raise BenchmarkError(f"POST /v1/teams/{audience.team_id}/campaigns returned {response.status_code}: {response.text}")
    return response.json()["id"]


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    configure_logging(level=os.environ.get("BENCHMARK_LOG_LEVEL", "WARNING"))

    async def run_until_signal() -> int:
        # SIGTERM cancels the run like Ctrl-C does, so the cleanup steps still run.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_benchmark(options)

    try:
        return asyncio.run(run_until_signal())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: stopped the processes that the benchmark started", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
