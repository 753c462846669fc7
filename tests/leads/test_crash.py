"""Crash safety of lead capture: ``kill -9`` the server during a burst of leads, restart it, and
every lead that was answered 201 exists and was routed exactly once; re-sending what got no
answer (same ``source_ref``) never makes a second lead.

A real ``drivetrain serve`` in a subprocess on a fresh database holding the test world, on SQLite
and (when DRIVETRAIN_TEST_DATABASE_URL is set) on PostgreSQL.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from drivetrain import migrate
from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.subject import SYSTEM
from drivetrain.db import open_database, unit_of_work
from drivetrain.leads.models import Lead, LeadHistory
from tests.conftest import PG_URL, create_pg_schema, drop_pg_schema
from tests.live import free_port, wait_until_up
from tests.world import PASSWORD, build_world

THREADS = 8
LEADS_PER_THREAD = 25
TOTAL = THREADS * LEADS_PER_THREAD
KILL_AFTER = TOTAL // 2
REF_PREFIX = "crash-"
REQUEST_TIMEOUT = 10.0
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class Target:
    """A migrated database holding the world, and an integration token for it."""

    url: str
    token: str
    workdir: Path


@dataclass
class Burst:
    """What each request of the burst got: the lead id of a 201, or nothing."""

    answered: dict[str, str] = field(default_factory=dict)  # source_ref -> lead id
    unanswered: set[str] = field(default_factory=set)
    other: dict[str, int] = field(default_factory=dict)  # source_ref -> unexpected status
    lock: threading.Lock = field(default_factory=threading.Lock)
    half_answered: threading.Event = field(default_factory=threading.Event)

    def record(self, source_ref: str, answer: httpx.Response | None) -> None:
        with self.lock:
            if answer is None:
                self.unanswered.add(source_ref)
            elif answer.status_code == 201:
                self.answered[source_ref] = answer.json()["id"]
                if len(self.answered) >= KILL_AFTER:
                    self.half_answered.set()
            else:
                self.other[source_ref] = answer.status_code


def _start_server(target: Target, log_name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "DRIVETRAIN_DATABASE_URL": target.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "drivetrain.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(target.workdir / log_name, "wb"),  # noqa: SIM115 - the child holds it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, within=STARTUP_SECONDS)
    except RuntimeError:
        process.kill()
        process.wait(timeout=10)
        raise
    return process, base


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@functools.cache
def _world_password_hash() -> str:
    return auth_service.hash_password(PASSWORD)


def _integration_token(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Builds the world (its one password hashed once, not per user: argon2 is slow on purpose) and
    returns a fresh token of the integration user."""
    db = open_database(url)
    try:
        migrate.upgrade(db)
        hashed = _world_password_hash()
        with monkeypatch.context() as patched, unit_of_work(db) as session:
            patched.setattr(auth_service, "hash_password", lambda _password: hashed)
            build_world(session)
        with unit_of_work(db) as session:
            user = session.scalars(select(User).where(User.username == "integration")).one()
            plain, _ = auth_service.create_token(session, SYSTEM, user=user, name="crash-test")
        return plain
    finally:
        db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    schema = None
    with tempfile.TemporaryDirectory(prefix="drivetrain-crash-") as tmp:
        if request.param == "postgresql":
            if not PG_URL:
                pytest.skip("PostgreSQL: set DRIVETRAIN_TEST_DATABASE_URL to run these tests on it too")
            schema, url = create_pg_schema(PG_URL)
        else:
            url = f"sqlite:///{tmp}/crash.db"
        try:
            yield Target(url=url, token=_integration_token(url, monkeypatch), workdir=Path(tmp))
        finally:
            if schema and PG_URL:
                drop_pg_schema(PG_URL, schema)


def _lead_body(index: int) -> dict[str, Any]:
    return {
        "name": "赵敏",
        "phone": f"1391000{index:04d}",
        "address": f"浙江省杭州市滨江区江南大道{index + 1}号",
        "series": "锐界",
        "channel": "ad",
        "campaign": "crash-test",
        "source_ref": f"{REF_PREFIX}{index:04d}",
    }


def _client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT)


def _send(client: httpx.Client, index: int) -> httpx.Response | None:
    """The server's answer, or None when the connection broke before one came."""
    try:
        return client.post("/api/v1/leads", json=_lead_body(index))
    except httpx.TransportError:
        return None


def _sender(base: str, token: str, indexes: range, burst: Burst) -> None:
    with _client(base, token) as client:
        for index in indexes:
            burst.record(_lead_body(index)["source_ref"], _send(client, index))


def _burst_and_kill(base: str, token: str, process: subprocess.Popen[bytes]) -> Burst:
    """Fire the burst from several threads; SIGKILL the server once half of it was answered."""
    burst = Burst()
    threads = [
        threading.Thread(
            target=_sender,
            args=(base, token, range(t * LEADS_PER_THREAD, (t + 1) * LEADS_PER_THREAD), burst),
        )
        for t in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    half = burst.half_answered.wait(timeout=30)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT * LEADS_PER_THREAD)
    assert half, f"only {len(burst.answered)} leads answered before the deadline"
    assert not any(thread.is_alive() for thread in threads), "a sender hung"
    return burst


def _assert_routed_once(client: httpx.Client, lead_id: str) -> None:
    answer = client.get(f"/api/v1/leads/{lead_id}")
    assert answer.status_code == 200, answer.text
    lead = answer.json()
    assert lead["dealer_code"] == "A1" and lead["consultant"] in {"sc_a1", "sc_a1b"}, lead
    assigned = [entry for entry in lead["history"] if entry["kind"] == "assigned"]
    assert len(assigned) == 1, lead["history"]


def _leads_per_source_ref(url: str) -> dict[str, tuple[int, int]]:
    """source_ref -> (leads with it, "assigned" history entries of those leads), read in the database."""
    db = open_database(url)
    try:
        with db.session(write=False) as session:
            assigned = (
                select(func.count())
                .where(LeadHistory.lead_id == Lead.id, LeadHistory.kind == "assigned")
                .scalar_subquery()
            )
            rows = session.execute(
                select(Lead.source_ref, func.count(), func.sum(assigned))
                .where(Lead.source_ref.like(f"{REF_PREFIX}%"))
                .group_by(Lead.source_ref)
            ).all()
        return {ref: (int(n), int(routed or 0)) for ref, n, routed in rows}
    finally:
        db.dispose()


def _resend_all(client: httpx.Client, pool: ThreadPoolExecutor, refs: set[str]) -> dict[str, str | None]:
    """source_ref -> the lead id a 201 to its re-sent request carries (None for any other answer)."""
    ordered = sorted(refs)
    answers = pool.map(lambda ref: _send(client, int(ref.removeprefix(REF_PREFIX))), ordered)
    return {
        ref: a.json()["id"] if a is not None and a.status_code == 201 else None
        for ref, a in zip(ordered, answers, strict=True)
    }


def test_kill_9_during_a_burst_loses_no_answered_lead_and_duplicates_none(target: Target) -> None:
    process, base = _start_server(target, "server-1.log")
    try:
        burst = _burst_and_kill(base, target.token, process)
    finally:
        _stop(process)
    assert not burst.other, f"unexpected statuses: {burst.other}"
    assert len(burst.answered) + len(burst.unanswered) == TOTAL
    assert burst.unanswered, "the server died after the burst, not during it"

    process, base = _start_server(target, "server-2.log")
    try:
        with _client(base, target.token) as client, ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda lead_id: _assert_routed_once(client, lead_id), burst.answered.values()))
            resent = _resend_all(client, pool, burst.unanswered)
            again = _resend_all(client, pool, set(burst.answered))
    finally:
        _stop(process)

    assert None not in resent.values(), resent
    assert again == burst.answered, "a repeated source_ref must return the lead first created for it"
    counts = _leads_per_source_ref(target.url)
    assert len(counts) == TOTAL
    assert {ref: c for ref, c in counts.items() if c != (1, 1)} == {}, "a source_ref with ≠ 1 lead or route"
