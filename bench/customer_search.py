"""Customer search over 1,000,000 demo customers, through the real server, on SQLite and PostgreSQL.

Measures p50/p95 of: search by phone, search by plate, and the first page of the filtered
customer list (by dealer, by city, and a store manager's own list). Bar: p95 under 50 ms each.

    .venv/bin/python bench/customer_search.py [--customers 1000000] [--backends sqlite,postgresql]

The seeded databases are kept (bench/var/ and a PostgreSQL schema) and reused by later runs.
Figures go to stdout and bench/results/customer_search.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from drivetrain import migrate
from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.models import Customer, Vehicle
from drivetrain.db import Database, open_database, unit_of_work
from drivetrain.demo import seed as demo
from drivetrain.org.models import Dealer

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "customer_search.json"
BAR_MS = 50.0
SEED = 2026


def _pg_url(base: str, schema: str) -> str:
    admin = open_database(base)
    with admin.writer.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    return make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def database_url(backend: str, customers: int) -> str:
    if backend == "sqlite":
        (HERE / "var").mkdir(exist_ok=True)
        return f"sqlite:///{HERE / 'var' / f'customers-{customers}.db'}"
    base = os.environ.get("DRIVETRAIN_BENCH_DATABASE_URL") or os.environ.get("DRIVETRAIN_TEST_DATABASE_URL")
    if not base:
        raise SystemExit("PostgreSQL: set DRIVETRAIN_BENCH_DATABASE_URL (or DRIVETRAIN_TEST_DATABASE_URL)")
    return _pg_url(base, f"bench_customers_{customers}")


def ensure_seeded(db: Database, customers: int) -> float | None:
    """Seed once; returns the seconds seeding took, or None when the data was already there."""
    migrate.upgrade(db)
    with db.session(write=False) as session:
        have = session.scalar(select(func.count()).select_from(Customer)) or 0
    if have >= customers:
        return None
    if have:
        raise SystemExit(f"{db.url}: holds {have} customers from an interrupted run; delete it and run again")
    started = time.perf_counter()
    rng = random.Random(SEED)
    stores = demo.seed_world(db, rng=rng)
    done = 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        if done % 100_000 < n:
            print(f"  seeded {done:,} customers in {time.perf_counter() - started:.0f} s", flush=True)

    demo.seed_customers(db, stores, count=customers, rng=rng, now=datetime.now(UTC), progress=report)
    if db.dialect == "postgresql":
        with db.writer.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with db.writer.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def samples(db: Database, count: int) -> dict[str, list[str]]:
    rng = random.Random(SEED + 1)
    with db.session(write=False) as session:
        total = session.scalar(select(func.count()).select_from(Vehicle)) or 1
        wanted = set(rng.sample(range(total), min(count, total)))
        # One streaming pass picks the sampled rows; OFFSET per sample would rescan the table each time.
        rows = session.execute(
            select(Vehicle.plate, Customer.primary_phone)
            .join(Customer, Customer.id == Vehicle.owner_id)
            .execution_options(yield_per=10_000)
        )
        vehicles = [row for index, row in enumerate(rows) if index in wanted]
        rng.shuffle(vehicles)
        dealers = list(session.scalars(select(Dealer.code)))
        cities = [c for c in session.scalars(select(Dealer.city).distinct()) if c]
        manager = session.scalar(
            select(User.username).where(User.role == "store_manager").order_by(User.username)
        )
    return {
        "plates": [v[0] for v in vehicles],
        "phones": [v[1] for v in vehicles],
        "dealers": [rng.choice(dealers) for _ in range(count)],
        "cities": [rng.choice(cities) for _ in range(count)],
        "manager": [manager or ""],
    }


def token_for(db: Database, username: str) -> str:
    with unit_of_work(db) as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        plain, _ = auth_service.create_token(session, SYSTEM, user=user, name="bench")
    return plain


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DRIVETRAIN_DATABASE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "drivetrain.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def measure(
    client: httpx.Client, params: Callable[[int], dict[str, str]], n: int, check: Callable[[Any], bool]
) -> dict[str, float]:
    timings = []
    for i in range(n + 20):
        started = time.perf_counter()
        answer = client.get("/api/v1/customers", params=params(i % n))
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200 or not check(answer.json()):
            raise SystemExit(f"unexpected answer {answer.status_code}: {answer.text[:200]}")
        if i >= 20:  # the first 20 warm caches
            timings.append(elapsed)
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "max_ms": round(timings[-1], 2),
        "requests": len(timings),
    }


def run_backend(backend: str, customers: int, requests: int) -> dict[str, Any]:
    url = database_url(backend, customers)
    db = open_database(url)
    seeded = ensure_seeded(db, customers)
    picked = samples(db, requests)
    ops_token = token_for(db, "ops_head")
    manager_token = token_for(db, picked["manager"][0])
    db.dispose()
    process, base = start_server(url)
    try:
        hq = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ops_token}"}, timeout=30)
        store = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {manager_token}"}, timeout=30)
        found = lambda page: len(page["items"]) >= 1  # noqa: E731
        listed = lambda page: "items" in page  # noqa: E731
        figures = {
            "search_by_phone": measure(hq, lambda i: {"phone": picked["phones"][i]}, requests, found),
            "search_by_plate": measure(hq, lambda i: {"plate": picked["plates"][i]}, requests, found),
            "list_filtered_by_dealer": measure(
                hq, lambda i: {"dealer_code": picked["dealers"][i]}, requests, listed
            ),
            "list_filtered_by_city": measure(hq, lambda i: {"city": picked["cities"][i]}, requests, listed),
            "list_store_manager_own_dealer": measure(store, lambda i: {}, requests, listed),
        }
    finally:
        process.terminate()
        process.wait(timeout=10)
    return {"customers": customers, "seed_seconds": round(seeded, 1) if seeded else None, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    # Runs of one backend keep the other backend's last figures in the results file.
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results: dict[str, Any] = {
        "benchmark": "customer_search",
        "bar_p95_ms": BAR_MS,
        "machine": f"{os.cpu_count()} cores",
        "backends": previous.get("backends", {}),
    }
    for backend in args.backends.split(","):
        print(f"{backend}: {args.customers:,} customers", flush=True)
        results["backends"][backend] = run_backend(backend, args.customers, args.requests)
        results["backends"][backend]["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        for name, figure in results["backends"][backend]["figures"].items():
            verdict = "ok" if figure["p95_ms"] < BAR_MS else "OVER BAR"
            print(f"  {name:32s} p50 {figure['p50_ms']:7.2f} ms   p95 {figure['p95_ms']:7.2f} ms   {verdict}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
