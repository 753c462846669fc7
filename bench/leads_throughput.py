"""Lead capture under load, through the real server holding the demo network and 1,000,000 customers,
on SQLite and PostgreSQL.

POST /api/v1/leads is driven open loop at fixed arrival rates (default 100/s and 300/s, 60 s each).
Every lead goes to one dealer and its one on-duty consultant, whose SSE stream (GET /api/v1/events)
is read in a separate process, so request → event at the consultant is measured per lead.

Sustained throughput is then found the same way for leads and for bench/bare_insert_app.py (which
inserts one row per request with no logic): fixed arrival rates stepped up by a fifth from a start
rate, each step on a fresh server, until a step does not hold, then the gap to the last one that held
is halved twice. A step holds when every request got its 201, the rate achieved (counted to the last
answer) is at least 95 % of the offered one and the p99 request latency stays under 1 s, and for
leads when every event reached the consultant with its p99 under 1 s too: a rate the server cannot
keep up with builds a backlog that fails one of these within the step. The
sustained throughput is the highest offered rate that held. Leads are answered in batches
(leads.intake_queue), so what they sustain depends on the arrival rate; the bare app answers each
request alone.

The closed-loop ceiling (16 clients, 20 s) of both is measured too and reported beside it: with at
most 16 leads in flight the batches stay small, so it shows the latency-bound figure at that
concurrency, not what the server keeps up with.

Bars: p99 request → SSE event under 250 ms at 100 leads/s (with no errors and no missing event);
sustained lead throughput at least half of the bare-insert app's sustained throughput.

    .venv/bin/python bench/leads_throughput.py [--rates 100,300] [--duration 60] \
        [--backends sqlite,postgresql] [--py-spy PATH] [--step-seconds 15] \
        [--leads-from 250] [--bare-from 500]

- Uses the databases bench/customer_search.py seeds (run it first): bench/var/customers-1000000.db
  and the schema bench_customers_1000000 of DRIVETRAIN_BENCH_DATABASE_URL (or ..._TEST_...).
- Both apps run as ``python -m uvicorn APP --factory --log-level warning``: one process, uvloop and
  httptools, as ``drivetrain serve`` (which logs at info) with its in-process worker.
- Each stage gets a fresh server, so a stage that stalls the server cannot spoil the next.
- Latency percentiles are over the 201 answers; everything else counts as an error: an HTTP status,
  ``no_answer`` (none within 30 s) or ``not_sent`` (all 512 client connections busy for 1 s).
- While it runs, lead routing is by distance alone (load weight 0) and the dealer's other
  consultants are off duty; both are restored. Its leads are closed (lost, "benchmark") and kept.

Figures go to stdout and bench/results/leads_throughput.json; server logs and the SSE receive logs
to bench/var/leads_throughput/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from customer_search import database_url, token_for
from drivetrain import migrate
from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import ContactKind, ContactPoint, Customer
from drivetrain.db import Database, open_database, unit_of_work
from drivetrain.jobs.models import OutboxMessage
from drivetrain.kit import clock
from drivetrain.kit.address import coordinates_of, parse_address
from drivetrain.kit.geo import nearest
from drivetrain.leads import assignment as lead_assignment
from drivetrain.leads import service as leads_service
from drivetrain.leads.models import Lead, Stage
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadSettingsUpdate
from drivetrain.org import directory
from drivetrain.org.models import Dealer

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "leads_throughput.json"
WORKDIR = HERE / "var" / "leads_throughput"  # server logs and the SSE receive log
CUSTOMERS = 1_000_000
BAR_P99_MS = 250.0
BAR_P99_RATE = 100
BAR_RATIO = 0.5
SSE_GRACE_SECONDS = 10.0
REQUEST_TIMEOUT = 30.0
CEILING_CLIENTS = 16
CEILING_SECONDS = 20.0
WARMUP_LEADS = 30
START_UP_SECONDS = 5.0
OUTBOX_DRAIN_SECONDS = 120.0
STEP_FACTOR = 1.2  # each sustained-throughput step offers a fifth more than the last
REFINE_STEPS = 2  # then halves the gap between the last step that held and the first that did not, twice
MAX_STEPS_DOWN = 5
HOLD_SHARE = 0.95  # a step holds with every request answered 201, this share of the offered rate achieved
HOLD_P99_MS = 1000.0  # and the p99 latency under this
MAX_CONNECTIONS = 512
IDLE_SECONDS = 3.0  # reuse a keep-alive connection only this long; the server drops idle ones at 5 s
SEND_DEADLINE = 1.0  # seconds a scheduled request may wait for a free connection before it is dropped
NO_ANSWER, NOT_SENT = 0, -1  # Reply.status when the server did not answer in time / the client never sent
STATUS_NAMES = {NO_ANSWER: "no_answer", NOT_SENT: "not_sent"}
PHONE_PREFIX = "198"  # not among the demo's mobile prefixes, so no lead lands on a seeded customer
CHANNEL = "ad"
SERIES = "锐界"
BARE_BODY = json.dumps(
    {"name": "钱多多", "phone": "19800000000", "series": SERIES}, ensure_ascii=False
).encode()
UVICORN = ["-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--log-level", "warning"]


# ---------------------------------------------------------------- a lean HTTP/1.1 client


class HttpConnection:
    """One keep-alive HTTP/1.1 connection. httpx costs about a millisecond of CPU per request, which on
    two cores would make the load generator the bottleneck of the baseline; this costs a tenth of it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reusable = True
        self.idle_since = time.monotonic()

    def fresh(self) -> bool:
        """Still open, and idle for less than the server's keep-alive (uvicorn closes idle ones at 5 s)."""
        return not self.reader.at_eof() and time.monotonic() - self.idle_since < IDLE_SECONDS

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.reusable = False
        body = await self._chunked() if chunked else await self.reader.readexactly(length)
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Reply:
    sent: float  # time.monotonic(), which is system-wide on Linux, so comparable across processes
    answered: float
    status: int  # 0: no answer (connection error or timeout)
    body: bytes


class HttpPool:
    """Keep-alive connections to one local port, opened as needed up to ``limit``."""

    def __init__(self, port: int, headers: dict[str, str], limit: int = MAX_CONNECTIONS) -> None:
        self.port = port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", **headers}.items())
        self._idle: list[HttpConnection] = []
        self._slots = asyncio.Semaphore(limit)

    def _request(self, path: str, body: bytes) -> bytes:
        start = f"POST {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
        return f"{start}Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def post(self, path: str, body: bytes, *, send_by: float | None = None) -> Reply:
        """Sends when a connection slot is free; gives up (NOT_SENT) if none is by ``send_by``."""
        try:
            wait = None if send_by is None else max(0.0, send_by - time.monotonic())
            await asyncio.wait_for(self._slots.acquire(), wait)
        except TimeoutError:
            return Reply(time.monotonic(), time.monotonic(), NOT_SENT, b"")
        try:
            return await self._exchange(path, body)
        finally:
            self._slots.release()

    def _reuse(self) -> HttpConnection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.fresh():
                return connection
            connection.close()
        return None

    async def _exchange(self, path: str, body: bytes) -> Reply:
        connection = self._reuse()
        sent = time.monotonic()
        try:
            connection = connection or await HttpConnection.open(self.port)
            status, payload = await asyncio.wait_for(
                connection.exchange(self._request(path, body)), REQUEST_TIMEOUT
            )
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
            if connection is not None:
                connection.close()
            return Reply(sent, time.monotonic(), NO_ANSWER, b"")
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return Reply(sent, time.monotonic(), status, payload)

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


# ---------------------------------------------------------------- load shapes


@dataclass(frozen=True)
class Outcome:
    scheduled: float
    reply: Reply
    lead_id: str | None


BodyMaker = Callable[[], bytes]


async def _send(
    pool: HttpPool, path: str, make_body: BodyMaker, scheduled: float, *, send_by: float | None = None
) -> Outcome:
    reply = await pool.post(path, make_body(), send_by=send_by)
    lead_id = json.loads(reply.body).get("id") if reply.status == 201 and reply.body else None
    return Outcome(scheduled, reply, lead_id)


async def open_loop(
    pool: HttpPool, path: str, make_body: BodyMaker, rate: float, seconds: float
) -> list[Outcome]:
    """Request i starts at t0 + i / rate whatever happened to the earlier ones (a fixed arrival rate);
    one that finds all MAX_CONNECTIONS busy for SEND_DEADLINE seconds is dropped (NOT_SENT)."""
    tasks = []
    start = time.monotonic() + 0.05
    for index in range(int(rate * seconds)):
        scheduled = start + index / rate
        if (delay := scheduled - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        send_by = scheduled + SEND_DEADLINE
        tasks.append(asyncio.create_task(_send(pool, path, make_body, scheduled, send_by=send_by)))
    return list(await asyncio.gather(*tasks))


async def closed_loop(
    pool: HttpPool, path: str, make_body: BodyMaker, clients: int, seconds: float
) -> list[Outcome]:
    """``clients`` senders, each sending its next request as soon as the previous one is answered."""
    deadline = time.monotonic() + seconds
    outcomes: list[Outcome] = []

    async def client() -> None:
        while (now := time.monotonic()) < deadline:
            outcomes.append(await _send(pool, path, make_body, now))

    await asyncio.gather(*(client() for _ in range(clients)))
    return outcomes


# ---------------------------------------------------------------- figures


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, int(len(ordered) * share + 0.999999) - 1))], 2)


def throughput(outcomes: list[Outcome]) -> float:
    """201s per second, from the first request due to the last one finished (answered, failed or
    dropped): a server that stalls after ten leads scores ten over the whole stage, not over a second."""
    done = sum(1 for o in outcomes if o.reply.status == 201)
    if not done:
        return 0.0
    wall = max(o.reply.answered for o in outcomes) - min(o.scheduled for o in outcomes)
    return round(done / wall, 1) if wall > 0 else 0.0


def request_figures(outcomes: list[Outcome]) -> dict[str, Any]:
    ok = [o for o in outcomes if o.reply.status == 201]
    latencies = [(o.reply.answered - o.reply.sent) * 1000 for o in ok]
    statuses: dict[str, int] = {}
    for o in outcomes:
        if o.reply.status != 201:
            name = STATUS_NAMES.get(o.reply.status, str(o.reply.status))
            statuses[name] = statuses.get(name, 0) + 1
    return {
        "requests": len(outcomes),
        "created": len(ok),
        "errors": len(outcomes) - len(ok),
        "error_statuses": statuses,
        "throughput_per_s": throughput(outcomes),
        "p50_request_ms": percentile(latencies, 0.50),
        "p99_request_ms": percentile(latencies, 0.99),
        "max_request_ms": percentile(latencies, 1.0),
    }


def sse_figures(outcomes: list[Outcome], received: dict[str, float]) -> dict[str, Any]:
    created = [o for o in outcomes if o.lead_id]
    latencies = [(received[o.lead_id] - o.reply.sent) * 1000 for o in created if o.lead_id in received]
    return {
        "p50_sse_ms": percentile(latencies, 0.50),
        "p99_sse_ms": percentile(latencies, 0.99),
        "max_sse_ms": percentile(latencies, 1.0),
        "missing_events": sum(1 for o in created if o.lead_id not in received),
    }


# ---------------------------------------------------------------- the consultant's SSE stream


def listen(base: str, token: str, out_path: str) -> None:
    """Runs in its own process: appends "lead_id<TAB>monotonic time" per lead.assigned event received,
    and "#connected" whenever the stream (re)opens. Resumes with Last-Event-ID after a break."""
    last_id: str | None = None
    with (
        open(out_path, "a", buffering=1) as out,
        httpx.Client(base_url=base, timeout=httpx.Timeout(5.0, read=None)) as client,
    ):
        while True:
            headers = {"Authorization": f"Bearer {token}", **({"Last-Event-ID": last_id} if last_id else {})}
            try:
                with client.stream("GET", "/api/v1/events", headers=headers) as response:
                    response.raise_for_status()
                    out.write("#connected\n")
                    last_id = _read_events(response.iter_lines(), out) or last_id
            except httpx.HTTPError:
                time.sleep(0.2)  # the server went away or is restarting; reconnect


def _read_events(lines: Iterator[str], out: Any) -> str | None:
    last_id, kind, data_at, data = None, "", 0.0, ""
    for line in lines:
        if line.startswith("data:"):
            data_at, data = time.monotonic(), line[5:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("id:"):
            last_id = line[3:].strip()
        elif not line and data:
            if kind == "lead.assigned":
                out.write(f"{json.loads(data)['lead_id']}\t{data_at}\n")
            kind, data = "", ""
    return last_id


def received_events(path: Path) -> dict[str, float]:
    found = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            lead_id, at = line.split("\t")
            found[lead_id] = float(at)
    return found


@contextmanager
def sse_listener(base: str, token: str, path: Path) -> Iterator[Path]:
    """The consultant's stream read in another process; yields ``path``, the file it writes."""
    path.write_text("")
    process = multiprocessing.get_context("spawn").Process(
        target=listen, args=(base, token, str(path)), daemon=True
    )
    process.start()
    try:
        _wait_for(lambda: "#connected" in path.read_text(), 30, "the SSE stream did not open")
        yield path
    finally:
        process.terminate()
        process.join(timeout=10)


def wait_for_events(path: Path, lead_ids: set[str], until: float) -> dict[str, float]:
    """Events received, waiting until every lead's arrived or ``until`` (monotonic) passed."""
    while True:
        found = received_events(path)
        if lead_ids <= found.keys() or time.monotonic() > until:
            return found
        time.sleep(0.1)


def _wait_for(ready: Callable[[], bool], seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(failure)
        time.sleep(0.1)


# ---------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def uvicorn_server(app: list[str], url: str, log: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A single uvicorn process serving ``app`` on ``url``; both apps get exactly these settings."""
    port = _free_port()
    env = {**os.environ, "DRIVETRAIN_DATABASE_URL": url}
    with open(log, "ab") as errors:
        process = subprocess.Popen(
            [sys.executable, *UVICORN, "--port", str(port), *app], env=env, stdout=errors, stderr=errors
        )
    try:
        _wait_for(
            lambda: process.poll() is None and _healthy(f"http://127.0.0.1:{port}"), 60, f"no server: {log}"
        )
        yield port, process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s (a stalled server waits for its requests to finish)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


DRIVETRAIN_APP = ["drivetrain.app:create_app"]
BARE_APP = ["--app-dir", str(HERE), "bare_insert_app:create_app"]


@contextmanager
def py_spy(binary: str | None, pid: int, out: Path, seconds: float) -> Iterator[None]:
    """Samples the process ``pid`` with py-spy (collapsed stacks, no line numbers) while the block runs."""
    if not binary:
        yield
        return
    command = [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    command += ["--format", "raw", "--nolineno", "--nonblocking", "--output", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.wait(timeout=seconds + 60)


def profile_summary(path: Path, top: int = 40) -> dict[str, Any]:
    """Share of the busy samples spent in (inclusive) each drivetrain function and in the database driver."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in set(stack.split(";")):
            if "drivetrain/" in frame or frame.startswith(PROFILE_LIBRARY_FRAMES):
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return {"samples": total, "inclusive": {frame: round(n / max(total, 1), 3) for frame, n in ranked}}


PROFILE_LIBRARY_FRAMES = ("do_execute ", "_begin_impl ", "_commit_impl ", "_connection_for_bind ", "flush ")


# ---------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class Scenario:
    """One dealer and its one on-duty consultant, who gets every lead."""

    dealer_id: str
    dealer_code: str
    address: str
    consultant: str
    off_duty: list[str]


def pick_scenario(db: Database) -> Scenario:
    """The first Hangzhou dealer that is the nearest dealer to its own district (so geography routes
    leads from there to it) and has sales consultants."""
    with db.session(write=False) as session:
        network = [d for d in directory.dealers(session).values() if d.latitude and d.longitude]
        for dealer in session.scalars(select(Dealer).where(Dealer.city == "杭州市").order_by(Dealer.code)):
            place = parse_address(dealer.address or "")
            point = coordinates_of(place.adcode) if place.adcode else None
            if point is None:
                continue
            closest = nearest(point, network, key=lambda d: (d.latitude, d.longitude), limit=1)  # type: ignore[arg-type, return-value]
            consultants = list(
                session.scalars(
                    select(User.username)
                    .where(
                        User.dealer_id == dealer.id, User.role == Role.SALES_CONSULTANT, User.active.is_(True)
                    )
                    .order_by(User.username)
                )
            )
            if closest and closest[0][0].dealer_id == dealer.id and consultants:
                return Scenario(dealer.id, dealer.code, dealer.address or "", consultants[0], consultants[1:])
    raise SystemExit("no Hangzhou dealer is the nearest one to its own district")


class Phones:
    """Fresh valid mobiles, after the highest one with our prefix already in the database."""

    def __init__(self, db: Database) -> None:
        low, high = f"+86{PHONE_PREFIX}", f"+86{int(PHONE_PREFIX) + 1}"
        with db.session(write=False) as session:
            top = session.scalar(
                select(func.max(ContactPoint.value)).where(
                    ContactPoint.kind == ContactKind.MOBILE,
                    ContactPoint.value >= low,
                    ContactPoint.value < high,
                )
            )
        self.next = int(top[len(low) :]) + 1 if top else 0

    def take(self) -> str:
        number, self.next = f"{PHONE_PREFIX}{self.next:08d}", self.next + 1
        return number


class LeadBodies:
    """Distinct phone and source_ref per request, so neither dedupe ever merges two of them."""

    def __init__(self, db: Database, scenario: Scenario, run_id: str) -> None:
        self.phones = Phones(db)
        self.scenario = scenario
        self.prefix = f"bench-{run_id}-"
        self.count = 0

    def __call__(self) -> bytes:
        self.count += 1
        body = {
            "name": "钱多多",
            "phone": self.phones.take(),
            "address": self.scenario.address,
            "series": SERIES,
            "channel": CHANNEL,
            "campaign": "bench",
            "source_ref": f"{self.prefix}{self.count}",
        }
        return json.dumps(body, ensure_ascii=False).encode()


def pending_outbox(db: Database) -> int:
    with db.session(write=False) as session:
        stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        return session.scalar(stmt) or 0


def drain_outbox(db: Database, seconds: float = OUTBOX_DRAIN_SECONDS) -> int:
    """Let the server's worker deliver what the last stage enqueued, so stages do not overlap."""
    deadline = time.monotonic() + seconds
    while (pending := pending_outbox(db)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return pending


CHURNED_TABLES = (
    "lead",
    "lead_touch",
    "lead_history",
    "customer",
    "contact_point",
    "timeline_event",
    "audit_entry",
    "event",
    "outbox_message",
    "idempotency_record",
    "dealer_lead_state",
)


def vacuum(db: Database) -> None:
    """PostgreSQL: VACUUM (ANALYZE) the tables the stages write, before each stage.

    Autovacuum is off on the PostgreSQL this runs against here. Without it, every row an earlier
    stage wrote or closed stays unvacuumed, so the open-lead counts of routing read the heap row by
    row (50 ms a batch after a few stages instead of 0.5 ms) and the planner works from no statistics:
    the figures would measure a database nobody runs in production. New rows of the stage itself are
    not vacuumed while it runs, as they would not be in production either.
    """
    if db.dialect != "postgresql":
        return
    with db.writer.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(CHURNED_TABLES)}")


def close_bench_leads(db: Database) -> int:
    """Mark the leads of every benchmark run lost, so open-lead counts (and the SLA sweeper) stay as
    they were before the run. The leads themselves stay."""
    with unit_of_work(db) as session:
        done = session.execute(
            update(Lead)
            .where(Lead.channel == CHANNEL, Lead.source_ref >= "bench-", Lead.source_ref < "bench.")
            .where(Lead.stage == Stage.NEW)
            .values(
                stage=Stage.LOST, lost_reason="benchmark", closed_at=clock.now(), first_contact_due_at=None
            )
            .execution_options(synchronize_session=False)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]


def _ops_subject(session: Session) -> AuthSubject:
    user = session.scalars(select(User).where(User.username == "ops_head")).one()
    return auth_service.subject_for(user, via="api")


def _set_routing(db: Database, scenario: Scenario, *, load_weight_km: float, others_on_duty: bool) -> float:
    """Through the lead services, as ops_head (audited); returns the load weight it replaced."""
    with unit_of_work(db) as session:
        ops = _ops_subject(session)
        previous = LeadRepository(session).settings().load_weight_km
        leads_service.update_settings(session, ops, data=LeadSettingsUpdate(load_weight_km=load_weight_km))
        lead_assignment.set_dealer_intake(session, ops, scenario.dealer_id, accepting=True, capacity=None)
        duty = [(scenario.consultant, True)] + [(name, others_on_duty) for name in scenario.off_duty]
        for username, on_duty in duty:
            user = session.scalars(select(User).where(User.username == username)).one()
            lead_assignment.set_duty(session, ops, user, on_duty=on_duty, weight=1.0)
    return previous


@contextmanager
def routed_to_one_consultant(db: Database, scenario: Scenario) -> Iterator[None]:
    """Only ``scenario.consultant`` on duty, no capacity limit, and routing by distance alone (load
    weight 0, else the growing load of this one dealer would send leads next door); restored after."""
    previous = _set_routing(db, scenario, load_weight_km=0, others_on_duty=False)
    try:
        yield
    finally:
        _set_routing(db, scenario, load_weight_km=previous, others_on_duty=True)


# ---------------------------------------------------------------- runs


LEADS_PATH = "/api/v1/leads"


@dataclass
class BackendRun:
    """One backend's database, its scenario, and the tokens and lead bodies the stages share."""

    backend: str
    url: str
    db: Database
    scenario: Scenario
    tokens: dict[str, str]
    bodies: LeadBodies
    workdir: Path
    py_spy: str | None


@dataclass(frozen=True)
class LiveServer:
    port: int
    pid: int
    events: Path


@contextmanager
def leads_server(run: BackendRun, stage: str) -> Iterator[LiveServer]:
    """A fresh server for one stage (a stage that stalls the server cannot spoil the next one), the
    consultant's SSE stream open on it, and the first leads checked to route to the scenario."""
    vacuum(run.db)
    log = run.workdir / f"{run.backend}-{stage}-server.log"
    with uvicorn_server(DRIVETRAIN_APP, run.url, log) as (port, process):
        base = f"http://127.0.0.1:{port}"
        events_path = run.workdir / f"{run.backend}-{stage}-events.tsv"
        with sse_listener(base, run.tokens["consultant"], events_path) as events:
            live = LiveServer(port, process.pid, events)
            asyncio.run(warm_up(live, run))
            time.sleep(START_UP_SECONDS)  # the server loads the complaint classifier in the background
            yield live
            left = drain_outbox(run.db)  # the worker lives in the server: let it finish the stage's messages
            if left:
                print(f"  warning: {left} outbox messages still pending", flush=True)


async def warm_up(live: LiveServer, run: BackendRun) -> None:
    """A few leads at a gentle rate: each must land with the scenario's dealer and consultant, and
    reach the consultant's stream."""
    pool = HttpPool(live.port, {"Authorization": f"Bearer {run.tokens['ops']}"})
    try:
        outcomes = await open_loop(pool, LEADS_PATH, run.bodies, rate=10, seconds=WARMUP_LEADS / 10)
    finally:
        pool.close()
    expected = (run.scenario.dealer_code, run.scenario.consultant)
    for outcome in outcomes:
        if outcome.reply.status != 201:
            raise SystemExit(f"warm-up lead failed: {outcome.reply.status} {outcome.reply.body[:300]!r}")
        lead = json.loads(outcome.reply.body)
        if (lead["dealer_code"], lead["consultant"]) != expected:
            raise SystemExit(f"lead routed to {lead['dealer_code']}/{lead['consultant']}, not {expected}")
    created = {o.lead_id for o in outcomes if o.lead_id}
    if not created <= wait_for_events(live.events, created, time.monotonic() + 10).keys():
        raise SystemExit("the consultant's SSE stream missed warm-up events")


async def _drive(live: LiveServer, token: str, load: Callable[[HttpPool], Any]) -> list[Outcome]:
    pool = HttpPool(live.port, {"Authorization": f"Bearer {token}"})
    try:
        return list(await load(pool))
    finally:
        pool.close()


def measure_rate(run: BackendRun, rate: int, seconds: float) -> dict[str, Any]:
    """Open loop at ``rate`` leads/s: request and request → SSE latencies, throughput, errors."""
    close_bench_leads(run.db)
    print(f"  leads at {rate}/s for {seconds:g} s …", flush=True)
    with leads_server(run, f"rate{rate}") as live:
        outcomes = asyncio.run(
            _drive(
                live, run.tokens["ops"], lambda pool: open_loop(pool, LEADS_PATH, run.bodies, rate, seconds)
            )
        )
        created = {o.lead_id for o in outcomes if o.lead_id}
        last = max((o.reply.answered for o in outcomes), default=time.monotonic())
        received = wait_for_events(live.events, created, until=last + SSE_GRACE_SECONDS)
        pending = pending_outbox(run.db)
    figures = {"offered_per_s": rate, "seconds": seconds, **request_figures(outcomes)}
    figures["achieved_per_s"] = figures.pop("throughput_per_s")
    lags = [(o.reply.sent - o.scheduled) * 1000 for o in outcomes if o.reply.status != NOT_SENT]
    figures["p99_send_lag_ms"] = percentile(lags, 0.99)  # how late the generator sent: must stay small
    figures.update(sse_figures(outcomes, received))
    figures["outbox_pending_at_end"] = pending
    print_rate(rate, figures)
    return figures


def measure_leads_ceiling(run: BackendRun) -> dict[str, Any]:
    """Closed loop, CEILING_CLIENTS clients: the most leads/s the server sustains (profiled if asked)."""
    close_bench_leads(run.db)
    print(f"  leads ceiling: {CEILING_CLIENTS} clients, closed loop, {CEILING_SECONDS:g} s …", flush=True)
    profile = run.workdir / f"{run.backend}-ceiling-profile.txt"
    with leads_server(run, "ceiling") as live, py_spy(run.py_spy, live.pid, profile, CEILING_SECONDS):
        outcomes = asyncio.run(
            _drive(
                live,
                run.tokens["ops"],
                lambda pool: closed_loop(pool, LEADS_PATH, run.bodies, CEILING_CLIENTS, CEILING_SECONDS),
            )
        )
    figures = {"clients": CEILING_CLIENTS, "seconds": CEILING_SECONDS, **request_figures(outcomes)}
    if run.py_spy and profile.exists():
        figures["profile"] = profile_summary(profile)
    return figures


async def drive_bare(port: int) -> dict[str, Any]:
    pool = HttpPool(port, {})
    try:
        await closed_loop(pool, "/insert", lambda: BARE_BODY, CEILING_CLIENTS, 2.0)  # warm-up
        outcomes = await closed_loop(pool, "/insert", lambda: BARE_BODY, CEILING_CLIENTS, CEILING_SECONDS)
        return {"clients": CEILING_CLIENTS, "seconds": CEILING_SECONDS, **request_figures(outcomes)}
    finally:
        pool.close()


def measure_bare(run: BackendRun) -> dict[str, Any]:
    print("  bare insert ceiling …", flush=True)
    with uvicorn_server(BARE_APP, run.url, run.workdir / f"{run.backend}-bare-server.log") as (port, _):
        return asyncio.run(drive_bare(port))


def measure_bare_rate(run: BackendRun, rate: int, seconds: float) -> dict[str, Any]:
    """Open loop at ``rate`` inserts/s on a fresh bare-insert server (warmed up like its ceiling)."""
    print(f"  bare insert at {rate}/s for {seconds:g} s …", flush=True)
    log = run.workdir / f"{run.backend}-bare-rate{rate}-server.log"
    vacuum(run.db)
    with uvicorn_server(BARE_APP, run.url, log) as (port, _):
        outcomes = asyncio.run(_drive_bare_rate(port, rate, seconds))
    figures = {"offered_per_s": rate, "seconds": seconds, **request_figures(outcomes)}
    figures["achieved_per_s"] = figures.pop("throughput_per_s")
    lags = [(o.reply.sent - o.scheduled) * 1000 for o in outcomes if o.reply.status != NOT_SENT]
    figures["p99_send_lag_ms"] = percentile(lags, 0.99)
    print_step(rate, figures)
    return figures


async def _drive_bare_rate(port: int, rate: int, seconds: float) -> list[Outcome]:
    pool = HttpPool(port, {})
    try:
        await closed_loop(pool, "/insert", lambda: BARE_BODY, CEILING_CLIENTS, 2.0)  # warm-up
        return await open_loop(pool, "/insert", lambda: BARE_BODY, rate, seconds)
    finally:
        pool.close()


def holds(step: dict[str, Any]) -> bool:
    """The server kept up with this arrival rate: every request answered 201, the achieved rate (to the
    last answer) at least HOLD_SHARE of the offered one, and the p99 latency under HOLD_P99_MS; for
    leads also every event at the consultant, its p99 under HOLD_P99_MS too. A backlog that grows
    through the step fails one of these."""
    latencies = [step["p99_request_ms"]]
    if "missing_events" in step:
        latencies.append(step["p99_sse_ms"] if step["missing_events"] == 0 else None)
    return (
        step["errors"] == 0
        and step["achieved_per_s"] >= HOLD_SHARE * step["offered_per_s"]
        and all(p99 is not None and p99 < HOLD_P99_MS for p99 in latencies)
    )


def sustained(measure: Callable[[int], dict[str, Any]], start: int) -> dict[str, Any]:
    """The highest arrival rate that holds: steps of STEP_FACTOR from ``start`` (down from it if it does
    not hold) to the first that does not, then REFINE_STEPS halvings of the gap between the highest
    rate that held and the lowest above it that did not. No rate is measured twice."""
    steps: dict[int, dict[str, Any]] = {}

    def step(rate: int) -> bool:
        if rate not in steps:
            steps[rate] = measure(rate)
        return holds(steps[rate])

    rate = start
    if step(rate):
        while step(rate := round(rate * STEP_FACTOR)):
            pass
    else:
        for _ in range(MAX_STEPS_DOWN):
            if step(rate := round(rate / STEP_FACTOR)):
                break
    held = [r for r, figures in steps.items() if holds(figures)]
    if held:
        low = max(held)
        high = min(r for r, figures in steps.items() if r > low and not holds(figures))
        for _ in range(REFINE_STEPS):
            middle = round((low + high) / 2)
            if middle in (low, high):
                break
            low, high = (middle, high) if step(middle) else (low, middle)
    best = max((r for r, figures in steps.items() if holds(figures)), default=0)
    return {
        "sustained_per_s": best,
        "step_seconds": next(iter(steps.values()))["seconds"],
        "steps": [steps[r] for r in sorted(steps)],
    }


def prepare(backend: str, args: Any, workdir: Path) -> BackendRun:
    url = database_url(backend, args.customers)
    db = open_database(url)
    migrate.upgrade(db)
    with db.session(write=False) as session:
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    if customers < args.customers:
        raise SystemExit(f"{backend}: {customers:,} customers; run bench/customer_search.py to seed")
    scenario = pick_scenario(db)
    tokens = {"ops": token_for(db, "ops_head"), "consultant": token_for(db, scenario.consultant)}
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    bodies = LeadBodies(db, scenario, f"{run_id}-{backend}")
    return BackendRun(backend, url, db, scenario, tokens, bodies, workdir, args.py_spy)


def run_backend(backend: str, args: Any, workdir: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    run = prepare(backend, args, workdir)
    print(f"{backend}: dealer {run.scenario.dealer_code}, consultant {run.scenario.consultant}", flush=True)
    try:
        with routed_to_one_consultant(run.db, run.scenario):
            rates = {str(rate): measure_rate(run, rate, args.duration) for rate in args.rates}
            ceiling = measure_leads_ceiling(run)
            print("  leads: sustained throughput …", flush=True)
            leads_sustained = sustained(
                lambda rate: measure_rate(run, rate, args.step_seconds), args.leads_from
            )
        close_bench_leads(run.db)
    finally:
        run.db.dispose()
    bare = measure_bare(run)
    print("  bare insert: sustained throughput …", flush=True)
    bare_sustained = sustained(lambda rate: measure_bare_rate(run, rate, args.step_seconds), args.bare_from)
    result = {
        "dealer": run.scenario.dealer_code,
        "consultant": run.scenario.consultant,
        "rates": rates,
        "sustained": leads_sustained,
        "bare_insert_sustained": bare_sustained,
        "ceiling": ceiling,
        "bare_insert": bare,
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    return verdicts(result)


def latency_bar(figures: dict[str, Any] | None) -> bool | None:
    """p99 request → SSE under the bar with every lead created and its event delivered; None: not run."""
    if figures is None:
        return None
    p99 = figures["p99_sse_ms"]
    return p99 is not None and p99 < BAR_P99_MS and figures["errors"] == 0 and figures["missing_events"] == 0


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    """Ratios to the bare-insert baseline (sustained to sustained: the bar; closed-loop ceiling to
    ceiling, for information) and pass/fail per bar."""
    bare = result["bare_insert_sustained"]["sustained_per_s"] or 1.0
    result["ratio_sustained"] = round(result["sustained"]["sustained_per_s"] / bare, 3)
    result["ratio_ceiling"] = round(
        result["ceiling"]["throughput_per_s"] / (result["bare_insert"]["throughput_per_s"] or 1.0), 3
    )
    result["bars"] = {
        f"p99_sse_under_{BAR_P99_MS:g}ms_at_{BAR_P99_RATE}_per_s": latency_bar(
            result["rates"].get(str(BAR_P99_RATE))
        ),
        f"sustained_ratio_at_least_{BAR_RATIO:g}": result["ratio_sustained"] >= BAR_RATIO,
    }
    return result


# ---------------------------------------------------------------- output


def _ms(value: float | None) -> str:
    return "   -   " if value is None else f"{value:7.1f}"


def print_rate(rate: int, f: dict[str, Any]) -> None:
    print(
        f"    offered {rate:4d}/s  achieved {f['achieved_per_s']:6.1f}/s "
        f"({f['created']} of {f['requests']} created)  "
        f"request p50 {_ms(f['p50_request_ms'])} p99 {_ms(f['p99_request_ms'])} ms  "
        f"→SSE p50 {_ms(f['p50_sse_ms'])} p99 {_ms(f['p99_sse_ms'])} ms  "
        f"errors {f['errors']}  missing events {f['missing_events']}  "
        f"send lag p99 {_ms(f['p99_send_lag_ms'])} ms",
        flush=True,
    )
    if f["error_statuses"]:
        print(f"        errors by kind: {f['error_statuses']}", flush=True)


def print_step(rate: int, f: dict[str, Any]) -> None:
    events = (
        f"→SSE p99 {_ms(f['p99_sse_ms'])} ms  missing events {f['missing_events']}  "
        if "missing_events" in f
        else ""
    )
    print(
        f"    offered {rate:4d}/s  achieved {f['achieved_per_s']:6.1f}/s  "
        f"request p50 {_ms(f['p50_request_ms'])} p99 {_ms(f['p99_request_ms'])} ms  {events}"
        f"errors {f['errors']}  send lag p99 {_ms(f['p99_send_lag_ms'])} ms  "
        f"{'holds' if holds(f) else 'does not hold'}",
        flush=True,
    )


def print_summary(backend: str, r: dict[str, Any]) -> None:
    print(f"{backend}:")
    for rate, figures in r["rates"].items():
        print_rate(int(rate), figures)
    for name, s in (("leads", r["sustained"]), ("bare insert", r["bare_insert_sustained"])):
        print(f"    {name} sustained {s['sustained_per_s']:7.1f}/s (steps of {s['step_seconds']:g} s):")
        for step in s["steps"]:
            print_step(step["offered_per_s"], step)
    for name, f in (("leads ceiling", r["ceiling"]), ("bare ceiling", r["bare_insert"])):
        print(
            f"    {name:14s} {f['throughput_per_s']:7.1f}/s  p50 {_ms(f['p50_request_ms'])} "
            f"p99 {_ms(f['p99_request_ms'])} ms  errors {f['errors']}  closed loop, {CEILING_CLIENTS} clients"
        )
    print(
        f"    ratio: sustained {r['ratio_sustained']:.3f} (bar ≥ {BAR_RATIO}); "
        f"closed-loop ceiling {r['ratio_ceiling']:.3f}"
    )
    for bar, passed in r["bars"].items():
        print(f"    {bar:40s} {'pass' if passed else 'FAIL' if passed is False else 'n/a'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rates", default="100,300", type=lambda s: [int(r) for r in s.split(",")])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per rate")
    parser.add_argument("--py-spy", help="a py-spy binary: sample the leads server during its ceiling run")
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="which seeded database to use")
    parser.add_argument("--step-seconds", type=float, default=15.0, help="seconds per sustained step")
    parser.add_argument("--leads-from", type=int, default=250, help="first leads/s of the sustained search")
    parser.add_argument("--bare-from", type=int, default=500, help="first inserts/s of its sustained search")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the servers and the listener
    results: dict[str, Any] = {
        "benchmark": "leads_throughput",
        "customers": args.customers,
        "bars": {"p99_sse_ms": BAR_P99_MS, "at_rate_per_s": BAR_P99_RATE, "throughput_ratio": BAR_RATIO},
        "machine": f"{os.cpu_count()} cores",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backends": {},
    }
    backends = args.backends.split(",")
    for backend in backends:
        database_url(backend, args.customers)  # fail now, not after an hour, when a URL is missing
    WORKDIR.mkdir(parents=True, exist_ok=True)
    for old in WORKDIR.iterdir():
        old.unlink()
    RESULTS.parent.mkdir(exist_ok=True)
    for backend in backends:
        results["backends"][backend] = run_backend(backend, args, WORKDIR)
        RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")  # after each backend
    for backend, result in results["backends"].items():
        print_summary(backend, result)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
