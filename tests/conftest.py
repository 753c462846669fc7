"""Test databases (SQLite always, PostgreSQL when DRIVETRAIN_TEST_DATABASE_URL is set), one transaction
per test rolled back at the end, the shared world, API clients per role, and the clock."""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from _pytest.nodeid import coerce_node_id
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, insert, select, text, tuple_, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import drivetrain.models  # noqa: F401 - registers every table, for table_rows
from drivetrain import app as app_module
from drivetrain import migrate
from drivetrain.app import create_app
from drivetrain.auth import service as auth_service
from drivetrain.auth.deps import SESSION_COOKIE
from drivetrain.db import Base, Database, open_database, unit_of_work, use_database
from drivetrain.jobs.worker import Sweeper, Worker
from drivetrain.kit import clock
from drivetrain.org import directory
from tests.world import World, build_world, load_world

# Tests drive the worker themselves; an app started inside a test must not run one on the test's connection.
os.environ["DRIVETRAIN_RUN_WORKER"] = "false"
PG_URL = os.environ.get("DRIVETRAIN_TEST_DATABASE_URL")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` honour ``xdist_group`` marks. pytest-xdist 3.8 groups tests by appending
    "@group" to ``item._nodeid``, which pytest 9 no longer reads (the id lives in ``item._id``), so every
    group was spread over the workers; this appends it where pytest reads it (on the workers only)."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        group = "_".join(
            sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        )
        if group and not item.nodeid.endswith(f"@{group}"):
            item._id = coerce_node_id(f"{item.nodeid}@{group}")


def pg_schema_url(base: str, schema: str) -> str:
    """A URL whose connections live in their own schema, so test runs never see each other."""
    return (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def create_pg_schema(base: str) -> tuple[str, str]:
    schema = f"dt_test_{uuid.uuid4().hex[:10]}"
    admin = open_database(base)
    with admin.writer.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, pg_schema_url(base, schema)


def drop_pg_schema(base: str, schema: str) -> None:
    admin = open_database(base)
    with admin.writer.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def world_database(backend: str, *, prefix: str) -> Iterator[str]:
    """A fresh migrated database holding the world, with real commits; yields its URL, then removes it."""
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    schema = None
    try:
        if backend == "postgresql":
            if not PG_URL:
                pytest.skip("PostgreSQL: set DRIVETRAIN_TEST_DATABASE_URL to run these tests on it too")
            schema, url = create_pg_schema(PG_URL)
        else:
            url = f"sqlite:///{tmp.name}/world.db"
        db = open_database(url)
        migrate.upgrade(db)
        with unit_of_work(db) as session:
            build_world(session)
        db.dispose()
        yield url
    finally:
        if schema and PG_URL:
            drop_pg_schema(PG_URL, schema)
        tmp.cleanup()


Rows = dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]


def table_rows(db: Database) -> Rows:
    """Every row of every table, by primary key."""
    with db.session(write=False) as session:
        return {
            table.name: {_key(table, row): tuple(row) for row in session.execute(select(table))}
            for table in Base.metadata.sorted_tables
        }


def _key(table: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[column] for column in table.primary_key.columns)


def _values(table: Table, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(table.columns.keys(), row, strict=True))


def restore_rows(db: Database, before: Rows) -> None:
    """Put every table back as ``before`` had it: rows the test deleted come back, rows it changed get
    their values back, rows it added go (children first, so foreign keys hold throughout)."""
    after = table_rows(db)
    tables = Base.metadata.sorted_tables
    with unit_of_work(db) as session:
        for table in tables:
            gone = [row for key, row in before[table.name].items() if key not in after[table.name]]
            if gone:
                session.execute(insert(table), [_values(table, row) for row in gone])
        for table in tables:
            keys = table.primary_key.columns
            for key, row in before[table.name].items():
                if after[table.name].get(key, row) != row:
                    match = tuple_(*keys) == key
                    session.execute(update(table).where(match).values(_values(table, row)))
        for table in reversed(tables):
            added = [key for key in after[table.name] if key not in before[table.name]]
            if added:
                session.execute(table.delete().where(tuple_(*table.primary_key.columns).in_(added)))
    assert table_rows(db) == before, "a table is not as it was"


class CommittedWorld(NamedTuple):
    db: Database
    rows: Rows


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed_world(request: pytest.FixtureRequest) -> Iterator[CommittedWorld]:
    """A database holding the world with real commits, built once per module and backend."""
    with world_database(request.param, prefix="drivetrain-module-") as url:
        db = open_database(url)
        yield CommittedWorld(db, table_rows(db))
        db.dispose()


@pytest.fixture
def restored_db(committed_world: CommittedWorld) -> Iterator[Database]:
    """Like ``committed_db`` (real commits, workers at the same time), but on the module's database: what
    the test committed is undone after it, in a fraction of the seconds a freshly migrated world costs."""
    db = committed_world.db
    use_database(db)
    directory.invalidate()
    try:
        yield db
    finally:
        use_database(None)
        directory.invalidate()
        restore_rows(db, committed_world.rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A database of its own with real commits, for workers running at the same time."""
    with world_database(request.param, prefix="drivetrain-workers-") as url:
        db = open_database(url)
        use_database(db)
        directory.invalidate()
        yield db
        use_database(None)
        directory.invalidate()
        db.dispose()


def run_workers_at_once(db: Database, sweeper: Sweeper, *, workers: int = 2) -> list[int]:
    """``workers`` workers sweeping until idle, all at the same time; how many rows each acted on."""
    acted: list[int] = []

    def work(worker_id: str) -> None:
        acted.append(Worker(db=db, worker_id=worker_id, sweepers=[sweeper]).run_until_idle())

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return acted


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated database holding the world, committed once per backend."""
    with world_database(request.param, prefix="drivetrain-test-") as url:
        db = open_database(url)
        yield db
        db.dispose()


@pytest.fixture
def db(backend: Database) -> Iterator[Database]:
    """The backend with every session of this test pinned to one connection, rolled back after the test."""
    connection = backend.writer.connect()
    outer = connection.begin()
    pinned = Database(backend.url, backend.reader, backend.writer, pinned=connection)
    use_database(pinned)
    try:
        yield pinned
    finally:
        use_database(None)
        outer.rollback()
        connection.close()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session(write=True) as session:
        yield session


@pytest.fixture
def world(session: Session) -> World:
    """The world's objects, loaded in this test's session."""
    return load_world(session)


def built_app() -> FastAPI:
    """The application, built once per session: building it takes a good part of a second (every router,
    every response model), and it keeps no state of a test's (cookies and headers live in each TestClient,
    the database is the process-wide one each test pins). A test that swaps ``create_app`` gets its own."""
    if create_app is not app_module.create_app:
        return create_app()
    return _the_app()


@functools.cache
def _the_app() -> FastAPI:
    return create_app()


@pytest.fixture
def app(db: Database) -> TestClient:
    return TestClient(built_app())


@pytest.fixture
def client_for(db: Database, world: World, session: Session):  # type: ignore[no-untyped-def]
    """``client_for("sc_a1")``: an API client holding a fresh token of that staff member."""

    def make(username: str) -> TestClient:
        plain, _ = auth_service.create_token(
            session, world.subject("hq_admin"), user=world.users[username], name="t"
        )
        session.commit()
        client = TestClient(built_app())
        client.headers["Authorization"] = f"Bearer {plain}"
        return client

    return make


@pytest.fixture
def frozen_clock() -> Iterator[datetime]:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    yield start
    clock.unfreeze()


class Console:
    """A signed-in browser: the session cookie plus the page's CSRF token."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, str], *, csrf: bool = True, htmx: bool = False) -> Any:
        form = data | ({"csrf_token": self.csrf} if csrf else {})
        return self.client.post(path, data=form, headers={"HX-Request": "true"} if htmx else {})


@pytest.fixture
def console(app: TestClient, session: Session, world: World):  # type: ignore[no-untyped-def]
    def sign_in(username: str) -> Console:
        cookie, stored = auth_service.open_console_session(session, world.users[username])
        session.commit()
        client = TestClient(app.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, cookie)
        return Console(client, stored.csrf_token)

    return sign_in


DEMO_NOW = datetime(2026, 11, 1, tzinfo=UTC)


class DemoBase(NamedTuple):
    """A demo network with its staff and ``customers`` customers, seeded from ``seed`` into ``path``."""

    path: Path
    seed: int
    customers: int


def seed_demo_base(path: Path, *, seed: int, customers: int) -> Database:
    """What every demo starts from: the dealer network, its staff, then the customers and their cars."""
    from drivetrain.demo import seed as demo

    db = open_database(f"sqlite:///{path}")
    migrate.upgrade(db)
    rng = random.Random(seed)
    stores = demo.seed_world(db, rng=rng)
    demo.seed_customers(db, stores, count=customers, rng=rng, now=DEMO_NOW)
    return db


@pytest.fixture(scope="session")
def demo_base(tmp_path_factory: pytest.TempPathFactory) -> DemoBase:
    """The demo's base, seeded once per session (seeding the network takes seconds); a test adding to it
    works on a copy (``copy_demo_base``). Modules using it share the xdist group "demo" so that one
    worker seeds it."""
    base = DemoBase(tmp_path_factory.mktemp("demo-base") / "base.db", seed=11, customers=800)
    seed_demo_base(base.path, seed=base.seed, customers=base.customers).dispose()
    return base


def copy_demo_base(base: DemoBase, path: Path) -> Database:
    """A database of its own holding the demo base, copied in milliseconds rather than seeded again."""
    with closing(sqlite3.connect(base.path)) as source, closing(sqlite3.connect(path)) as target:
        source.backup(target)
    return open_database(f"sqlite:///{path}")
