"""Query budgets: how many statements a request may run, pinned per domain in
``tests/<domain>/query_counts.json``, so an N+1 shows up as a failing number rather than a slow page.

Each pinned request is measured with one row of its kind and again with many (``FEW`` and ``MANY``):
the count must not grow with the rows, and must equal the pinned figure. ``UPDATE_QUERY_COUNTS=1``
rewrites the figures from what was measured (flatness is still required); review the diff like code.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.deps import SESSION_COOKIE
from drivetrain.db import Database
from tests.world import World

TESTS = Path(__file__).parent
FEW, MANY = 1, 25
UPDATING = os.environ.get("UPDATE_QUERY_COUNTS") == "1"


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The statements the pinned test connection runs inside the block (savepoints aside)."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    assert db.pinned is not None
    event.listen(db.pinned, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.pinned, "before_cursor_execute", record)


def signed_in(session: Session, world: World, username: str) -> tuple[TestClient, TestClient]:
    """An API client (a fresh token) and a console client (a session cookie) of ``username``. The token's
    subject is read once, so it is cached for the measured requests, as between real requests."""
    from drivetrain.app import create_app

    user = world.users[username]
    plain, _ = auth_service.create_token(session, world.subject("hq_admin"), user=user, name="budget")
    cookie, _ = auth_service.open_console_session(session, user)
    session.commit()
    app = create_app()
    api = TestClient(app, headers={"Authorization": f"Bearer {plain}"})
    console = TestClient(app)
    console.cookies.set(SESSION_COOKIE, cookie)
    api.get("/api/v1/me")
    return api, console


def budget_file(domain: str) -> Path:
    return TESTS / domain / "query_counts.json"


def pinned(domain: str) -> dict[str, int]:
    path = budget_file(domain)
    return json.loads(path.read_text()) if path.exists() else {}


def all_pinned() -> dict[str, int]:
    """Every domain's pins, by request name (``GET /api/v1/leads``; a variant adds words after it)."""
    budgets: dict[str, int] = {}
    for path in sorted(TESTS.glob("*/query_counts.json")):
        budgets.update(json.loads(path.read_text()))
    return budgets


def _rewrite(domain: str, name: str, count: int) -> None:
    """Under a lock: two xdist workers may update the same domain's file at once."""
    path = budget_file(domain)
    path.touch()
    with path.open("r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        text = handle.read()
        figures = json.loads(text) if text.strip() else {}
        figures[name] = count
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(dict(sorted(figures.items())), indent=2, ensure_ascii=False) + "\n")


def assert_within_budget(domain: str, name: str, counts: list[int]) -> None:
    """``counts`` measured with few rows, then many: flat, and equal to the pinned figure."""
    assert len(set(counts)) == 1, (
        f"{name}: {counts[0]} queries with {FEW} row(s), {counts[-1]} with {MANY} (N+1?)"
    )
    if UPDATING:
        _rewrite(domain, name, counts[0])
        return
    budget = pinned(domain).get(name)
    assert budget is not None, (
        f"{name} has no budget in {budget_file(domain)}: run with UPDATE_QUERY_COUNTS=1"
    )
    assert counts[0] == budget, (
        f"{name}: {counts[0]} queries, budget {budget} (UPDATE_QUERY_COUNTS=1 to re-pin)"
    )


def measure(
    db: Database, client: TestClient, path: str | Callable[[], str], grow: Callable[[range], None]
) -> list[int]:
    """Statements of one GET with ``FEW`` rows grown, then with ``MANY``. The first, unmeasured request
    fills the caches, as between real requests; ``path`` may be computed after the first growth."""
    counts = []
    for numbers in (range(FEW), range(FEW, MANY)):
        grow(numbers)
        url = path() if callable(path) else path
        client.get(url)
        with counted(db) as statements:
            answer = client.get(url)
        assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text[:300]}"
        counts.append(len(statements))
    return counts
